// ParameterStore: every trainable parameter in one contiguous buffer and every gradient in
// another of the same layout (llm.c style). Layers hold named views into them; the optimiser
// is one pass over the flat buffers, a checkpoint is one copy, an all-reduce is one call.
// Non-trainable state (BatchNorm moving statistics) lives in a separate flat `buffers` block
// with the same naming, so it is checkpointed but never touched by the optimiser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gn {

class ParameterStore {
 public:
  enum class Kind { Parameter, Buffer };
  struct Entry {
    std::string name;
    Shape shape;
    Kind kind;
    std::int64_t offset;  // in floats, within params() or buffers()
  };

  // Phase 1: declare. Names must be unique ("cnn.conv1.kernel").
  void declare(const std::string& name, const Shape& shape, Kind kind = Kind::Parameter);
  // Phase 2: allocate the flat buffers on `device` (zero-filled). Declaring after this throws.
  void allocate(Device device);
  bool allocated() const { return params_.defined() || buffers_.defined(); }

  // Named views (valid while the store lives).
  Tensor param(const std::string& name) const;
  Tensor grad(const std::string& name) const;
  Tensor buffer(const std::string& name) const;

  Tensor& params() { return params_; }    // (P)  all parameters
  Tensor& grads() { return grads_; }      // (P)  all gradients, same layout
  Tensor& buffers() { return buffers_; }  // (B)  all non-trainable state
  const Tensor& params() const { return params_; }
  const Tensor& grads() const { return grads_; }
  const Tensor& buffers() const { return buffers_; }

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry& entry(const std::string& name) const;
  bool contains(const std::string& name) const;
  std::int64_t num_params() const { return num_params_; }
  std::int64_t num_buffers() const { return num_buffers_; }
  Device device() const { return device_; }

  // Moves (copies) everything to another device, keeping names and layout.
  void to(Device device);

 private:
  std::vector<Entry> entries_;
  std::int64_t num_params_ = 0, num_buffers_ = 0;
  Tensor params_, grads_, buffers_;
  Device device_;
};

}  // namespace gn
