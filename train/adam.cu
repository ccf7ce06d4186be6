// CUDA twin of train/adam.cpp: the AdamUpdate functor (kernels/adam.h), grid-stride.
#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "kernels/adam.h"
#include "train/adam.h"

namespace gn::cuda {

void adam_update(Context& ctx, Tensor& params, Tensor& m, Tensor& v, const Tensor& grads, float lr_t,
                 float one_minus_b1, float one_minus_b2, float epsilon) {
  gn::cuda::for_each(stream_of(ctx), params.numel(),
                     fn::AdamUpdate{params.data(), m.data(), v.data(), grads.data(), lr_t, one_minus_b1,
                                    one_minus_b2, epsilon});
}

}  // namespace gn::cuda
