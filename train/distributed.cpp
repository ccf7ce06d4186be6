#include "train/distributed.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/ops.h"

#if GENRENET_WITH_MPI
#include <mpi.h>
#endif
#if GENRENET_WITH_NCCL
#include <nccl.h>

#include "engine/cuda_context.h"
#endif

namespace gn {

bool launched_by_mpi() {
  // Open MPI's mpirun, MPICH's Hydra / Slurm's PMI-1/2, and PMIx launchers (srun --mpi=pmix).
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(var)) return true;
  return false;
}

std::uint64_t checksum(const Tensor& x) {
  const std::vector<float> v = x.to_vector();
  std::uint64_t h = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0; i < v.size() * sizeof(float); ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return h;
}

#if GENRENET_WITH_MPI

namespace {

#define GN_CHECK_MPI(call)                                                                    \
  do {                                                                                        \
    const int gn_mpi_status_ = (call);                                                        \
    if (gn_mpi_status_ != MPI_SUCCESS) {                                                      \
      char gn_mpi_text_[MPI_MAX_ERROR_STRING];                                                \
      int gn_mpi_len_ = 0;                                                                    \
      MPI_Error_string(gn_mpi_status_, gn_mpi_text_, &gn_mpi_len_);                           \
      GN_FAIL(#call, " failed: ", std::string(gn_mpi_text_, gn_mpi_len_), " (", __FILE__, ":", \
              __LINE__, ")");                                                                 \
    }                                                                                         \
  } while (0)

#if GENRENET_WITH_NCCL
#define GN_CHECK_NCCL(call)                                                                   \
  do {                                                                                        \
    const ncclResult_t gn_nccl_status_ = (call);                                              \
    if (gn_nccl_status_ != ncclSuccess)                                                       \
      GN_FAIL(#call, " failed: ", ncclGetErrorString(gn_nccl_status_), " (", __FILE__, ":",  \
              __LINE__, ")");                                                                 \
  } while (0)
#endif

}  // namespace

// The watchdog: one thread that sleeps until the deadline of the collective in flight (if any)
// and, should that collective still be in flight then, ends the job with a clear line.
struct Communicator::Impl {
  using Clock = std::chrono::steady_clock;
  bool initialised_here = false;
  bool thread_multiple = false;  // MPI_Abort may be called from the watchdog thread
  int rank = 0, size = 1;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false, active = false;
  std::uint64_t op = 0;
  std::string what;
  double limit_s = 0;
  Clock::time_point start, deadline;
  std::thread thread;
#if GENRENET_WITH_NCCL
  ncclComm_t nccl = nullptr;
  int nccl_device = -1;
#endif

  [[noreturn]] void end_job() {
    std::fflush(stderr);
    if (thread_multiple) MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);  // the launcher sees a rank exit without MPI_Finalize and ends the job
  }

  void watch() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      if (!active) {
        cv.wait(lock);
        continue;
      }
      const std::uint64_t mine = op;
      cv.wait_until(lock, deadline);
      if (!stop && active && op == mine && Clock::now() >= deadline) {
        std::fprintf(stderr,
                     "genrenet: error on rank %d of %d: '%s' waited %.0f s for the other ranks (a rank died or "
                     "hangs); ending the job (--collective-timeout %.0f)\n",
                     rank, size, what.c_str(), std::chrono::duration<double>(Clock::now() - start).count(), limit_s);
        end_job();
      }
    }
  }

  // RAII: a collective in flight, watched.
  struct Guard {
    Impl& impl;
    Guard(Impl& i, const char* w, double seconds) : impl(i) {
      if (seconds <= 0) return;
      std::lock_guard<std::mutex> lock(impl.mu);
      impl.active = true;
      ++impl.op;
      impl.what = w;
      impl.limit_s = seconds;
      impl.start = Clock::now();
      impl.deadline = impl.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
      impl.cv.notify_all();
    }
    ~Guard() {
      std::lock_guard<std::mutex> lock(impl.mu);
      impl.active = false;
      impl.cv.notify_all();
    }
  };

