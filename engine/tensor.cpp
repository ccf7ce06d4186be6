#include "engine/tensor.h"

#include <cstring>
#include <sstream>

#include "engine/error.h"

namespace gn {

Shape::Shape(std::initializer_list<std::int64_t> dims) : Shape(std::vector<std::int64_t>(dims)) {}

Shape::Shape(const std::vector<std::int64_t>& dims) {
  GN_REQUIRE(static_cast<int>(dims.size()) <= kMaxRank, "tensor rank ", dims.size(),
             " exceeds the maximum of ", kMaxRank);
  rank_ = static_cast<int>(dims.size());
  for (int i = 0; i < rank_; ++i) {
    GN_REQUIRE(dims[i] >= 0, "negative dimension ", dims[i], " in a tensor shape");
    dims_[i] = dims[i];
  }
}

std::int64_t Shape::operator[](int axis) const {
  const int a = axis < 0 ? axis + rank_ : axis;
  GN_REQUIRE(a >= 0 && a < rank_, "axis ", axis, " out of range for shape ", str());
  return dims_[a];
}

std::int64_t Shape::numel() const {
  if (rank_ == 0) return 1;
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != other.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << "(";
  for (int i = 0; i < rank_; ++i) os << (i ? ", " : "") << dims_[i];
  os << ")";
  return os.str();
}

Tensor Tensor::empty(const Shape& shape, Device device) {
  Tensor t;
  t.owner_ = std::make_shared<Storage>(static_cast<std::size_t>(shape.numel()) * sizeof(float), device);
  t.data_ = static_cast<float*>(t.owner_->data());
  t.shape_ = shape;
  t.device_ = device;
  t.owns_ = true;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, Device device) {
  Tensor t = empty(shape, device);
  if (device.is_cpu()) {
    std::memset(t.data_, 0, static_cast<std::size_t>(t.numel()) * sizeof(float));
  } else {
    const std::vector<float> z(static_cast<std::size_t>(t.numel()), 0.0f);
    copy_bytes(t.data_, device, z.data(), Device::cpu(), z.size() * sizeof(float));
  }
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, Device device) {
  GN_REQUIRE(static_cast<std::int64_t>(values.size()) == shape.numel(), "from_vector: ",
             values.size(), " values for shape ", shape.str());
  Tensor t = empty(shape, device);
  copy_bytes(t.data_, device, values.data(), Device::cpu(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::external(float* data, const Shape& shape, Device device) {
  Tensor t;
  t.data_ = data;
  t.shape_ = shape;
  t.device_ = device;
  return t;
}

Tensor Tensor::view(std::int64_t offset, const Shape& shape) const {
  GN_REQUIRE(offset >= 0 && offset + shape.numel() <= numel(), "view of ", shape.str(), " at offset ",
             offset, " does not fit in a tensor of shape ", shape_.str());
  Tensor t = *this;
  t.owns_ = false;
  t.data_ = data_ + offset;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  GN_REQUIRE(shape.numel() == numel(), "cannot reshape ", shape_.str(), " to ", shape.str());
  return view(0, shape);
}

Tensor Tensor::slice(std::int64_t begin, std::int64_t end) const {
  GN_REQUIRE(rank() >= 1 && 0 <= begin && begin <= end && end <= dim(0), "slice [", begin, ", ", end,
             ") out of range for shape ", shape_.str());
  std::vector<std::int64_t> dims = shape_.dims();
  const std::int64_t row = dims[0] ? numel() / dims[0] : 0;
  dims[0] = end - begin;
  return view(begin * row, Shape(dims));
}

Tensor Tensor::to(Device device) const {
  Tensor t = empty(shape_, device);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  GN_REQUIRE(src.numel() == numel(), "copy_from: source ", src.shape().str(), " and destination ",
             shape_.str(), " differ in size");
  copy_bytes(data_, device_, src.data_, src.device_, static_cast<std::size_t>(numel()) * sizeof(float));
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> v(static_cast<std::size_t>(numel()));
  copy_bytes(v.data(), Device::cpu(), data_, device_, v.size() * sizeof(float));
  return v;
}

float& Tensor::at(std::int64_t i) {
  GN_REQUIRE(device_.is_cpu(), "Tensor::at on a ", device_.str(), " tensor");
  GN_REQUIRE(i >= 0 && i < numel(), "index ", i, " out of range for shape ", shape_.str());
  return data_[i];
}

float Tensor::at(std::int64_t i) const { return const_cast<Tensor*>(this)->at(i); }

void check_shape(const std::string& layer, const std::string& what, const Shape& actual,
                 const Shape& expected) {
  GN_REQUIRE(actual == expected, layer, ": ", what, " has shape ", actual.str(), ", expected ",
             expected.str());
}

}  // namespace gn
