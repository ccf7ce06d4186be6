// Softmax / softmax + cross-entropy, CUDA twin: one warp per row (8 rows per 256-thread
// block); lanes stride over the classes and combine max and sums with warp shuffles. The
// per-row losses stay on the device and are summed by the deterministic two-stage reduction
// of kernels/launch_cuda.cuh; one double comes back to the host.
#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "kernels/elementwise.h"
#include "kernels/softmax.h"
#include "layers/softmax_xent.h"

namespace gn::cuda {
namespace {

constexpr int kWarp = 32, kBlock = 256, kRowsPerBlock = kBlock / kWarp;

__device__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// With xent: also dlogits and row_loss (N); otherwise those pointers are null.
__global__ void softmax_rows_kernel(index_t rows, index_t classes, const float* logits, float* probs,
                                    const float* onehot, float* dlogits, float* row_loss, float inv_n) {
  const index_t r = static_cast<index_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;  // whole warps leave together: r is uniform within a warp
  const float* x = logits + r * classes;
  float m = -INFINITY;
  for (index_t c = lane; c < classes; c += kWarp) m = fmaxf(m, x[c]);
  m = warp_max(m);
  float s = 0.0f;
  for (index_t c = lane; c < classes; c += kWarp) s += expf(x[c] - m);
  s = warp_sum(s);
  const float lse = m + logf(s);
  float loss = 0.0f;
  for (index_t c = lane; c < classes; c += kWarp) {
    const float p = fn::softmax_prob(x[c], m, s);
    probs[r * classes + c] = p;
    if (dlogits) {
      const float t = onehot[r * classes + c];
      dlogits[r * classes + c] = fn::xent_dlogit(p, t, inv_n);
      loss += fn::xent_term(t, x[c], lse);
    }
  }
  if (row_loss) {
    loss = warp_sum(loss);
    if (lane == 0) row_loss[r] = loss;
  }
}

unsigned blocks_for(index_t rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

void softmax(Context& ctx, Tensor& probs, const Tensor& logits) {
  const index_t n = logits.dim(0), c = logits.dim(1);
  softmax_rows_kernel<<<blocks_for(n), kBlock, 0, stream_of(ctx)>>>(n, c, logits.data(), probs.data(), nullptr,
                                                                     nullptr, nullptr, 0.0f);
  GN_CHECK_CUDA(cudaGetLastError());
}

double softmax_cross_entropy(Context& ctx, Tensor& probs, Tensor& dlogits, const Tensor& logits,
                             const Tensor& onehot) {
  const index_t n = logits.dim(0), c = logits.dim(1);
  // Workspace: kReduceBlocks partials + 1 total (doubles), then N row losses (floats).
  constexpr int kPartials = gn::cuda::kReduceBlocks;
  char* ws = static_cast<char*>(ctx.workspace((kPartials + 1) * sizeof(double) + n * sizeof(float)));
  double* partial = reinterpret_cast<double*>(ws);  // kPartials + 1: reduce_to_host's scratch
  float* row_loss = reinterpret_cast<float*>(partial + kPartials + 1);
  softmax_rows_kernel<<<blocks_for(n), kBlock, 0, stream_of(ctx)>>>(n, c, logits.data(), probs.data(), onehot.data(),
                                                                     dlogits.data(), row_loss,
                                                                     1.0f / static_cast<float>(n));
  GN_CHECK_CUDA(cudaGetLastError());
  return gn::cuda::reduce_to_host(stream_of(ctx), n, fn::SumOf{row_loss}, partial) / static_cast<double>(n);
}

}  // namespace gn::cuda
