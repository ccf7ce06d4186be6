// Data-parallel training across processes and machines: a small communicator over MPI (host
// buffers: MPI_Allreduce) and NCCL (CUDA buffers: ncclAllReduce on the context's stream; one GPU
// per rank, chosen by the node-local rank).
//
// A plain `genrenet train` is a world of one: no MPI call is ever made, every collective is a
// no-op and nothing in the single-process path changes. MPI lives in a module,
// libgenrenet_mpi.so beside the executable (train/mpi/world.h), loaded with dlopen only when the
// environment says a launcher (mpirun, srun) started us; so genrenet runs where no MPI is
// installed. When the module or libmpi cannot be loaded, a launch with several ranks is refused
// with a clear error instead of silently training N unrelated models.
//
// Hangs: a collective that waits longer than `timeout_s` for its peers makes the module's
// watchdog print one clear line naming the collective and end the whole job.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/context.h"
#include "engine/tensor.h"

namespace gn {

// True when the environment names an MPI launch: OMPI_COMM_WORLD_SIZE (Open MPI's mpirun),
// PMI_SIZE (MPICH's Hydra, Slurm PMI) or PMIX_RANK (PMIx launchers). Reads only the environment.
bool launched_by_mpi();

// Where the MPI module is looked for: $GENRENET_MPI_MODULE when set, else libgenrenet_mpi.so in
// the executable's folder.
std::string mpi_module_path();

class MpiWorld;

class Communicator {
 public:
  // World of one unless launched_by_mpi(); then the MPI module is loaded, MPI_Init_thread and
  // the watchdog start. timeout_s <= 0 disables the watchdog.
  explicit Communicator(double timeout_s = 300);
  ~Communicator();  // MPI_Finalize (when MPI was initialised here)
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // rank among the ranks of this machine
  bool is_root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }
  double timeout_seconds() const { return timeout_s_; }

  // x (any shape, float32, on ctx's device) <- sum over ranks of x. In place. CPU tensors:
  // MPI_Allreduce; CUDA tensors: ncclAllReduce on ctx's stream (then synchronised, so the
  // watchdog also covers the GPU side).
  void allreduce_sum(Context& ctx, Tensor& x, const char* what);
  // x <- (sum over ranks of x) / size: averages equal-sized shards' mean gradients.
  void allreduce_mean(Context& ctx, Tensor& x, const char* what);
  // Host scalars, summed over ranks (metrics: loss sums, counts), in double.
  void allreduce_sum(double* values, int count, const char* what);
  // x <- rank `root`'s x.
  void broadcast(Context& ctx, Tensor& x, int root, const char* what);
  // Throws gn::Error on every rank when `value` differs between ranks, naming `what`, the value
  // on rank 0 and the smallest / largest seen. Use it for sizes, steps and checksums.
  void check_agreement(std::uint64_t value, const std::string& what);
  void barrier(const char* what);
  // Setup steps (decoding a data set, evaluating) may take longer than one collective should:
  // collectives inside this scope wait up to max(timeout, `seconds`).
  class LongWait {
   public:
    LongWait(Communicator& c, double seconds);
    ~LongWait();

   private:
    Communicator& c_;
    double saved_;
  };

  // Prints "genrenet: error on rank R of N: message" to stderr and ends the whole job
  // (MPI_Abort). A world of one just throws gn::Error(message).
  [[noreturn]] void abort(const std::string& message);

 private:
  struct Module;
  std::unique_ptr<Module> module_;  // null: a world of one
  MpiWorld* world_ = nullptr;       // module_'s world
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  double timeout_s_ = 300;
};

}  // namespace gn