#if GENRENET_WITH_NCCL
  // One NCCL communicator per process on the device of the first CUDA collective.
  ncclComm_t nccl_for(Context& ctx) {
    if (nccl) {
      GN_REQUIRE(nccl_device == ctx.device().index, "NCCL was set up on cuda:", nccl_device,
                 " but a collective ran on ", ctx.device().str(), "; one GPU per rank");
      return nccl;
    }
    ncclUniqueId id;
    if (rank == 0) GN_CHECK_NCCL(ncclGetUniqueId(&id));
    GN_CHECK_MPI(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD));
    GN_CHECK_CUDA(cudaSetDevice(ctx.device().index));
    GN_CHECK_NCCL(ncclCommInitRank(&nccl, size, id, rank));
    nccl_device = ctx.device().index;
    return nccl;
  }
#endif
};

Communicator::Communicator(double timeout_s) : timeout_s_(timeout_s) {
  if (!launched_by_mpi()) return;
  impl_ = std::make_unique<Impl>();
  int already = 0;
  GN_CHECK_MPI(MPI_Initialized(&already));
  int provided = MPI_THREAD_SINGLE;
  if (!already) {
    GN_CHECK_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    impl_->initialised_here = true;
  } else {
    GN_CHECK_MPI(MPI_Query_thread(&provided));
  }
  impl_->thread_multiple = provided >= MPI_THREAD_MULTIPLE;
  // Errors come back to us as codes (then a gn::Error, then abort() with the message) instead
  // of MPI's default "abort with an MPI-internal message".
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  GN_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  GN_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  MPI_Comm local;
  GN_CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local));
  GN_CHECK_MPI(MPI_Comm_rank(local, &local_rank_));
  GN_CHECK_MPI(MPI_Comm_size(local, &local_size_));
  MPI_Comm_free(&local);
  impl_->rank = rank_;
  impl_->size = size_;
  if (timeout_s_ > 0) impl_->thread = std::thread([this] { impl_->watch(); });
}

Communicator::~Communicator() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
    impl_->cv.notify_all();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
#if GENRENET_WITH_NCCL
  if (impl_->nccl) ncclCommDestroy(impl_->nccl);
#endif
  if (impl_->initialised_here) MPI_Finalize();
}

void Communicator::allreduce_sum(Context& ctx, Tensor& x, const char* what) {
  if (size_ == 1) return;
  GN_REQUIRE(x.device() == ctx.device(), "allreduce '", what, "': tensor on ", x.device().str(), ", context on ",
             ctx.device().str());
  GN_REQUIRE(x.numel() <= std::numeric_limits<int>::max(), "allreduce '", what, "': ", x.numel(),
             " elements exceed one MPI message");
  Impl::Guard guard(*impl_, what, timeout_s_);
  if (x.device().is_cpu()) {
    GN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, x.data(), static_cast<int>(x.numel()), MPI_FLOAT, MPI_SUM,
                               MPI_COMM_WORLD));
    return;
  }
#if GENRENET_WITH_NCCL
  ncclComm_t comm = impl_->nccl_for(ctx);
  GN_CHECK_NCCL(ncclAllReduce(x.data(), x.data(), static_cast<std::size_t>(x.numel()), ncclFloat, ncclSum, comm,
                              stream_of(ctx)));
  GN_CHECK_CUDA(cudaStreamSynchronize(stream_of(ctx)));  // inside the guard: a hung peer is caught
#else
  GN_FAIL("allreduce '", what, "': a CUDA tensor, but this build has no NCCL (rebuild with CUDA and MPI found)");
#endif
}

void Communicator::allreduce_mean(Context& ctx, Tensor& x, const char* what) {
  if (size_ == 1) return;
  allreduce_sum(ctx, x, what);
  ops::scale(ctx, x, x, 1.0f / static_cast<float>(size_));
}

