#include "layers/scratch.h"

namespace gn {

Tensor scratch_view(Tensor& scratch, const Shape& shape, Device device) {
  const std::int64_t n = shape.numel();
  if (!scratch.defined() || scratch.device() != device || scratch.numel() < n)
    scratch = Tensor::empty(Shape{n > 0 ? n : 1}, device);
  return scratch.view(0, shape);
}

Tensor& ensure_tensor(Tensor& t, const Shape& shape, Device device) {
  if (!t.defined() || t.shape() != shape || t.device() != device) t = Tensor::empty(shape, device);
  return t;
}

}  // namespace gn
