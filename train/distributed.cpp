#include "train/distributed.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "engine/error.h"
#include "engine/ops.h"
#include "train/mpi/world.h"

#if GENRENET_WITH_CUDA
#include "engine/cuda_context.h"
#endif

namespace gn {

bool launched_by_mpi() {
  // Open MPI's mpirun, MPICH's Hydra / Slurm's PMI-1/2, and PMIx launchers (srun --mpi=pmix).
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(var)) return true;
  return false;
}

std::string mpi_module_path() {
  if (const char* path = std::getenv("GENRENET_MPI_MODULE"); path && *path) return path;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ((ec ? std::filesystem::path(".") : exe.parent_path()) / kMpiModuleName).string();
}

namespace {

// The number of ranks the launcher announced (0: it did not say).
int announced_ranks() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* n = std::getenv(var)) return std::atoi(n);
  return 0;
}

// Runs a module call, turning its std::runtime_error into gn::Error.
template <class F>
auto checked(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    GN_FAIL(e.what());
  }
}

// Where a tensor's data lives, for the module: -1 and no stream on the host.
struct Where {
  int device = -1;
  void* stream = nullptr;
};
Where where(Context& ctx, const Tensor& x, const char* what) {
  GN_REQUIRE(x.device() == ctx.device(), "collective '", what, "': tensor on ", x.device().str(), ", context on ",
             ctx.device().str());
  Where w;
#if GENRENET_WITH_CUDA
  if (x.device().is_cuda()) {
    w.device = x.device().index;
    w.stream = stream_of(ctx);
  }
#endif
  return w;
}

}  // namespace

// The loaded module: dlclose after the world is gone (its destructor is module code).
struct Communicator::Module {
  void* handle = nullptr;
  std::unique_ptr<MpiWorld> world;
  ~Module() {
    world.reset();
    if (handle) dlclose(handle);
  }
};

Communicator::Communicator(double timeout_s) : timeout_s_(timeout_s) {
  if (!launched_by_mpi()) return;
  const int ranks = announced_ranks();
  const std::string path = mpi_module_path();
  // RTLD_GLOBAL: Open MPI loads its own plugins, which expect libmpi's symbols to be global.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (!handle) {
    const char* why = dlerror();
    if (ranks == 1) return;  // `mpirun -np 1`: a world of one needs no MPI
    if (!std::filesystem::exists(path))
      GN_FAIL("launched by mpirun with ", ranks > 0 ? std::to_string(ranks) : std::string("several"),
              " ranks, but this genrenet was built without MPI (", path,
              " is absent: install libopenmpi-dev and rebuild; CMake reports 'MPI ON'); each rank would train "
              "its own model");
    GN_FAIL("launched by mpirun with ", ranks > 0 ? std::to_string(ranks) : std::string("several"),
            " ranks, but the MPI module cannot be loaded: ", why ? why : path,
            " (is Open MPI installed? scripts/install-deps.sh installs it)");
  }
  module_ = std::make_unique<Module>();
  module_->handle = handle;
  auto open = reinterpret_cast<MpiWorldOpen>(dlsym(handle, kMpiWorldOpenSymbol));
  GN_REQUIRE(open, path, " is not a GenreNet MPI module (no ", kMpiWorldOpenSymbol, ")");
  std::string error;
  module_->world.reset(open(&error));
  GN_REQUIRE(module_->world, "MPI could not start: ", error);
  world_ = module_->world.get();
  rank_ = world_->rank();
  size_ = world_->size();
  local_rank_ = world_->local_rank();
}

Communicator::~Communicator() = default;

void Communicator::allreduce_sum(Context& ctx, Tensor& x, const char* what) {
  if (size_ == 1) return;
  const Where w = where(ctx, x, what);
  checked([&] { world_->allreduce_sum(x.data(), x.numel(), w.device, w.stream, what, timeout_s_); });
}

void Communicator::allreduce_mean(Context& ctx, Tensor& x, const char* what) {
  if (size_ == 1) return;
  allreduce_sum(ctx, x, what);
  ops::scale(ctx, x, x, 1.0f / static_cast<float>(size_));
}

void Communicator::allreduce_sum(double* values, int count, const char* what) {
  if (size_ == 1) return;
  checked([&] { world_->allreduce_sum(values, count, what, timeout_s_); });
}

void Communicator::broadcast(Context& ctx, Tensor& x, int root, const char* what) {
  if (size_ == 1) return;
  const Where w = where(ctx, x, what);
  checked([&] { world_->broadcast(x.data(), x.numel(), root, w.device, w.stream, what, timeout_s_); });
}

void Communicator::check_agreement(std::uint64_t value, const std::string& what) {
  if (size_ == 1) return;
  std::uint64_t smallest = 0, largest = 0, root = 0;
  checked([&] { world_->agreement(value, smallest, largest, root, what.c_str(), timeout_s_); });
  GN_REQUIRE(largest == smallest, "the ranks disagree on ", what, ": rank 0 has ", root, ", rank ", rank_, " has ",
             value, " (smallest ", smallest, ", largest ", largest, "); every rank must see the same data set, ",
             "settings and checkpoint");
}

void Communicator::barrier(const char* what) {
  if (size_ == 1) return;
  checked([&] { world_->barrier(what, timeout_s_); });
}

void Communicator::abort(const std::string& message) {
  if (size_ == 1) GN_FAIL(message);
  world_->abort("genrenet: error on rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " +
                message);
  std::_Exit(1);  // not reached: the module's abort ends the job
}

Communicator::LongWait::LongWait(Communicator& c, double seconds) : c_(c), saved_(c.timeout_s_) {
  if (c_.timeout_s_ > 0) c_.timeout_s_ = std::max(c_.timeout_s_, seconds);
}
Communicator::LongWait::~LongWait() { c_.timeout_s_ = saved_; }

}  // namespace gn
