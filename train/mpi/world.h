// The interface between the trainer's Communicator (train/distributed.h) and the MPI module,
// libgenrenet_mpi.so: the only code that calls MPI (and NCCL). The module is loaded with dlopen
// only when a launcher (mpirun, srun) starts genrenet, so the genrenet binary itself does not
// link libmpi and runs on machines without MPI installed (docs/design.md, "Libraries").
//
// The interface speaks raw buffers, never engine types: the module links no GenreNet library
// (one copy of the engine's globals, the allocator's included, lives in the executable).
// Errors come back as std::runtime_error carrying one clear message.
#pragma once

#include <cstdint>
#include <string>

namespace gn {

class MpiWorld {
 public:
  virtual ~MpiWorld() = default;  // stops the watchdog, frees NCCL, MPI_Finalize (when initialised here)

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // rank among the ranks of this machine

  // Each collective is watched: one that waits longer than `timeout_s` (> 0) for its peers
  // prints one line naming `what` and ends the whole job.
  //
  // data (n floats) <- sum over ranks, in place. Host buffers: MPI_Allreduce. Device buffers
  // (cuda_device >= 0): ncclAllReduce on `cuda_stream` (a cudaStream_t), then synchronised.
  virtual void allreduce_sum(float* data, std::int64_t n, int cuda_device, void* cuda_stream, const char* what,
                             double timeout_s) = 0;
  virtual void allreduce_sum(double* data, int n, const char* what, double timeout_s) = 0;
  // data <- rank `root`'s data (host or device as above).
  virtual void broadcast(float* data, std::int64_t n, int root, int cuda_device, void* cuda_stream,
                         const char* what, double timeout_s) = 0;
  // The largest and smallest `value` over the ranks, and rank 0's.
  virtual void agreement(std::uint64_t value, std::uint64_t& smallest, std::uint64_t& largest, std::uint64_t& root,
                         const char* what, double timeout_s) = 0;
  virtual void barrier(const char* what, double timeout_s) = 0;
  // Prints `line` to stderr and ends the whole job (MPI_Abort).
  [[noreturn]] virtual void abort(const std::string& line) = 0;
};

// The module's one exported symbol: MPI_Init_thread and the watchdog. Returns nullptr with
// `error` set when MPI cannot start.
using MpiWorldOpen = MpiWorld* (*)(std::string* error);
inline constexpr const char* kMpiWorldOpenSymbol = "genrenet_mpi_world_open";
inline constexpr const char* kMpiModuleName = "libgenrenet_mpi.so";

}  // namespace gn
