// The gradient checker itself must be able to fail: a correct gradient passes, a wrong one
// is caught.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "tests/gradcheck.h"

namespace gn {
namespace {

// f(x) = x * x elementwise (as axpby-free host code on CPU tensors).
struct Square {
  Tensor x = test::random_tensor(Shape{20}, 3);
  Tensor y = Tensor::zeros(Shape{20});
  Tensor dx = Tensor::zeros(Shape{20});
  float grad_factor = 2.0f;
  Tensor forward() {
    for (int i = 0; i < 20; ++i) y.at(i) = x.at(i) * x.at(i);
    return y;
  }
  void backward(const Tensor& dy) {
    for (int i = 0; i < 20; ++i) dx.at(i) = grad_factor * x.at(i) * dy.at(i);
  }
};

int check(Square& s, bool report) {
  Context ctx(Device::cpu());
  test::GradCheck g(ctx);
  g.report = report;
  g.forward = [&] { return s.forward(); };
  g.backward = [&](const Tensor& dy) { s.backward(dy); };
  g.wrt("x", s.x, s.dx);
  return g.run();
}

TEST(GradCheck, AcceptsACorrectGradient) {
  Square s;
  EXPECT_EQ(check(s, true), 0);
}

TEST(GradCheck, CatchesAWrongGradient) {
  Square s;
  s.grad_factor = 2.1f;  // 5% off
  EXPECT_GE(check(s, false), 15);  // nearly all of the 20 elements are caught
}

}  // namespace
}  // namespace gn
