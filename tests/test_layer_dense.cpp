// Dense: golden values from tf_keras, finite-difference gradients, shape errors, determinism.
#include <gtest/gtest.h>

#include "layers/dense.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace gn {
namespace {

class DenseTest : public test::DeviceTest {};
GN_INSTANTIATE_DEVICE_TEST(DenseTest);

// Each value is a float32 sum of at most 7 products of O(1) terms against a float64
// reference: a few ulps of the largest term, so 1e-6 normalised (~8 ulps) is tight.
constexpr double kTol = 1e-6;

TEST_P(DenseTest, MatchesKeras) {
  const Tensor x = test::golden("dense.x", device());
  Dense dense("head.dense", 7, 4);
  ParameterStore store;
  dense.declare(store);
  store.allocate(device());
  test::load_param(store, "head.dense.kernel", "dense.kernel");
  test::load_param(store, "head.dense.bias", "dense.bias");
  Tensor y = Tensor::empty(dense.output_shape(x.shape()), device()), dx = Tensor::empty(x.shape(), device());
  dense.forward(ctx(), store, y, x, test::kTrain);
  dense.backward(ctx(), store, &dx, test::golden("dense.r", device()), x, y, test::kTrain);
  test::expect_close(y, test::golden("dense.y", Device::cpu()), kTol, "forward");
  test::expect_close(dx, test::golden("dense.dx", Device::cpu()), kTol, "dx");
  test::expect_close(store.grad("head.dense.kernel"), test::golden("dense.dkernel", Device::cpu()), kTol, "dkernel");
  test::expect_close(store.grad("head.dense.bias"), test::golden("dense.dbias", Device::cpu()), kTol, "dbias");
  std::printf("    dense max abs error: y %.2e dx %.2e dkernel %.2e dbias %.2e\n",
              test::max_abs_diff(y, test::golden("dense.y", Device::cpu())),
              test::max_abs_diff(dx, test::golden("dense.dx", Device::cpu())),
              test::max_abs_diff(store.grad("head.dense.kernel"), test::golden("dense.dkernel", Device::cpu())),
              test::max_abs_diff(store.grad("head.dense.bias"), test::golden("dense.dbias", Device::cpu())));
}

TEST_P(DenseTest, GradientsMatchFiniteDifferences) {
  for (auto [n, in, out] : {std::tuple{3, 5, 4}, std::tuple{1, 7, 3}, std::tuple{6, 2, 9}}) {
    SCOPED_TRACE(n);
    Dense dense("d", in, out);
    test::LayerGradCheck check(ctx(), dense, {.input = Shape{n, in}, .seed = 3, .param_seed = 8});
    EXPECT_EQ(check.run(), 0);
  }
}

TEST_P(DenseTest, ShapeMistakesNameTheLayerAndBothShapes) {
  Dense dense("head.dense", 256, 10);
  ParameterStore store;
  dense.declare(store);
  store.allocate(device());
  Tensor x = Tensor::zeros(Shape{4, 255}, device()), y = Tensor::zeros(Shape{4, 10}, device());
  test::expect_error_mentions([&] { dense.forward(ctx(), store, y, x, test::kTrain); }, {"head.dense", "(4, 255)", "(4, 256)"});
  Tensor x4 = Tensor::zeros(Shape{4, 1, 4, 64}, device());
  test::expect_error_mentions([&] { dense.forward(ctx(), store, y, x4, test::kTrain); }, {"head.dense", "(4, 1, 4, 64)"});
  Tensor x_ok = Tensor::zeros(Shape{4, 256}, device()), y_bad = Tensor::zeros(Shape{3, 10}, device());
  test::expect_error_mentions([&] { dense.forward(ctx(), store, y_bad, x_ok, test::kTrain); }, {"head.dense", "(3, 10)", "(4, 10)"});
}

TEST_P(DenseTest, TwoRunsAreBitIdentical) {
  Dense dense("d", 256, 10);
  auto run = [&](Tensor* outs) {
    ParameterStore store;
    dense.declare(store);
    store.allocate(device());
    test::randomize_params(store, 3);
    const Tensor x = test::random_tensor(Shape{32, 256}, 4, device());
    Tensor y = Tensor::empty(Shape{32, 10}, device()), dx = Tensor::empty(x.shape(), device());
    dense.forward(ctx(), store, y, x, test::kTrain);
    dense.backward(ctx(), store, &dx, test::random_tensor(y.shape(), 6, device()), x, y, test::kTrain);
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
