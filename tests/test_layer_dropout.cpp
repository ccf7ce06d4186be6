// Dropout: Keras's inverted-dropout semantics (rate, 1 / (1 - rate) scaling, identity at
// inference), masks keyed by (seed, step, stream), backward reusing the forward's mask, the
// same mask on CPU and CUDA, gradients, errors. No tf_keras golden: TF's random stream is not
// the engine's Philox, so masks cannot match (see make_layer_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/dropout.h"
#include "layers/dropout.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace gn {
namespace {

class DropoutTest : public test::DeviceTest {};
GN_INSTANTIATE_DEVICE_TEST(DropoutTest);

TEST_P(DropoutTest, KeepsOneMinusRateAndScalesByItsInverse) {
  const std::int64_t n = 200000;
  for (float rate : {0.2f, 0.5f}) {
    Dropout drop("cnn.dropout1", rate, 3);
    const Tensor x = test::random_tensor(Shape{n}, 1, device(), 0.5f, 1.5f);  // never 0
    Tensor y = Tensor::empty(x.shape(), device());
    drop.forward(ctx(), test::no_params(), y, x, {Mode::Train, RandomStep{42, 7}});
    const auto vx = x.to_vector(), vy = y.to_vector();
    std::int64_t kept = 0, wrong = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (vy[i] == 0.0f) continue;
      ++kept;
      if (vy[i] != vx[i] * (1.0f / (1.0f - rate))) ++wrong;  // the exact float the functor computes
    }
    EXPECT_EQ(wrong, 0);
    // Binomial(n, 1 - rate): standard deviation sqrt(n r (1 - r)) <= 224; 5 sigma is 1120.
    EXPECT_NEAR(static_cast<double>(kept), n * (1.0 - rate), 5 * std::sqrt(n * rate * (1.0 - rate))) << rate;
  }
}

TEST_P(DropoutTest, InferenceAndRateZeroAreTheIdentity) {
  const Tensor x = test::random_tensor(Shape{4, 1000}, 2, device());
  Tensor y = Tensor::empty(x.shape(), device());
  Dropout("d", 0.5f, 1).forward(ctx(), test::no_params(), y, x, {Mode::Infer, RandomStep{1, 1}});
  EXPECT_TRUE(test::bit_identical(y, x));
  Dropout("d", 0.0f, 1).forward(ctx(), test::no_params(), y, x, {Mode::Train, RandomStep{1, 1}});
  EXPECT_TRUE(test::bit_identical(y, x));
}

TEST_P(DropoutTest, MaskDependsOnSeedStepAndStreamOnly) {
  const Tensor x = test::random_tensor(Shape{10000}, 3, device(), 0.5f, 1.5f);
  auto mask = [&](std::uint64_t seed, std::uint64_t step, std::uint32_t stream) {
    Tensor y = Tensor::empty(x.shape(), device());
    Dropout("d", 0.3f, stream).forward(ctx(), test::no_params(), y, x, {Mode::Train, RandomStep{seed, step}});
    return y.to(Device::cpu());
  };
  const Tensor base = mask(5, 9, 2);
  EXPECT_TRUE(test::bit_identical(base, mask(5, 9, 2)));
  EXPECT_FALSE(test::bit_identical(base, mask(6, 9, 2)));
  EXPECT_FALSE(test::bit_identical(base, mask(5, 10, 2)));
  EXPECT_FALSE(test::bit_identical(base, mask(5, 9, 3)));
}

TEST_P(DropoutTest, BackwardAppliesTheForwardMask) {
  Dropout drop("d", 0.25f, 4);
  const RandomStep rng{11, 3};
  const Tensor x = test::random_tensor(Shape{3, 5, 7, 2}, 4, device(), 0.5f, 1.5f);
  const Tensor dy = test::random_tensor(x.shape(), 5, device());
  Tensor y = Tensor::empty(x.shape(), device()), dx = Tensor::empty(x.shape(), device());
  drop.forward(ctx(), test::no_params(), y, x, {Mode::Train, rng});
  drop.backward(ctx(), test::no_params(), &dx, dy, x, y, {Mode::Train, rng});
  const auto vy = y.to_vector(), vdx = dx.to_vector(), vdy = dy.to_vector();
  for (std::size_t i = 0; i < vy.size(); ++i)
    ASSERT_EQ(vdx[i], vy[i] == 0.0f ? 0.0f : vdy[i] * (1.0f / 0.75f)) << i;
  // And the finite-difference check (dropout is linear in x for a fixed mask).
  test::LayerGradCheck check(ctx(), drop, {.input = x.shape(), .pass = {Mode::Train, rng}});
  EXPECT_EQ(check.run(), 0);
}

TEST_P(DropoutTest, CudaMaskIsBitIdenticalToTheCpuMask) {
  if (device().is_cpu()) GTEST_SKIP() << "compares a CUDA run with the CPU reference";
  Context cpu;
  Dropout drop("d", 0.2f, 9);
  const Tensor x_cpu = test::random_tensor(Shape{2, 64, 128, 16}, 6);
  Tensor y_cpu = Tensor::empty(x_cpu.shape());
  drop.forward(cpu, test::no_params(), y_cpu, x_cpu, {Mode::Train, RandomStep{123, 456}});
  const Tensor x = x_cpu.to(device());
  Tensor y = Tensor::empty(x.shape(), device());
  drop.forward(ctx(), test::no_params(), y, x, {Mode::Train, RandomStep{123, 456}});
  EXPECT_TRUE(test::bit_identical(y, y_cpu));
}

TEST_P(DropoutTest, BadRateAndShapesAreClearErrors) {
  const Tensor x = Tensor::zeros(Shape{4, 8}, device());
  Tensor y = Tensor::zeros(Shape{4, 8}, device()), y_bad = Tensor::zeros(Shape{4, 9}, device());
  test::expect_error_mentions([&] { Dropout("rnn.dropout", 1.0f, 1).forward(ctx(), test::no_params(), y, x, {Mode::Train, {}}); },
                              {"rnn.dropout", "rate"});
  test::expect_error_mentions([&] { Dropout("rnn.dropout", -0.1f, 1).forward(ctx(), test::no_params(), y, x, {Mode::Train, {}}); },
                              {"rnn.dropout", "rate"});
  test::expect_error_mentions([&] { Dropout("rnn.dropout", 0.5f, 1).forward(ctx(), test::no_params(), y_bad, x, {Mode::Train, {}}); },
                              {"rnn.dropout", "(4, 9)", "(4, 8)"});
}

}  // namespace
}  // namespace gn
