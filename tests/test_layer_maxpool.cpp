// MaxPool2D (window = stride, floor): golden values from tf_keras for 2x2 and 1x2 on odd sizes,
// finite-difference gradients, shape errors, determinism.
#include <gtest/gtest.h>

#include "layers/maxpool.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"

namespace gn {
namespace {

class MaxPoolTest : public test::DeviceTest {};
GN_INSTANTIATE_DEVICE_TEST(MaxPoolTest);

TEST_P(MaxPoolTest, MatchesKeras) {
  // Max pooling selects and routes values: no arithmetic, so the result must be exact (the
  // float64 reference holds float32-representable values).
  const struct {
    const char* name;
    int ph, pw;
  } cases[] = {{"pool_2x2", 2, 2}, {"pool_1x2", 1, 2}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string p = c.name;
    MaxPool2D pool("pool", c.ph, c.pw);
    const Tensor x = test::golden(p + ".x", device());
    Tensor y = Tensor::empty(pool.output_shape(x.shape()), device());
    pool.forward(ctx(), test::no_params(), y, x, test::kTrain);
    test::expect_close(y, test::golden(p + ".y", Device::cpu()), 0.0, p + " forward");
    Tensor dx = Tensor::empty(x.shape(), device());
    pool.backward(ctx(), test::no_params(), &dx, test::golden(p + ".r", device()), x, y, test::kTrain);
    test::expect_close(dx, test::golden(p + ".dx", Device::cpu()), 0.0, p + " dx");
    std::printf("    %-9s max abs error: y %.2e dx %.2e\n", c.name,
                test::max_abs_diff(y, test::golden(p + ".y", Device::cpu())),
                test::max_abs_diff(dx, test::golden(p + ".dx", Device::cpu())));
  }
}

TEST_P(MaxPoolTest, GradientsMatchFiniteDifferences) {
  const struct {
    Shape x;
    int ph, pw;
  } cases[] = {{Shape{2, 5, 7, 3}, 2, 2}, {Shape{2, 3, 9, 2}, 1, 2}, {Shape{1, 4, 4, 1}, 2, 2}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.x.str());
    MaxPool2D pool("pool", c.ph, c.pw);
    // Values spread over [-5, 5] so window maxima are rarely within the step of each other.
    test::LayerGradCheck check(ctx(), pool, {.input = c.x, .input_lo = -5.0f, .input_hi = 5.0f, .seed = 9});
    EXPECT_EQ(check.run(), 0);
  }
}

TEST_P(MaxPoolTest, ShapeMistakesNameTheLayerAndBothShapes) {
  MaxPool2D pool("rnn.pool1", 1, 2);
  Tensor x = Tensor::zeros(Shape{2, 8, 9, 1}, device());
  Tensor y = Tensor::zeros(Shape{2, 8, 5, 1}, device());
  test::expect_error_mentions([&] { pool.forward(ctx(), test::no_params(), y, x, test::kTrain); }, {"rnn.pool1", "(2, 8, 5, 1)", "(2, 8, 4, 1)"});
  Tensor x3 = Tensor::zeros(Shape{2, 8, 9}, device());
  test::expect_error_mentions([&] { pool.forward(ctx(), test::no_params(), y, x3, test::kTrain); }, {"rnn.pool1", "(2, 8, 9)", "rank 4"});
  Tensor tiny = Tensor::zeros(Shape{2, 8, 1, 1}, device());
  test::expect_error_mentions([&] { pool.forward(ctx(), test::no_params(), y, tiny, test::kTrain); }, {"rnn.pool1", "smaller"});
}

TEST(MaxPoolCpu, BackwardRefusesAStaleArgmax) {
  Context cpu;
  MaxPool2D pool("cnn.pool2", 2, 2);
  const Tensor x1 = test::random_tensor(Shape{1, 4, 4, 2}, 1), x2 = test::random_tensor(Shape{1, 4, 4, 2}, 2);
  Tensor y1 = Tensor::empty(Shape{1, 2, 2, 2}), y2 = Tensor::empty(Shape{1, 2, 2, 2}), dx = Tensor::empty(x1.shape());
  pool.forward(cpu, test::no_params(), y1, x1, test::kTrain);
  pool.forward(cpu, test::no_params(), y2, x2, test::kTrain);  // the same instance used twice: argmax now belongs to x2
  test::expect_error_mentions([&] { pool.backward(cpu, test::no_params(), &dx, y1, x1, y1, test::kTrain); }, {"cnn.pool2", "last forward"});
}

TEST_P(MaxPoolTest, TwoRunsAreBitIdentical) {
  MaxPool2D pool("pool", 2, 2);
  const Shape xs{4, 33, 65, 8};
  const Tensor x = test::random_tensor(xs, 1, device());
  const Tensor dy = test::random_tensor(pool.output_shape(xs), 2, device());
  Tensor y1 = Tensor::empty(dy.shape(), device()), y2 = Tensor::empty(dy.shape(), device());
  Tensor d1 = Tensor::empty(xs, device()), d2 = Tensor::empty(xs, device());
  pool.forward(ctx(), test::no_params(), y1, x, test::kTrain);
  pool.backward(ctx(), test::no_params(), &d1, dy, x, y1, test::kTrain);
  pool.forward(ctx(), test::no_params(), y2, x, test::kTrain);
  pool.backward(ctx(), test::no_params(), &d2, dy, x, y2, test::kTrain);
  EXPECT_TRUE(test::bit_identical(y1, y2));
  EXPECT_TRUE(test::bit_identical(d1, d2));
}

}  // namespace
}  // namespace gn
