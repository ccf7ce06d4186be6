// Tensor: float32, rank 0..4, row-major, NHWC by convention (N, H, W, C), on the CPU or a CUDA
// device. A tensor either owns its storage (shared, reference-counted, RAII) or is a view:
// a window into another tensor's storage (keeps it alive) or into memory it does not own
// (external views, used for the flat parameter buffer's named slices and foreign buffers).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/memory.h"

namespace gn {

class Shape {
 public:
  static constexpr int kMaxRank = 4;
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(const std::vector<std::int64_t>& dims);

  int rank() const { return rank_; }
  std::int64_t operator[](int axis) const;  // negative axes count from the end
  std::int64_t numel() const;
  std::vector<std::int64_t> dims() const { return {dims_.begin(), dims_.begin() + rank_}; }
  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }
  std::string str() const;  // "(2, 128, 513, 1)"

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

class Tensor {
 public:
  Tensor() = default;  // empty: no storage, numel() == 0

  // Owning, uninitialised / zero-filled / copied from host values.
  static Tensor empty(const Shape& shape, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, Device device = Device::cpu());
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values,
                            Device device = Device::cpu());
  // Non-owning view of memory someone else owns and keeps alive longer than the view.
  static Tensor external(float* data, const Shape& shape, Device device);

  const Shape& shape() const { return shape_; }
  std::int64_t numel() const { return shape_.numel(); }
  std::int64_t dim(int axis) const { return shape_[axis]; }
  int rank() const { return shape_.rank(); }
  Device device() const { return device_; }
  bool defined() const { return data_ != nullptr; }
  bool is_view() const { return !owns_; }  // false only for the tensor that allocated

  float* data() { return data_; }
  const float* data() const { return data_; }

  // A window of `shape` starting `offset` elements in; shares (and keeps alive) the storage.
  Tensor view(std::int64_t offset, const Shape& shape) const;
  // The same data under another shape of equal numel (Keras Flatten / Reshape: row-major).
  Tensor reshape(const Shape& shape) const;
  // Rows [begin, end) of the leading axis.
  Tensor slice(std::int64_t begin, std::int64_t end) const;

  // A new owning tensor with the same values on `device`.
  Tensor to(Device device) const;
  Tensor clone() const { return to(device_); }
  // Copies `src` (same numel, any device) into this tensor's memory.
  void copy_from(const Tensor& src);
  // Host copy of the values (any device).
  std::vector<float> to_vector() const;

  // Host-side element access (CPU tensors only), for tests and small glue code.
  float& at(std::int64_t i);
  float at(std::int64_t i) const;

 private:
  std::shared_ptr<Storage> owner_;  // null for external views
  float* data_ = nullptr;
  Shape shape_;
  Device device_;
  bool owns_ = false;
};

// check_shape(layer, what, actual, expected): throws "<layer>: <what> has shape (..),
// expected (..)". Used by every layer so a shape mistake names the layer and both shapes.
void check_shape(const std::string& layer, const std::string& what, const Shape& actual,
                 const Shape& expected);

}  // namespace gn
