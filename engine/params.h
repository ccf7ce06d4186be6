// ParameterStore: every trainable parameter in one contiguous buffer and every gradient in
// another of the same layout (llm.c style); the optimiser is one pass over the flat buffers, a
// checkpoint is one copy, an all-reduce is one call. Non-trainable state (BatchNorm moving
// statistics) lives in a separate flat `buffers` block with the same naming, so it is
// checkpointed but never touched by the optimiser.
//
// Each name is written once, in the declare() of the layer that owns the tensor. declare()
// returns a Handle (entry, offset, shape) that the layer keeps: every forward / backward turns
// it into a view in O(1), and the view follows the store to another device. Names are for
// I/O (checkpoints, the Keras importer), which iterate entries(). Each entry also records its
// initialiser, so a model is initialised from the store alone.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/tensor.h"

namespace gn {

// How a tensor starts (Keras's defaults for the layer that declares it; layers/init.h).
enum class Init {
  Zeros,
  Ones,
  GlorotUniform,   // kernels
  Orthogonal,      // recurrent kernels
  UnitForgetBias,  // LSTM bias (4U, gates i, f, c, o): zeros with the forget gate's slice at 1
};

class ParameterStore {
 public:
  enum class Kind { Parameter, Buffer };
  struct Entry {
    std::string name;
    Shape shape;
    Kind kind;
    std::int64_t offset;  // in floats, within params() or buffers()
    Init init;
  };
  // A declared tensor, bound once: views from it cost no name lookup.
  struct Handle {
    std::int64_t index = -1;  // entry number in this store
    std::int64_t offset = 0;  // in floats, within params() or buffers()
    Shape shape;
    Kind kind = Kind::Parameter;
  };

  // Phase 1: declare. Names must be unique ("cnn.conv1.kernel").
  Handle declare(const std::string& name, const Shape& shape, Kind kind = Kind::Parameter, Init init = Init::Zeros);
  // Phase 2: allocate the flat buffers on `device` (zero-filled). Declaring after this throws.
  void allocate(Device device);
  bool allocated() const { return params_.defined() || buffers_.defined(); }

  // Views of a declared tensor (valid while the store lives). A handle of another store, or
  // of the wrong kind, throws.
  Tensor param(const Handle& h) const;
  Tensor grad(const Handle& h) const;
  Tensor buffer(const Handle& h) const;
  // The same by name (I/O and tests; layers use handles).
  Tensor param(const std::string& name) const;
  Tensor grad(const std::string& name) const;
  Tensor buffer(const std::string& name) const;
  Handle handle(const std::string& name) const;

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
  const Entry& checked(const Handle& h, Kind kind, const char* what) const;

  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;  // name -> entry number
  std::int64_t num_params_ = 0, num_buffers_ = 0;
  Tensor params_, grads_, buffers_;
  Device device_;
};

}  // namespace gn
