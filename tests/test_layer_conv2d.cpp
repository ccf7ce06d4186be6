// Conv2D: golden values from tf_keras (forward and every gradient), finite-difference gradient
// checks over odd sizes, strides and asymmetric "same" padding, shape errors, determinism.
#include <gtest/gtest.h>

#include "layers/conv2d.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace gn {
namespace {

class Conv2DTest : public test::DeviceTest {};
GN_INSTANTIATE_DEVICE_TEST(Conv2DTest);

struct GoldenCase {
  const char* name;
  int filters, kh, kw, sh, sw;
  Padding padding;
  bool relu;
};
// The cases of tests/fixtures/make_layer_fixtures.py.
const GoldenCase kGolden[] = {
    {"conv_k3s2_relu", 4, 3, 3, 2, 2, Padding::Same, true},   // H: pads (0, 1)
    {"conv_k2s2_relu", 3, 2, 2, 2, 2, Padding::Same, true},   // the model's conv1: (0, 1) both axes
    {"conv_k4s1", 5, 4, 4, 1, 1, Padding::Same, false},       // pads (1, 2)
    {"conv_valid", 2, 3, 3, 2, 2, Padding::Valid, false},
    {"conv_rect", 3, 2, 3, 1, 2, Padding::Same, true},        // H (0, 1), W (1, 1)
};

Conv2D make(const GoldenCase& c, int in_channels) {
  Conv2D conv("conv", in_channels, c.filters, c.kh, c.sh, c.padding, c.relu);
  conv.kernel_w = c.kw;
  conv.stride_w = c.sw;
  return conv;
}

TEST(Conv2DPadding, MatchesTensorFlowSame) {
  // total = max((out - 1) * s + k - in, 0); TF puts floor(total / 2) before.
  Pad1D p = conv_padding("c", 513, 2, 2, Padding::Same);
  EXPECT_EQ(p.out, 257);
  EXPECT_EQ(p.before, 0);
  EXPECT_EQ(p.after, 1);
  p = conv_padding("c", 6, 4, 1, Padding::Same);
  EXPECT_EQ(p.out, 6);
  EXPECT_EQ(p.before, 1);
  EXPECT_EQ(p.after, 2);
  p = conv_padding("c", 128, 2, 2, Padding::Same);
  EXPECT_EQ(p.before + p.after, 0);
  p = conv_padding("c", 7, 3, 2, Padding::Valid);
  EXPECT_EQ(p.out, 3);
  test::expect_error_mentions([] { conv_padding("cnn.conv9", 2, 3, 1, Padding::Valid); }, {"cnn.conv9", "valid"});
}

// Tolerances, normalised by the largest reference magnitude: each output / gradient element
// is a float32 sum of at most ~100 products of O(1) terms (forward: KH*KW*Cin <= 80; kernel
// gradient: N*OH*OW <= 72; input gradient: <= 80), so its rounding error is below
// ~100 * 2^-24 ~ 6e-6 of the largest term in the worst case and ~sqrt(100) * 2^-24 ~ 6e-7
// typically. The reference is float64. 2e-6 sits between the two and fails for any real bug.
constexpr double kTol = 2e-6;

TEST_P(Conv2DTest, MatchesKerasForwardAndBackward) {
  for (const GoldenCase& c : kGolden) {
    SCOPED_TRACE(c.name);
    const std::string p = c.name;
    const Tensor x = test::golden(p + ".x", device());
    Conv2D conv = make(c, static_cast<int>(x.dim(3)));
    ParameterStore store;
    conv.declare(store);
    store.allocate(device());
    test::load_param(store, "conv.kernel", p + ".kernel");
    test::load_param(store, "conv.bias", p + ".bias");
    const Tensor y_ref = test::golden(p + ".y", Device::cpu());
    Tensor y = Tensor::empty(conv.output_shape(x.shape()), device());
    conv.forward(ctx(), store, y, x, test::kTrain);
    test::expect_close(y, y_ref, kTol, p + " forward");
    Tensor dx = Tensor::empty(x.shape(), device());
    conv.backward(ctx(), store, &dx, test::golden(p + ".r", device()), x, y, test::kTrain);
    test::expect_close(dx, test::golden(p + ".dx", Device::cpu()), kTol, p + " dx");
    test::expect_close(store.grad("conv.kernel"), test::golden(p + ".dkernel", Device::cpu()), kTol, p + " dkernel");
    test::expect_close(store.grad("conv.bias"), test::golden(p + ".dbias", Device::cpu()), kTol, p + " dbias");
    std::printf("    %-16s max abs error: y %.2e dx %.2e dkernel %.2e dbias %.2e\n", c.name,
                test::max_abs_diff(y, y_ref), test::max_abs_diff(dx, test::golden(p + ".dx", Device::cpu())),
                test::max_abs_diff(store.grad("conv.kernel"), test::golden(p + ".dkernel", Device::cpu())),
                test::max_abs_diff(store.grad("conv.bias"), test::golden(p + ".dbias", Device::cpu())));
  }
}

struct CheckCase {
  Shape x;
  int filters, kh, kw, sh, sw;
  Padding padding;
  bool relu;
};

TEST_P(Conv2DTest, GradientsMatchFiniteDifferences) {
  const CheckCase cases[] = {
      {Shape{2, 5, 7, 3}, 4, 3, 3, 2, 2, Padding::Same, true},   // odd sizes, stride 2, pads (1,1)/(1,1)
      {Shape{2, 6, 5, 2}, 3, 3, 3, 2, 2, Padding::Same, false},  // H pads (0, 1): asymmetric
      {Shape{1, 6, 5, 2}, 3, 4, 4, 1, 1, Padding::Same, false},  // pads (1, 2)
      {Shape{2, 9, 7, 1}, 2, 2, 2, 2, 2, Padding::Same, true},   // conv1-like, pads (0, 1)
      {Shape{2, 7, 7, 2}, 2, 2, 2, 2, 2, Padding::Valid, false},
      {Shape{2, 5, 8, 3}, 2, 3, 2, 2, 1, Padding::Same, false},  // rectangular kernel and stride
  };
  for (const CheckCase& c : cases) {
    SCOPED_TRACE(c.x.str());
    Conv2D conv("conv", static_cast<int>(c.x[3]), c.filters, c.kh, c.sh, c.padding, c.relu);
    conv.kernel_w = c.kw;
    conv.stride_w = c.sw;
    test::LayerGradCheck check(ctx(), conv, {.input = c.x});
    EXPECT_EQ(check.run(), 0);
  }
}

TEST_P(Conv2DTest, ShapeMistakesNameTheLayerAndBothShapes) {
  Conv2D conv("cnn.conv2", 16, 32, 3, 2);
  ParameterStore store;
  conv.declare(store);
  store.allocate(device());
  Tensor x = Tensor::zeros(Shape{2, 8, 8, 15}, device());  // 15 channels, 16 expected
  Tensor y = Tensor::zeros(Shape{2, 4, 4, 32}, device());
  test::expect_error_mentions([&] { conv.forward(ctx(), store, y, x, test::kTrain); },
                              {"cnn.conv2", "(2, 8, 8, 15)", "(2, 8, 8, 16)"});
  Tensor x3 = Tensor::zeros(Shape{2, 8, 16}, device());  // rank 3
  test::expect_error_mentions([&] { conv.forward(ctx(), store, y, x3, test::kTrain); }, {"cnn.conv2", "(2, 8, 16)", "rank 4"});
  Tensor x_ok = Tensor::zeros(Shape{2, 8, 8, 16}, device());
  Tensor y_bad = Tensor::zeros(Shape{2, 8, 8, 32}, device());
  test::expect_error_mentions([&] { conv.forward(ctx(), store, y_bad, x_ok, test::kTrain); },
                              {"cnn.conv2", "output", "(2, 8, 8, 32)", "(2, 4, 4, 32)"});
  Tensor dy_bad = Tensor::zeros(Shape{2, 4, 5, 32}, device());
  test::expect_error_mentions([&] { conv.backward(ctx(), store, nullptr, dy_bad, x_ok, y, test::kTrain); },
                              {"cnn.conv2", "(2, 4, 5, 32)", "(2, 4, 4, 32)"});
}

TEST_P(Conv2DTest, TwoRunsAreBitIdentical) {
  Conv2D conv("conv", 3, 8, 3, 2, Padding::Same, true);
  const Shape xs{4, 33, 65, 3};
  auto run = [&](Tensor* outs) {
    ParameterStore store;
    conv.declare(store);
    store.allocate(device());
    test::randomize_params(store, 3);
    const Tensor x = test::random_tensor(xs, 4, device());
    Tensor y = Tensor::empty(conv.output_shape(xs), device());
    Tensor dx = Tensor::empty(xs, device());
    conv.forward(ctx(), store, y, x, test::kTrain);
    conv.backward(ctx(), store, &dx, test::random_tensor(y.shape(), 6, device()), x, y, test::kTrain);
    outs[0] = y.to(Device::cpu());
    outs[1] = dx.to(Device::cpu());
    outs[2] = store.grads().to(Device::cpu());
  };
  Tensor a[3], b[3];
  run(a);
  run(b);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(test::bit_identical(a[i], b[i])) << "output " << i;
}

}  // namespace
}  // namespace gn
