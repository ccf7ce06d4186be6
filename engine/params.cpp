#include "engine/params.h"

#include "engine/error.h"

namespace gn {

ParameterStore::Handle ParameterStore::declare(const std::string& name, const Shape& shape, Kind kind, Init init) {
  GN_REQUIRE(!allocated(), "ParameterStore: cannot declare '", name, "' after allocation");
  GN_REQUIRE(!contains(name), "ParameterStore: '", name, "' declared twice");
  // Each tensor starts on a 16-float (64-byte) boundary so vectorised loops over one tensor
  // stay aligned; the padding floats are zero and never read.
  std::int64_t& total = kind == Kind::Parameter ? num_params_ : num_buffers_;
  total = (total + 15) / 16 * 16;
  const auto index = static_cast<std::int64_t>(entries_.size());
  entries_.push_back({name, shape, kind, total, init});
  index_.emplace(name, entries_.size() - 1);
  total += shape.numel();
  return Handle{index, entries_.back().offset, shape, kind};
}

void ParameterStore::allocate(Device device) {
  GN_REQUIRE(!allocated(), "ParameterStore: allocated twice");
  device_ = device;
  params_ = Tensor::zeros(Shape{num_params_}, device);
  grads_ = Tensor::zeros(Shape{num_params_}, device);
  buffers_ = Tensor::zeros(Shape{num_buffers_}, device);
}

const ParameterStore::Entry& ParameterStore::entry(const std::string& name) const {
  const auto it = index_.find(name);
  GN_REQUIRE(it != index_.end(), "ParameterStore: no tensor named '", name, "'");
  return entries_[it->second];
}

bool ParameterStore::contains(const std::string& name) const { return index_.count(name) != 0; }

ParameterStore::Handle ParameterStore::handle(const std::string& name) const {
  const Entry& e = entry(name);
  return Handle{static_cast<std::int64_t>(index_.at(name)), e.offset, e.shape, e.kind};
}

// O(1): the handle must describe this store's entry (a handle bound to another store, e.g. a
// layer declared twice, is refused rather than read at a stale offset).
const ParameterStore::Entry& ParameterStore::checked(const Handle& h, Kind kind, const char* what) const {
  GN_REQUIRE(h.index >= 0 && h.index < static_cast<std::int64_t>(entries_.size()),
             "ParameterStore: a handle that was never declared in this store (", what, ")");
  const Entry& e = entries_[static_cast<std::size_t>(h.index)];
  GN_REQUIRE(e.offset == h.offset && e.shape == h.shape && e.kind == h.kind, "ParameterStore: the handle of '",
             e.name, "' belongs to another store (", what, ")");
  GN_REQUIRE(e.kind == kind, "'", e.name, "' is a ", e.kind == Kind::Buffer ? "buffer" : "parameter", ", not a ",
             kind == Kind::Buffer ? "buffer" : "parameter", " (", what, ")");
  return e;
}

Tensor ParameterStore::param(const Handle& h) const {
  const Entry& e = checked(h, Kind::Parameter, "param");
  return params_.view(e.offset, e.shape);
}

Tensor ParameterStore::grad(const Handle& h) const {
  const Entry& e = checked(h, Kind::Parameter, "grad: buffers have no gradient");
  return grads_.view(e.offset, e.shape);
}

Tensor ParameterStore::buffer(const Handle& h) const {
  const Entry& e = checked(h, Kind::Buffer, "buffer");
  return buffers_.view(e.offset, e.shape);
}

Tensor ParameterStore::param(const std::string& name) const { return param(handle(name)); }
Tensor ParameterStore::grad(const std::string& name) const { return grad(handle(name)); }
Tensor ParameterStore::buffer(const std::string& name) const { return buffer(handle(name)); }

void ParameterStore::to(Device device) {
  GN_REQUIRE(allocated(), "ParameterStore::to before allocate");
  if (device == device_) return;
  params_ = params_.to(device);
  grads_ = grads_.to(device);
  buffers_ = buffers_.to(device);
  device_ = device;
}

}  // namespace gn
