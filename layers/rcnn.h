// The RCNN (docs/design.md, "The model"): a CNN branch and a BiLSTM branch over the same spectrogram, added,
// then Dense + softmax. An explicit model: forward runs the layers in order, backward runs
// them in reverse, writing every gradient into the flat gradient buffer. No autograd.
//
// Parameters: each layer declares its own (names "cnn.conv1.kernel", "cnn.bn1.moving_mean",
// "rnn.lstm1.fwd.recurrent_kernel", "head.dense.bias", ...; shapes and layouts are Keras's, so
// checkpoints read like the HDF5) in the order CNN blocks, BiLSTMs, head. That declaration is
// the one list of the model's tensors: declared_store() hands it to whatever needs it without
// a model (the Keras importer, checkpoint checks), and init() reads each tensor's initialiser
// from it.
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
  // What the constructor writes into the parameters: Keras's initialisation (init(0)), or
  // nothing but zeros for a model whose every tensor is about to be loaded from a checkpoint
  // (the orthogonal init's Gram-Schmidt alone is measurable in a predict's start-up).
  enum class Weights { KerasInit, ToBeLoaded };
  explicit RCNN(const ModelConfig& config, Device device = Device::cpu(), Weights weights = Weights::KerasInit);
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
  // biases, LSTM forget-gate bias 1, BN gamma 1 / beta 0 / moving mean 0 / moving var 1, as
  // each layer declared them (init::store). Deterministic and device-independent.
  void init(std::uint64_t seed);

  // The store a model of `config` declares (names, shapes, kinds, initialisers), unallocated.
  static ParameterStore declared_store(const ModelConfig& config);

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
