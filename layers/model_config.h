// ModelConfig: everything that fixes the RCNN's shapes (docs/design.md, "The model: Keras
// reproduce"). The Keras importer, the trainer and checkpoints all build the model from one
// of these, so an imported model and a trained one are the same program.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gn {

// One CNN block: Conv(filters, kernel x kernel, stride, TF "same") + ReLU -> BatchNorm ->
// [MaxPool 2x2] -> [Dropout(dropout)].
struct ConvBlock {
  int filters = 16;
  int kernel = 2;
  int stride = 2;
  bool pool = true;
  float dropout = 0.0f;  // 0 = no dropout layer
  bool operator==(const ConvBlock&) const = default;
};

struct ModelConfig {
  std::int64_t time_frames = 128;  // input H (spectrogram frames)
  std::int64_t freq_bins = 513;    // input W (frequency bins); input is (N, H, W, 1)
  std::vector<ConvBlock> conv = {
      {16, 2, 2, true, 0.2f}, {32, 3, 2, true, 0.0f}, {64, 3, 2, true, 0.2f},
      {128, 4, 1, true, 0.0f}, {64, 4, 1, false, 0.0f}};
  float cnn_dropout = 0.2f;  // after Flatten
  int rnn_freq_pools = 2;    // MaxPool (1, 2) applied this many times before the BiLSTM
  int lstm_units = 128;      // per direction; directions are concatenated (2 x units)
  int lstm_layers = 2;       // all but the last return sequences; the last returns its final state
  float rnn_dropout = 0.5f;  // after the last BiLSTM
  int classes = 10;
  float bn_momentum = 0.99f;
  float bn_epsilon = 1e-3f;

  bool operator==(const ModelConfig&) const = default;

  // Shapes derived from the config. Throws gn::Error when the config is inconsistent (a
  // spatial size reaching 0, the CNN's flattened size differing from 2 x lstm_units, ...).
  void validate() const;
  Shape input_shape(std::int64_t batch) const { return Shape{batch, time_frames, freq_bins, 1}; }
  std::int64_t cnn_flat_size() const;   // H x W x C after the last block
  std::int64_t rnn_input_size() const;  // freq_bins after rnn_freq_pools halvings

  nlohmann::json to_json() const;
  static ModelConfig from_json(const nlohmann::json& j);  // validates; clear errors
  // A small config for whole-model gradient checks and fast tests: input (N, 16, 36, 1).
  static ModelConfig tiny();
};

}  // namespace gn
