// softmax / softmax_cross_entropy: golden values from tf_keras (CategoricalCrossentropy with
// from_logits, mean over the batch) including a row shifted by 1000 and a very peaked row,
// finite differences of the loss, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops.h"
#include "layers/softmax_xent.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace gn {
namespace {

class SoftmaxXentTest : public test::DeviceTest {};
GN_INSTANTIATE_DEVICE_TEST(SoftmaxXentTest);

// probs / dlogits: a few float32 roundings of values <= 1 (exp, one sum of 10 terms, a
// division) against a float64 reference: 1e-6 absolute (normalised by max |.| <= 1) is ~8 ulp.
// The loss (~ up to 1e2 for the peaked row) is a float32 per-row value (lse - x, ~1e-7 relative)
// summed in double: 1e-6 relative.
constexpr double kTol = 1e-6;

TEST_P(SoftmaxXentTest, MatchesKerasIncludingExtremeLogits) {
  const Tensor logits = test::golden("xent.logits", device());
  const Tensor onehot = test::golden("xent.onehot", device());
  Tensor probs = Tensor::empty(logits.shape(), device()), dlogits = Tensor::empty(logits.shape(), device());
  const double loss = softmax_cross_entropy(ctx(), probs, dlogits, logits, onehot);
  const double loss_ref = test::layer_fixtures().get("xent.loss").at(0);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, loss_ref, kTol * std::fabs(loss_ref));
  test::expect_close(probs, test::golden("xent.probs", Device::cpu()), kTol, "probs");
  test::expect_close(dlogits, test::golden("xent.dlogits", Device::cpu()), kTol, "dlogits");
  Tensor p2 = Tensor::empty(logits.shape(), device());
  softmax(ctx(), p2, logits);
  test::expect_close(p2, test::golden("xent.probs", Device::cpu()), kTol, "softmax");
  EXPECT_EQ(ops::count_non_finite(ctx(), probs), 0);
  std::printf("    xent loss %.9g vs keras %.9g (rel %.2e); max abs error: probs %.2e dlogits %.2e softmax %.2e\n", loss,
              loss_ref, std::fabs(loss - loss_ref) / std::fabs(loss_ref),
              test::max_abs_diff(probs, test::golden("xent.probs", Device::cpu())),
              test::max_abs_diff(dlogits, test::golden("xent.dlogits", Device::cpu())),
              test::max_abs_diff(p2, test::golden("xent.probs", Device::cpu())));
}

TEST_P(SoftmaxXentTest, LossGradientMatchesFiniteDifferences) {
  for (auto [n, c] : {std::pair{4, 10}, std::pair{3, 37}, std::pair{1, 2}}) {
    Tensor logits = test::random_tensor(Shape{n, c}, 7, device(), -3.0f, 3.0f);
    std::vector<float> t(static_cast<std::size_t>(n * c), 0.0f);
    for (int r = 0; r < n; ++r) t[static_cast<std::size_t>(r * c + (r * 7) % c)] = 1.0f;
    const Tensor onehot = Tensor::from_vector(Shape{n, c}, t, device());
    Tensor probs = Tensor::empty(logits.shape(), device()), dlogits = Tensor::empty(logits.shape(), device());
    Tensor scaled = Tensor::empty(logits.shape(), device());
    test::GradCheck check(ctx());
    check.forward = [&] {
      const double l = softmax_cross_entropy(ctx(), probs, dlogits, logits, onehot);
      return Tensor::from_vector(Shape{1}, {static_cast<float>(l)}, device());
    };
    check.backward = [&](const Tensor& dy) {  // dL/dlogits scaled by the checker's dL/dloss
      softmax_cross_entropy(ctx(), probs, dlogits, logits, onehot);
      ops::scale(ctx(), scaled, dlogits, dy.to_vector()[0]);
    };
    check.wrt("logits", logits, scaled);
    EXPECT_EQ(check.run(), 0);
  }
}

TEST_P(SoftmaxXentTest, ShapeMistakesAreClearErrors) {
  const Tensor logits = Tensor::zeros(Shape{4, 10}, device());
  const Tensor labels9 = Tensor::zeros(Shape{4, 9}, device());
  Tensor probs = Tensor::zeros(Shape{4, 10}, device()), d = Tensor::zeros(Shape{4, 10}, device());
  test::expect_error_mentions([&] { softmax_cross_entropy(ctx(), probs, d, logits, labels9); },
                              {"softmax_cross_entropy", "labels", "(4, 9)", "(4, 10)"});
  const Tensor rank3 = Tensor::zeros(Shape{4, 10, 1}, device());
  test::expect_error_mentions([&] { softmax(ctx(), probs, rank3); }, {"softmax", "(4, 10, 1)"});
}

}  // namespace
}  // namespace gn
