// Dropout, CUDA twin: the same functor as the CPU, so the masks are bit-identical.
#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "kernels/dropout.h"
#include "layers/dropout.h"

namespace gn::cuda {

void dropout_apply(const Dropout& layer, Context& ctx, Tensor& out, const Tensor& in, RandomStep rng) {
  gn::cuda::for_each(stream_of(ctx), out.numel(),
                     fn::DropoutApply{out.data(), in.data(), layer.rate, 1.0f / (1.0f - layer.rate), rng.seed,
                                      rng.step, layer.stream});
}

}  // namespace gn::cuda
