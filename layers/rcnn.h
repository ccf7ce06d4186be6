// The RCNN (docs/design.md, "The model"): a CNN branch and a BiLSTM branch over the same spectrogram, added,
// then Dense + softmax. An explicit model: forward runs the layers in order, backward runs
// them in reverse, writing every gradient into the flat gradient buffer. No autograd.
//
// Parameter names in the store (layouts are Keras's, so checkpoints read like the HDF5):
//   cnn.conv{i}.kernel (KH, KW, Cin, Cout)  cnn.conv{i}.bias (Cout)            i = 1..#blocks
//   cnn.bn{i}.gamma / .beta (C)             buffers cnn.bn{i}.moving_mean / .moving_var (C)
//   rnn.lstm{l}.{fwd,bwd}.kernel (In, 4U)  .recurrent_kernel (U, 4U)  .bias (4U)   l = 1..layers
//                                            gate order i, f, c, o (Keras)
//   head.dense.kernel (2U, classes)         head.dense.bias (classes)
#pragma once

#include <cstdint>
#include <memory>

#include "engine/context.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/layer.h"
#include "layers/model_config.h"

namespace gn {

class RCNN {
 public:
  explicit RCNN(const ModelConfig& config, Device device = Device::cpu());
  ~RCNN();
  RCNN(const RCNN&) = delete;
  RCNN& operator=(const RCNN&) = delete;

  const ModelConfig& config() const;
  ParameterStore& store();
  const ParameterStore& store() const;
  Device device() const;
  // Moves parameters, gradients and buffers to `device` (names and layout kept).
  void to(Device device);

  // Keras defaults from `seed`: glorot-uniform kernels, orthogonal recurrent kernels, zero
  // biases, LSTM forget-gate bias 1, BN gamma 1 / beta 0 / moving mean 0 / moving var 1.
  // Deterministic and device-independent (computed on the host, then copied).
  void init(std::uint64_t seed);

  // x: (N, T, F, 1) on the model's device. Returns logits (N, classes), valid until the next
  // forward. Train mode: dropout masks from Philox (rng.seed, rng.step), batch statistics and
  // moving-average updates; Infer mode: no dropout, moving statistics.
  const Tensor& forward(Context& ctx, const Tensor& x, Mode mode, RandomStep rng = {});
  // After forward(..., Mode::Train, ...): dlogits (N, classes). Overwrites every gradient.
  void backward(Context& ctx, const Tensor& dlogits);
  // Inference probabilities: softmax(forward(x, Infer)) as a new (N, classes) tensor.
  Tensor predict(Context& ctx, const Tensor& x);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gn
