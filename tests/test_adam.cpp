// Adam against tf_keras's Adam (tests/fixtures/make_adam_fixtures.py), and its determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/support.h"
#include "train/adam.h"

namespace gn {
namespace {

class AdamTest : public test::DeviceTest {};

// Runs the fixture's run `name` step by step and compares the parameters after every step and
// the moments after the last with TensorFlow's. Returns the largest parameter error seen.
double check_run(Context& ctx, Device device, const SafeTensorsFile& fx, const std::string& name) {
  AdamOptions options;
  options.lr = std::stof(fx.metadata.at(name + ".lr"));
  options.beta1 = std::stof(fx.metadata.at(name + ".beta1"));
  options.beta2 = std::stof(fx.metadata.at(name + ".beta2"));
  options.epsilon = std::stof(fx.metadata.at(name + ".epsilon"));
  const int steps = std::stoi(fx.metadata.at(name + ".steps"));

  Tensor params = fx.get(name + ".params0").to(device);
  Adam adam(params, options);
  double worst = 0.0;
  for (int k = 1; k <= steps; ++k) {
    const Tensor grad = fx.get(name + ".grad" + std::to_string(k)).to(device);
    adam.step(ctx, params, grad);
    EXPECT_EQ(adam.t(), k);
    // Parameters are O(1) and move by at most ~lr per step. Same formula as TF, in float32;
    // the only difference is lr_t (double pow here, float pow in TF: <= 1 ulp of lr_t), so an
    // update of size <= lr may differ by ~1e-7 lr, plus one rounding of the O(1) parameter
    // (6e-8). Allow 4 ulps of 1.0 absolute (4.8e-7): a wrong formula (e.g. no bias
    // correction, or eps inside the sqrt) is off by >= 1e-4 here.
    const double err = test::max_abs_diff(params.to(Device::cpu()), fx.get(name + ".params" + std::to_string(k)));
    EXPECT_LE(err, 4.8e-7) << name << " step " << k;
    worst = std::max(worst, err);
  }
  // Moments: same float32 recurrences as TF, exact up to a rounding or two: 1e-6 relative.
  test::expect_close(adam.m().to(Device::cpu()), fx.get(name + ".m"), 1e-6, name + ".m");
  test::expect_close(adam.v().to(Device::cpu()), fx.get(name + ".v"), 1e-6, name + ".v");
  return worst;
}

TEST_P(AdamTest, MatchesTfKerasAdam) {
  const SafeTensorsFile fx = read_safetensors(test::fixture_path("adam.safetensors"));
  const double a = check_run(ctx(), device(), fx, "a");
  const double b = check_run(ctx(), device(), fx, "b");
  std::printf("max |param - tf_keras| after each step: run a %.3g, run b %.3g\n", a, b);
}

TEST_P(AdamTest, RestoredStateContinuesIdentically) {
  // Two steps, save (m, v, t), two more; versus a fresh optimiser restored from the save.
  const Tensor p0 = test::random_tensor(Shape{5000}, 1, device());
  Tensor p = p0.clone();
  Adam adam(p);
  for (int k = 0; k < 2; ++k) adam.step(ctx(), p, test::random_tensor(Shape{5000}, 10 + k, device()));
  const Tensor saved_p = p.clone(), saved_m = adam.m().clone(), saved_v = adam.v().clone();
  for (int k = 2; k < 4; ++k) adam.step(ctx(), p, test::random_tensor(Shape{5000}, 10 + k, device()));

  Tensor q = saved_p.clone();
  Adam resumed(q);
  resumed.restore(saved_m.to(Device::cpu()), saved_v, 2);
  for (int k = 2; k < 4; ++k) resumed.step(ctx(), q, test::random_tensor(Shape{5000}, 10 + k, device()));
  EXPECT_EQ(test::max_abs_diff(p.to(Device::cpu()), q.to(Device::cpu())), 0.0);
  EXPECT_EQ(resumed.t(), 4);
}

GN_INSTANTIATE_DEVICE_TEST(AdamTest);

TEST(Adam, TwoCpuRunsAreBitIdentical) {
  // Large enough (1M) for the OpenMP launcher to split the work across threads.
  Context ctx;
  const std::int64_t n = 1 << 20;
  Tensor runs[2];
  for (Tensor& p : runs) {
    p = test::random_tensor(Shape{n}, 7);
    Adam adam(p);
    for (int k = 0; k < 3; ++k) adam.step(ctx, p, test::random_tensor(Shape{n}, 100 + k));
  }
  const std::vector<float> a = runs[0].to_vector(), b = runs[1].to_vector();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST(Adam, RejectsBadOptionsAndMismatchedState) {
  const Tensor p = Tensor::zeros(Shape{10});
  EXPECT_THROW(Adam(p, AdamOptions{0.0f}), Error);
  EXPECT_THROW(Adam(p, AdamOptions{0.01f, 1.0f}), Error);
  EXPECT_THROW(Adam(p, AdamOptions{0.01f, 0.9f, -0.1f}), Error);
  EXPECT_THROW(Adam(Tensor{}), Error);
  Adam adam(p);
  EXPECT_THROW(adam.set_lr(std::nanf("")), Error);
  EXPECT_THROW(adam.restore(Tensor::zeros(Shape{9}), Tensor::zeros(Shape{10}), 1), Error);
  EXPECT_THROW(adam.restore(Tensor::zeros(Shape{10}), Tensor::zeros(Shape{10}), -1), Error);
  Context ctx;
  Tensor q = Tensor::zeros(Shape{11});
  EXPECT_THROW(adam.step(ctx, q, Tensor::zeros(Shape{11})), Error);
}

TEST(Adam, FirstStepMovesEveryNonZeroGradientByLr) {
  // A hand-checkable case: at t = 1, m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1,
  // so the step is lr g / (|g| + eps / sqrt(0.001)) ~= lr sign(g) for |g| >> eps.
  Context ctx;
  Tensor p = Tensor::from_vector(Shape{3}, {1.0f, 1.0f, 1.0f});
  Adam adam(p, AdamOptions{0.01f});
  adam.step(ctx, p, Tensor::from_vector(Shape{3}, {0.5f, -2.0f, 0.0f}));
  EXPECT_NEAR(p.at(0), 0.99f, 1e-6);
  EXPECT_NEAR(p.at(1), 1.01f, 1e-6);
  EXPECT_EQ(p.at(2), 1.0f);
}

}  // namespace
}  // namespace gn
