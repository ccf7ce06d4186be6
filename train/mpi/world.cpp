// The MPI module (libgenrenet_mpi.so, loaded by train/distributed.cpp): MPI for host buffers
// (MPI_Allreduce), NCCL for CUDA buffers (ncclAllReduce on the caller's stream, bootstrapped
// through MPI: rank 0 ncclGetUniqueId, MPI_Bcast, ncclCommInitRank; one GPU per rank).
//
// Hangs: a collective that waits longer than its timeout for its peers (a peer died without the
// launcher noticing, or hangs: stopped, stuck I/O, a deadlock) makes a watchdog thread print one
// clear line naming the collective and abort the whole job (MPI_Abort), so no rank waits
// forever. Open MPI's mpirun itself already tears the job down when a rank is killed.
#include "train/mpi/world.h"

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#if GENRENET_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#endif

namespace gn {
namespace {

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  throw std::runtime_error(s.str());
}

#define GN_CHECK_MPI(call)                                                                     \
  do {                                                                                         \
    const int gn_mpi_status_ = (call);                                                         \
    if (gn_mpi_status_ != MPI_SUCCESS) {                                                       \
      char gn_mpi_text_[MPI_MAX_ERROR_STRING];                                                 \
      int gn_mpi_len_ = 0;                                                                     \
      MPI_Error_string(gn_mpi_status_, gn_mpi_text_, &gn_mpi_len_);                            \
      fail(#call, " failed: ", std::string(gn_mpi_text_, gn_mpi_len_), " (", __FILE__, ":",   \
           __LINE__, ")");                                                                     \
    }                                                                                          \
  } while (0)

#if GENRENET_WITH_NCCL
#define GN_CHECK_NCCL(call)                                                                    \
  do {                                                                                         \
    const ncclResult_t gn_nccl_status_ = (call);                                               \
    if (gn_nccl_status_ != ncclSuccess)                                                        \
      fail(#call, " failed: ", ncclGetErrorString(gn_nccl_status_), " (", __FILE__, ":",      \
           __LINE__, ")");                                                                     \
  } while (0)
#define GN_CHECK_CUDA_RT(call)                                                                 \
  do {                                                                                         \
    const cudaError_t gn_cuda_status_ = (call);                                                \
    if (gn_cuda_status_ != cudaSuccess)                                                        \
      fail(#call, " failed: ", cudaGetErrorString(gn_cuda_status_), " (", __FILE__, ":",      \
           __LINE__, ")");                                                                     \
  } while (0)
#endif

class World final : public MpiWorld {
 public:
  using Clock = std::chrono::steady_clock;

  World() {
    int already = 0;
    GN_CHECK_MPI(MPI_Initialized(&already));
    int provided = MPI_THREAD_SINGLE;
    if (!already) {
      GN_CHECK_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
      initialised_here_ = true;
    } else {
      GN_CHECK_MPI(MPI_Query_thread(&provided));
    }
    thread_multiple_ = provided >= MPI_THREAD_MULTIPLE;
    // Errors come back to us as codes (then an exception, then abort() with the message)
    // instead of MPI's default "abort with an MPI-internal message".
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    GN_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    GN_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
    MPI_Comm local;
    GN_CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local));
    GN_CHECK_MPI(MPI_Comm_rank(local, &local_rank_));
    MPI_Comm_free(&local);
    thread_ = std::thread([this] { watch(); });
  }

  ~World() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
#if GENRENET_WITH_NCCL
    if (nccl_) ncclCommDestroy(nccl_);
