// BatchNorm: golden values from tf_keras (training forward, moving averages, inference forward,
// every gradient), finite-difference gradient checks, shape errors, determinism.
#include <gtest/gtest.h>

#include "layers/batchnorm.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace gn {
namespace {

class BatchNormTest : public test::DeviceTest {};
GN_INSTANTIATE_DEVICE_TEST(BatchNormTest);

// Tolerances (normalised by the largest reference magnitude). The reference is TF's float32
// (BN runs in float32 in the fixture on purpose, see make_layer_fixtures.py), so both sides
// carry float32 rounding: y and the moving statistics are a few ulps (1e-6 covers them; the
// biased/unbiased moving-variance difference here is 0.01 * var / (M - 1) ~ 1e-4, far above).
// The input gradient subtracts two per-channel means from dy and loses ~1-2 digits to that
// cancellation: 1e-5.
constexpr double kTolY = 1e-6, kTolMoving = 1e-6, kTolGrad = 1e-5;

TEST_P(BatchNormTest, MatchesKerasTrainingInferenceAndMovingAverages) {
  for (const char* name : {"bn_4d", "bn_2d"}) {
    SCOPED_TRACE(name);
    const std::string p = name;
    const Tensor x = test::golden(p + ".x", device());
    BatchNorm bn("bn", static_cast<int>(x.dim(-1)));
    ParameterStore store;
    bn.declare(store);
    store.allocate(device());
    test::load_param(store, "bn.gamma", p + ".gamma");
    test::load_param(store, "bn.beta", p + ".beta");
    test::load_buffer(store, "bn.moving_mean", p + ".moving_mean");
    test::load_buffer(store, "bn.moving_var", p + ".moving_var");
    Tensor y = Tensor::empty(x.shape(), device());

    bn.forward(ctx(), store, y, x, test::kInfer);
    test::expect_close(y, test::golden(p + ".y_infer", Device::cpu()), kTolY, p + " inference");
    const double e_infer = test::max_abs_diff(y, test::golden(p + ".y_infer", Device::cpu()));

    bn.forward(ctx(), store, y, x, test::kTrain);
    test::expect_close(y, test::golden(p + ".y", Device::cpu()), kTolY, p + " training forward");
    test::expect_close(store.buffer("bn.moving_mean"), test::golden(p + ".moving_mean_after", Device::cpu()),
                       kTolMoving, p + " moving_mean");
    test::expect_close(store.buffer("bn.moving_var"), test::golden(p + ".moving_var_after", Device::cpu()),
                       kTolMoving, p + " moving_var");
    Tensor dx = Tensor::empty(x.shape(), device());
    bn.backward(ctx(), store, &dx, test::golden(p + ".r", device()), x, y, test::kTrain);
    test::expect_close(dx, test::golden(p + ".dx", Device::cpu()), kTolGrad, p + " dx");
    test::expect_close(store.grad("bn.gamma"), test::golden(p + ".dgamma", Device::cpu()), kTolGrad, p + " dgamma");
    test::expect_close(store.grad("bn.beta"), test::golden(p + ".dbeta", Device::cpu()), kTolGrad, p + " dbeta");
    std::printf("    %-6s max abs error: y_infer %.2e y %.2e moving_mean %.2e moving_var %.2e dx %.2e dgamma %.2e "
                "dbeta %.2e\n",
                name, e_infer, test::max_abs_diff(y, test::golden(p + ".y", Device::cpu())),
                test::max_abs_diff(store.buffer("bn.moving_mean"), test::golden(p + ".moving_mean_after", Device::cpu())),
                test::max_abs_diff(store.buffer("bn.moving_var"), test::golden(p + ".moving_var_after", Device::cpu())),
                test::max_abs_diff(dx, test::golden(p + ".dx", Device::cpu())),
                test::max_abs_diff(store.grad("bn.gamma"), test::golden(p + ".dgamma", Device::cpu())),
                test::max_abs_diff(store.grad("bn.beta"), test::golden(p + ".dbeta", Device::cpu())));
  }
}

TEST_P(BatchNormTest, GradientsMatchFiniteDifferences) {
  for (const Shape& xs : {Shape{3, 2, 3, 4}, Shape{2, 3, 5, 3}, Shape{5, 3}, Shape{2, 7, 2}}) {
    SCOPED_TRACE(xs.str());
    BatchNorm bn("bn", static_cast<int>(xs[-1]));
    // gamma and beta in [0.5, 1.5]: a scale near zero would hide the input gradient.
    test::LayerGradCheck check(ctx(), bn,
                               {.input = xs, .input_lo = -2.0f, .input_hi = 2.0f, .param_lo = 0.5f, .param_hi = 1.5f});
    EXPECT_EQ(check.run(), 0);
  }
}

TEST_P(BatchNormTest, ShapeMistakesAndMisuseAreClearErrors) {
  BatchNorm bn("cnn.bn3", 64);
  ParameterStore store;
  bn.declare(store);
  store.allocate(device());
  Tensor x = Tensor::zeros(Shape{2, 4, 4, 32}, device());
  Tensor y = Tensor::zeros(Shape{2, 4, 4, 32}, device());
  test::expect_error_mentions([&] { bn.forward(ctx(), store, y, x, test::kTrain); },
                              {"cnn.bn3", "(2, 4, 4, 32)", "(2, 4, 4, 64)"});
  Tensor x64 = Tensor::zeros(Shape{2, 4, 4, 64}, device());
  Tensor y_bad = Tensor::zeros(Shape{2, 4, 5, 64}, device());
  test::expect_error_mentions([&] { bn.forward(ctx(), store, y_bad, x64, test::kInfer); },
                              {"cnn.bn3", "output", "(2, 4, 5, 64)", "(2, 4, 4, 64)"});
  test::expect_error_mentions([&] { bn.backward(ctx(), store, nullptr, x64, x64, x64, test::kTrain); }, {"cnn.bn3", "training"});
  Tensor one = Tensor::zeros(Shape{1, 64}, device());
  Tensor one_y = Tensor::zeros(Shape{1, 64}, device());
  test::expect_error_mentions([&] { bn.forward(ctx(), store, one_y, one, test::kTrain); }, {"cnn.bn3", "at least 2"});
}

TEST_P(BatchNormTest, TwoRunsAreBitIdentical) {
  BatchNorm bn("bn", 16);
  const Shape xs{8, 17, 33, 16};
  auto run = [&](Tensor* outs) {
    ParameterStore store;
    bn.declare(store);
    store.allocate(device());
    test::randomize_params(store, 3, 0.5f, 1.5f);
    const Tensor x = test::random_tensor(xs, 4, device());
    Tensor y = Tensor::empty(xs, device()), dx = Tensor::empty(xs, device());
    bn.forward(ctx(), store, y, x, test::kTrain);
    bn.backward(ctx(), store, &dx, test::random_tensor(xs, 6, device()), x, y, test::kTrain);
    outs[0] = y.to(Device::cpu());
    outs[1] = dx.to(Device::cpu());
    outs[2] = store.grads().to(Device::cpu());
    outs[3] = store.buffers().to(Device::cpu());
  };
  Tensor a[4], b[4];
  run(a);
  run(b);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(test::bit_identical(a[i], b[i])) << "output " << i;
}

}  // namespace
}  // namespace gn
