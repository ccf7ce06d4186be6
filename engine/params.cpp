#include "engine/params.h"

#include "engine/error.h"

namespace gn {

void ParameterStore::declare(const std::string& name, const Shape& shape, Kind kind) {
  GN_REQUIRE(!allocated(), "ParameterStore: cannot declare '", name, "' after allocation");
  GN_REQUIRE(!contains(name), "ParameterStore: '", name, "' declared twice");
  // Each tensor starts on a 16-float (64-byte) boundary so vectorised loops over one tensor
  // stay aligned; the padding floats are zero and never read.
  std::int64_t& total = kind == Kind::Parameter ? num_params_ : num_buffers_;
  total = (total + 15) / 16 * 16;
  entries_.push_back({name, shape, kind, total});
  total += shape.numel();
}

void ParameterStore::allocate(Device device) {
  GN_REQUIRE(!allocated(), "ParameterStore: allocated twice");
  device_ = device;
  params_ = Tensor::zeros(Shape{num_params_}, device);
  grads_ = Tensor::zeros(Shape{num_params_}, device);
  buffers_ = Tensor::zeros(Shape{num_buffers_}, device);
}

const ParameterStore::Entry& ParameterStore::entry(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return e;
  GN_FAIL("ParameterStore: no tensor named '", name, "'");
}

bool ParameterStore::contains(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return true;
  return false;
}

Tensor ParameterStore::param(const std::string& name) const {
  const Entry& e = entry(name);
  GN_REQUIRE(e.kind == Kind::Parameter, "'", name, "' is a buffer, not a parameter");
  return params_.view(e.offset, e.shape);
}

Tensor ParameterStore::grad(const std::string& name) const {
  const Entry& e = entry(name);
  GN_REQUIRE(e.kind == Kind::Parameter, "'", name, "' is a buffer and has no gradient");
  return grads_.view(e.offset, e.shape);
}

Tensor ParameterStore::buffer(const std::string& name) const {
  const Entry& e = entry(name);
  GN_REQUIRE(e.kind == Kind::Buffer, "'", name, "' is a parameter, not a buffer");
  return buffers_.view(e.offset, e.shape);
}

void ParameterStore::to(Device device) {
  GN_REQUIRE(allocated(), "ParameterStore::to before allocate");
  if (device == device_) return;
  params_ = params_.to(device);
  grads_ = grads_.to(device);
  buffers_ = buffers_.to(device);
  device_ = device;
}

}  // namespace gn