#endif
    if (initialised_here_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  void allreduce_sum(float* data, std::int64_t n, int cuda_device, void* cuda_stream, const char* what,
                     double timeout_s) override {
    if (n > std::numeric_limits<int>::max()) fail("allreduce '", what, "': ", n, " elements exceed one MPI message");
    Guard guard(*this, what, timeout_s);
    if (cuda_device < 0) {
      GN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
      return;
    }
#if GENRENET_WITH_NCCL
    const auto stream = static_cast<cudaStream_t>(cuda_stream);
    GN_CHECK_NCCL(ncclAllReduce(data, data, static_cast<std::size_t>(n), ncclFloat, ncclSum, nccl_for(cuda_device),
                                stream));
    GN_CHECK_CUDA_RT(cudaStreamSynchronize(stream));  // inside the guard: a hung peer is caught
#else
    fail("allreduce '", what, "': a CUDA tensor, but this build has no NCCL (rebuild with CUDA and MPI found)");
#endif
  }

  void allreduce_sum(double* data, int n, const char* what, double timeout_s) override {
    Guard guard(*this, what, timeout_s);
    GN_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
  }

  void broadcast(float* data, std::int64_t n, int root, int cuda_device, void* cuda_stream, const char* what,
                 double timeout_s) override {
    if (n > std::numeric_limits<int>::max()) fail("broadcast '", what, "': ", n, " elements exceed one MPI message");
    Guard guard(*this, what, timeout_s);
    if (cuda_device < 0) {
      GN_CHECK_MPI(MPI_Bcast(data, static_cast<int>(n), MPI_FLOAT, root, MPI_COMM_WORLD));
      return;
    }
#if GENRENET_WITH_NCCL
    const auto stream = static_cast<cudaStream_t>(cuda_stream);
    GN_CHECK_NCCL(ncclBroadcast(data, data, static_cast<std::size_t>(n), ncclFloat, root, nccl_for(cuda_device),
                                stream));
    GN_CHECK_CUDA_RT(cudaStreamSynchronize(stream));
#else
    fail("broadcast '", what, "': a CUDA tensor, but this build has no NCCL (rebuild with CUDA and MPI found)");
#endif
  }

  void agreement(std::uint64_t value, std::uint64_t& smallest, std::uint64_t& largest, std::uint64_t& root,
                 const char* what, double timeout_s) override {
    // [value, ~value] reduced with MAX gives the largest value and (negated) the smallest.
    std::uint64_t v[2] = {value, ~value}, r[2] = {0, 0};
    root = value;
    Guard guard(*this, what, timeout_s);
    GN_CHECK_MPI(MPI_Allreduce(v, r, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
    GN_CHECK_MPI(MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));
    largest = r[0];
    smallest = ~r[1];
  }

  void barrier(const char* what, double timeout_s) override {
    Guard guard(*this, what, timeout_s);
    GN_CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));
  }

  [[noreturn]] void abort(const std::string& line) override {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

 private:
  [[noreturn]] void end_job() {
    std::fflush(stderr);
    if (thread_multiple_) MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);  // the launcher sees a rank exit without MPI_Finalize and ends the job
  }

  // The watchdog: sleeps until the deadline of the collective in flight (if any) and, should
  // that collective still be in flight then, ends the job with a clear line.
  void watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (!active_) {
        cv_.wait(lock);
        continue;
      }
      const std::uint64_t mine = op_;
      cv_.wait_until(lock, deadline_);
      if (!stop_ && active_ && op_ == mine && Clock::now() >= deadline_) {
        std::fprintf(stderr,
                     "genrenet: error on rank %d of %d: '%s' waited %.0f s for the other ranks (a rank died or "
                     "hangs); ending the job (--collective-timeout %.0f)\n",
                     rank_, size_, what_.c_str(), std::chrono::duration<double>(Clock::now() - start_).count(),
                     limit_s_);
        end_job();
      }
    }
  }

  // RAII: a collective in flight, watched (timeout_s <= 0: not watched).
  struct Guard {
    World& w;
    Guard(World& world, const char* what, double timeout_s) : w(world) {
      if (timeout_s <= 0) return;
      std::lock_guard<std::mutex> lock(w.mu_);
      w.active_ = true;
      ++w.op_;
      w.what_ = what;
      w.limit_s_ = timeout_s;
      w.start_ = Clock::now();
      w.deadline_ = w.start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
      w.cv_.notify_all();
    }
    ~Guard() {
      std::lock_guard<std::mutex> lock(w.mu_);
      w.active_ = false;
      w.cv_.notify_all();
    }
  };

#if GENRENET_WITH_NCCL
  // One NCCL communicator per process, on the device of the first CUDA collective.
  ncclComm_t nccl_for(int device) {
    if (nccl_) {
      if (nccl_device_ != device)
        fail("NCCL was set up on cuda:", nccl_device_, " but a collective ran on cuda:", device, "; one GPU per rank");
      return nccl_;
    }
    ncclUniqueId id;
    if (rank_ == 0) GN_CHECK_NCCL(ncclGetUniqueId(&id));
    GN_CHECK_MPI(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD));
    GN_CHECK_CUDA_RT(cudaSetDevice(device));
    GN_CHECK_NCCL(ncclCommInitRank(&nccl_, size_, id, rank_));
    nccl_device_ = device;
    return nccl_;
  }
  ncclComm_t nccl_ = nullptr;
  int nccl_device_ = -1;
#endif

  bool initialised_here_ = false;
  bool thread_multiple_ = false;  // MPI_Abort may be called from the watchdog thread
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, active_ = false;
  std::uint64_t op_ = 0;
  std::string what_;
  double limit_s_ = 0;
  Clock::time_point start_, deadline_;
  std::thread thread_;
};

}  // namespace
}  // namespace gn

extern "C" __attribute__((visibility("default"))) gn::MpiWorld* genrenet_mpi_world_open(std::string* error) {
  try {
    return new gn::World();
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return nullptr;
  }
}