void Communicator::allreduce_sum(double* values, int count, const char* what) {
  if (size_ == 1) return;
  Impl::Guard guard(*impl_, what, timeout_s_);
  GN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
}

void Communicator::broadcast(Context& ctx, Tensor& x, int root, const char* what) {
  if (size_ == 1) return;
  Impl::Guard guard(*impl_, what, timeout_s_);
  if (x.device().is_cpu()) {
    GN_CHECK_MPI(MPI_Bcast(x.data(), static_cast<int>(x.numel()), MPI_FLOAT, root, MPI_COMM_WORLD));
    return;
  }
#if GENRENET_WITH_NCCL
  ncclComm_t comm = impl_->nccl_for(ctx);
  GN_CHECK_NCCL(ncclBroadcast(x.data(), x.data(), static_cast<std::size_t>(x.numel()), ncclFloat, root, comm,
                              stream_of(ctx)));
  GN_CHECK_CUDA(cudaStreamSynchronize(stream_of(ctx)));
#else
  GN_FAIL("broadcast '", what, "': a CUDA tensor, but this build has no NCCL (rebuild with CUDA and MPI found)");
#endif
}

void Communicator::check_agreement(std::uint64_t value, const std::string& what) {
  if (size_ == 1) return;
  // [value, ~value] reduced with MAX gives the largest value and (negated) the smallest.
  std::uint64_t v[2] = {value, ~value}, r[2] = {0, 0}, root = value;
  {
    Impl::Guard guard(*impl_, what.c_str(), timeout_s_);
    GN_CHECK_MPI(MPI_Allreduce(v, r, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
    GN_CHECK_MPI(MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));
  }
  const std::uint64_t largest = r[0], smallest = ~r[1];
  GN_REQUIRE(largest == smallest, "the ranks disagree on ", what, ": rank 0 has ", root, ", rank ", rank_, " has ",
             value, " (smallest ", smallest, ", largest ", largest, "); every rank must see the same data set, ",
             "settings and checkpoint");
}

void Communicator::barrier(const char* what) {
  if (size_ == 1) return;
  Impl::Guard guard(*impl_, what, timeout_s_);
  GN_CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

void Communicator::abort(const std::string& message) {
  if (size_ == 1) GN_FAIL(message);
  std::fprintf(stderr, "genrenet: error on rank %d of %d: %s\n", rank_, size_, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

#else  // no MPI in this build: a world of one, and a launch by mpirun is refused.

struct Communicator::Impl {};

Communicator::Communicator(double timeout_s) : timeout_s_(timeout_s) {
  GN_REQUIRE(!launched_by_mpi() || [] {
    const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = std::getenv("PMI_SIZE");
    return n && std::atoi(n) == 1;
  }(), "launched by mpirun with several ranks, but this genrenet was built without MPI (install libopenmpi-dev "
       "and rebuild; CMake reports 'MPI ON'); each rank would train its own model");
}
Communicator::~Communicator() = default;
void Communicator::allreduce_sum(Context&, Tensor&, const char*) {}
void Communicator::allreduce_mean(Context&, Tensor&, const char*) {}
void Communicator::allreduce_sum(double*, int, const char*) {}
void Communicator::broadcast(Context&, Tensor&, int, const char*) {}
void Communicator::check_agreement(std::uint64_t, const std::string&) {}
void Communicator::barrier(const char*) {}
void Communicator::abort(const std::string& message) { GN_FAIL(message); }

#endif

Communicator::LongWait::LongWait(Communicator& c, double seconds) : c_(c), saved_(c.timeout_s_) {
  if (c_.timeout_s_ > 0) c_.timeout_s_ = std::max(c_.timeout_s_, seconds);
}
Communicator::LongWait::~LongWait() { c_.timeout_s_ = saved_; }

}  // namespace gn
