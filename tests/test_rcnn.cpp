// The whole RCNN: shapes, Keras-default initialisation, a finite-difference check of every
// parameter gradient on a reduced input size, determinism, and clear shape errors.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"
#include "layers/rcnn.h"
#include "layers/softmax_xent.h"
#include "tests/gradcheck.h"
#include "tests/support.h"

namespace gn {
namespace {

class RcnnOnDevice : public test::DeviceTest {};

TEST_P(RcnnOnDevice, ForwardShapesAndProbabilities) {
  RCNN model(ModelConfig::tiny(), device());
  model.init(3);
  const Tensor x = test::random_tensor(Shape{5, 16, 36, 1}, 1, device());
  const Tensor& logits = model.forward(ctx(), x, Mode::Train, {7, 1});
  EXPECT_EQ(logits.shape(), (Shape{5, 4}));
  const Tensor probs = model.predict(ctx(), x);
  const auto p = probs.to_vector();
  for (int n = 0; n < 5; ++n) {
    double s = 0;
    for (int c = 0; c < 4; ++c) s += p[n * 4 + c];
    EXPECT_NEAR(s, 1.0, 1e-6);
  }
}

TEST_P(RcnnOnDevice, EveryParameterGradientMatchesFiniteDifferences) {
  RCNN model(ModelConfig::tiny(), device());
  model.init(11);
  // Inputs in a BatchNorm-friendly range; batch 3 so batch statistics are not degenerate.
  const Tensor x = test::random_tensor(Shape{3, 16, 36, 1}, 2, device());
  const RandomStep rng{5, 9};  // fixed dropout masks across the perturbed forwards
  test::GradCheck check(ctx());
  check.forward = [&] { return model.forward(ctx(), x, Mode::Train, rng).clone(); };
  check.backward = [&](const Tensor& dy) { model.backward(ctx(), dy); };
  check.max_checks_per_tensor = 12;
  // A smaller step than the layer checks: fewer ReLU / max-pool kinks crossed. Up to a quarter
  // of the elements may sit between 5e-3 and 5e-2 (kinks, see GradCheck); measured worst 2.2%.
  check.step = 1e-3f;
  check.outlier_threshold = 5e-2;
  check.max_outlier_fraction = 0.25;
  for (const auto& e : model.store().entries())
    if (e.kind == ParameterStore::Kind::Parameter) check.wrt(e.name, model.store().param(e.name), model.store().grad(e.name));
  check.run();
}

TEST_P(RcnnOnDevice, TrueInputSizeRuns) {
  RCNN model(ModelConfig{}, device());
  model.init(1);
  const Tensor x = test::random_tensor(Shape{2, 128, 513, 1}, 4, device(), 0.0f, 1.0f);
  const Tensor& logits = model.forward(ctx(), x, Mode::Train, {1, 1});
  EXPECT_EQ(logits.shape(), (Shape{2, 10}));
  Tensor dlogits = test::random_tensor(Shape{2, 10}, 5, device());
  model.backward(ctx(), dlogits);
  // About 0.95 M parameters (the reference model of docs/design.md).
  EXPECT_GT(model.store().num_params(), 900000);
  EXPECT_LT(model.store().num_params(), 1000000);
  EXPECT_GT(ops::sum_of_squares(ctx(), model.store().grads()), 0.0);
}

GN_INSTANTIATE_DEVICE_TEST(RcnnOnDevice);

TEST(Rcnn, KerasDefaultInitialisation) {
  RCNN model(ModelConfig::tiny());
  model.init(1);
  const ParameterStore& s = model.store();
  const auto bias = s.param("rnn.lstm1.fwd.bias").to_vector();  // (4U) = i, f, c, o
  for (int j = 0; j < 32; ++j) EXPECT_EQ(bias[j], j >= 8 && j < 16 ? 1.0f : 0.0f) << j;
  for (float g : s.param("cnn.bn1.gamma").to_vector()) EXPECT_EQ(g, 1.0f);
  for (float v : s.buffer("cnn.bn2.moving_var").to_vector()) EXPECT_EQ(v, 1.0f);
  for (float m : s.buffer("cnn.bn2.moving_mean").to_vector()) EXPECT_EQ(m, 0.0f);
  for (float b : s.param("head.dense.bias").to_vector()) EXPECT_EQ(b, 0.0f);
  // Same seed, same model; another seed, another model.
  RCNN again(ModelConfig::tiny());
  again.init(1);
  EXPECT_EQ(again.store().params().to_vector(), s.params().to_vector());
  again.init(2);
  EXPECT_NE(again.store().params().to_vector(), s.params().to_vector());
}

TEST(Rcnn, TwoCpuRunsGiveBitIdenticalGradients) {
  auto run = [] {
    Context ctx(Device::cpu());
    RCNN model(ModelConfig::tiny());
    model.init(4);
    const Tensor x = test::random_tensor(Shape{4, 16, 36, 1}, 8);
    const Tensor& logits = model.forward(ctx, x, Mode::Train, {2, 3});
    const Tensor dl = test::random_tensor(logits.shape(), 9);
    model.backward(ctx, dl);
    return model.store().grads().to_vector();
  };
  EXPECT_EQ(run(), run());
}

TEST(Rcnn, ShapeMistakesNameTheModelAndBothShapes) {
  Context ctx(Device::cpu());
  RCNN model(ModelConfig::tiny());
  try {
    model.forward(ctx, Tensor::zeros(Shape{2, 16, 35, 1}), Mode::Infer);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "rcnn: input has shape (2, 16, 35, 1), expected (2, 16, 36, 1)");
  }
  EXPECT_THROW(model.forward(ctx, Tensor::zeros(Shape{16, 36}), Mode::Infer), Error);
  EXPECT_THROW(model.backward(ctx, Tensor::zeros(Shape{2, 4})), Error);  // no Train forward yet
}

}  // namespace
}  // namespace gn
