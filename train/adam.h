// Adam with Keras (TF 2.4) semantics over the flat parameter and gradient buffers of a
// ParameterStore (engine/params.h): one pass, one functor (kernels/adam.h), on whichever
// device the buffers live.
//
// Its state (first and second moments m, v: flat tensors laid out like the parameters, and
// the step count t) is public so a checkpoint can save it ("optimizer.m", "optimizer.v", the
// step in the metadata) and restore it for a bit-identical resume.
#pragma once

#include <cstdint>

#include "engine/context.h"
#include "engine/tensor.h"

namespace gn {

struct AdamOptions {
  float lr = 0.005f;  // the reference recipe's learning rate
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;  // Keras's default epsilon (epsilon-hat, added to sqrt(v))
};

class Adam {
 public:
  // Zero moments shaped like `params` (P) on its device, t = 0. Validates the options.
  Adam(const Tensor& params, AdamOptions options = {});

  // One update: t += 1, then every parameter moves by the bias-corrected step.
  // params, grads: (P) on ctx's device, the same P this optimiser was built for.
  void step(Context& ctx, Tensor& params, const Tensor& grads);

  // The step size used by the next step(): lr sqrt(1 - b2^(t+1)) / (1 - b1^(t+1)).
  float next_lr_t() const;

  const AdamOptions& options() const { return options_; }
  void set_lr(float lr);  // validated like the constructor's

  // State, for checkpoints. m, v: (P) on the optimiser's device.
  const Tensor& m() const { return m_; }
  const Tensor& v() const { return v_; }
  std::int64_t t() const { return t_; }
  // Replaces the state (m, v copied from any device; shapes must match (P)); t >= 0.
  void restore(const Tensor& m, const Tensor& v, std::int64_t t);
  // Moves m and v to `device` (the model moved).
  void to(Device device);

 private:
  AdamOptions options_;
  Tensor m_, v_;
  std::int64_t t_ = 0;
};

}  // namespace gn

#if GENRENET_WITH_CUDA
namespace gn::cuda {
// train/adam.cu: the same AdamUpdate functor, grid-stride on ctx's stream.
void adam_update(Context& ctx, Tensor& params, Tensor& m, Tensor& v, const Tensor& grads,
                 float lr_t, float one_minus_b1, float one_minus_b2, float epsilon);
}  // namespace gn::cuda
#endif
