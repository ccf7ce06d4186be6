// BiLSTM (layers/bilstm.h): golden forward/backward against TensorFlow/Keras (fixture made by
// tests/fixtures/make_bilstm_fixtures.py), central-difference gradient checks of the input and
// all six parameters in both output modes, determinism (two runs and one vs two threads are
// bit-identical), the functors the CUDA path uses, and readable shape errors.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/params.h"
#include "engine/safetensors.h"
#include "kernels/launch_cpu.h"
#include "kernels/lstm.h"
#include "layers/bilstm.h"
#include "tests/gradcheck.h"
#include "tests/layer_test_util.h"
#include "tests/support.h"

namespace gn {
namespace {

const char* const kParams[] = {"fwd.kernel", "fwd.recurrent_kernel", "fwd.bias",
                               "bwd.kernel", "bwd.recurrent_kernel", "bwd.bias"};

// Fills every parameter of `layer` with deterministic values in [-0.5, 0.5).
void randomize(ParameterStore& store, const BiLSTM& layer, std::uint32_t seed) {
  for (const char* p : kParams) {
    Tensor v = store.param(layer.name() + "." + p);
    v.copy_from(test::random_tensor(v.shape(), seed++, Device::cpu(), -0.5f, 0.5f));
  }
}

// ---- golden: a 2-layer stack like the RCNN's, against Keras -------------------------------

class BiLSTMGolden : public test::DeviceTest {};

TEST_P(BiLSTMGolden, MatchesKerasForwardAndBackward) {
  Context& ctx = this->ctx();
  const SafeTensorsFile f = read_safetensors(test::fixture_path("bilstm.safetensors"));
  const Tensor& x_host = f.get("x");
  const std::int64_t in = x_host.dim(2), u1 = f.get("lstm1.fwd.recurrent_kernel").dim(0),
                     u2 = f.get("lstm2.fwd.recurrent_kernel").dim(0);
  BiLSTM l1("lstm1", in, u1, /*return_sequences=*/true);
  BiLSTM l2("lstm2", 2 * u1, u2, /*return_sequences=*/false);
  ParameterStore store;
  l1.declare(store);
  l2.declare(store);
  store.allocate(device());
  for (const auto* layer : {"lstm1", "lstm2"})
    for (const char* p : kParams) {
      const std::string name = std::string(layer) + "." + p;
      store.param(name).copy_from(f.get(name));
    }

  const Tensor x = x_host.to(device());
  Tensor y1, y2, dy1, dx;
  l1.forward(ctx, store, y1, x, test::kTrain);
  l2.forward(ctx, store, y2, y1, test::kTrain);
  l2.backward(ctx, store, &dy1, f.get("dy2").to(device()), y1, y2, test::kTrain);
  l1.backward(ctx, store, &dx, dy1, x, y1, test::kTrain);

  // Tolerances (normalised by the reference's largest magnitude). The forward chains T = 9
  // float32 steps whose sums have at most In + U <= 18 terms of O(1): each step adds a few ulp
  // (6e-8) of rounding and exp/tanh differ between TF's Eigen and libm by ~2 ulp; measured
  // 1.7e-7, so 5e-6 leaves a 30x margin while a wrong gate order gives errors of order 1.
  // Backward goes through twice as many dependent ops and its weight gradients sum N*T = 27
  // per-step terms in another order than TF: measured 9e-7, bound 1e-5.
  test::expect_close(y1, f.get("y1"), 5e-6, "y1");
  test::expect_close(y2, f.get("y2"), 5e-6, "y2");
  test::expect_close(dy1, f.get("dy1"), 1e-5, "dy1 (layer 2 input gradient)");
  test::expect_close(dx, f.get("dx"), 1e-5, "dx");
  for (const auto* layer : {"lstm1", "lstm2"})
    for (const char* p : kParams) {
      const std::string name = std::string(layer) + "." + p;
      test::expect_close(store.grad(name), f.get("grad." + name), 1e-5, "grad " + name);
    }
  // Print the measured errors once (the report quotes them).
  if (::testing::Test::HasFailure()) return;
  std::printf("normalised errors: y1 %.2e y2 %.2e dy1 %.2e dx %.2e\n",
              test::normalized_error(y1, f.get("y1")), test::normalized_error(y2, f.get("y2")),
              test::normalized_error(dy1, f.get("dy1")), test::normalized_error(dx, f.get("dx")));
  double worst = 0;
  for (const auto* layer : {"lstm1", "lstm2"})
    for (const char* p : kParams) {
      const std::string name = std::string(layer) + "." + p;
      worst = std::max(worst, test::normalized_error(store.grad(name), f.get("grad." + name)));
    }
  std::printf("worst parameter-gradient normalised error: %.2e\n", worst);
}

GN_INSTANTIATE_DEVICE_TEST(BiLSTMGolden);

// ---- gradient checks -------------------------------------------------------------------------

struct GradCase {
  std::int64_t n, t, in, units;
  bool sequences;
};

class BiLSTMGradient : public test::DeviceTest {
 protected:
  void check(const GradCase& c) {
    Context& ctx = this->ctx();
    BiLSTM layer("lstm", c.in, c.units, c.sequences);
    test::LayerGradCheck check(ctx, layer, {.input = Shape{c.n, c.t, c.in}});
    EXPECT_EQ(check.run(), 0);
    EXPECT_EQ(check.skipped_kinks, 0) << "an LSTM is smooth: no point should look like a kink";
  }
};

TEST_P(BiLSTMGradient, ReturnSequences) { check({2, 5, 3, 4, true}); }
TEST_P(BiLSTMGradient, LastState) { check({2, 5, 3, 4, false}); }
TEST_P(BiLSTMGradient, OddSizesReturnSequences) { check({3, 4, 7, 5, true}); }
TEST_P(BiLSTMGradient, OddSizesLastState) { check({3, 4, 7, 5, false}); }
TEST_P(BiLSTMGradient, SingleStep) { check({1, 1, 2, 3, false}); }

GN_INSTANTIATE_DEVICE_TEST(BiLSTMGradient);

// ---- Keras semantics: last state = (fwd at T-1, bwd at 0) of the sequence output -----------

class BiLSTMModes : public test::DeviceTest {};

TEST_P(BiLSTMModes, LastStateIsTheSequenceEndOfEachDirection) {
  Context& ctx = this->ctx();
  BiLSTM seq("lstm", 6, 5, true), last("lstm", 6, 5, false);
  ParameterStore store, store_last;  // the same layout; `last` gets a copy of `seq`'s values
  seq.declare(store);
  last.declare(store_last);
  store.allocate(Device::cpu());
  randomize(store, seq, 11);
  store.to(device());
  store_last.allocate(device());
  store_last.params().copy_from(store.params());
  const Tensor x = test::random_tensor(Shape{3, 7, 6}, 5, device());
  Tensor ys, yl;
  seq.forward(ctx, store, ys, x, test::kInfer);
  last.forward(ctx, store_last, yl, x, test::kInfer);
  ASSERT_EQ(yl.shape(), (Shape{3, 10}));
  const Tensor ys_host = ys.to(Device::cpu());
  Tensor gathered = Tensor::empty(Shape{3, 10});
  cpu::for_each(gathered.numel(), fn::BiLastStateGather{gathered.data(), ys_host.data(), 7, 5});
  // Same arithmetic in the same order on one device: equal to the bit.
  EXPECT_EQ(yl.to_vector(), gathered.to_vector());
}

TEST_P(BiLSTMModes, ShapeMistakesNameTheLayerAndBothShapes) {
  Context& ctx = this->ctx();
  BiLSTM layer("rnn.lstm2", 256, 8, false);
  ParameterStore store;
  layer.declare(store);
  store.allocate(device());
  auto message = [&](auto&& call) -> std::string {
    try {
      call();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  Tensor y;
  const std::string wrong_in = message([&] { layer.forward(ctx, store, y, Tensor::zeros(Shape{2, 4, 128}, device()), test::kTrain); });
  EXPECT_NE(wrong_in.find("rnn.lstm2"), std::string::npos) << wrong_in;
  EXPECT_NE(wrong_in.find("(2, 4, 128)"), std::string::npos) << wrong_in;
  EXPECT_NE(wrong_in.find("256"), std::string::npos) << wrong_in;
  const std::string wrong_rank = message([&] { layer.forward(ctx, store, y, Tensor::zeros(Shape{4, 256}, device()), test::kTrain); });
  EXPECT_NE(wrong_rank.find("rnn.lstm2: input has shape (4, 256)"), std::string::npos) << wrong_rank;
  const std::string empty_seq = message([&] { layer.forward(ctx, store, y, Tensor::zeros(Shape{2, 0, 256}, device()), test::kTrain); });
  EXPECT_NE(empty_seq.find("(2, 0, 256)"), std::string::npos) << empty_seq;

  const Tensor x = test::random_tensor(Shape{2, 4, 256}, 1, device());
  layer.forward(ctx, store, y, x, test::kTrain);
  EXPECT_EQ(y.shape(), (Shape{2, 16}));
  const std::string wrong_dy = message([&] { layer.backward(ctx, store, nullptr, Tensor::zeros(Shape{2, 4, 16}, device()), x, y, test::kTrain); });
  EXPECT_NE(wrong_dy.find("rnn.lstm2: output gradient has shape (2, 4, 16), expected (2, 16)"), std::string::npos)
      << wrong_dy;
  // A sequence length other than forward's: backward would read states it never saved.
  const Tensor x5 = test::random_tensor(Shape{2, 5, 256}, 1, device());
  const std::string wrong_t = message([&] { layer.backward(ctx, store, nullptr, Tensor::zeros(Shape{2, 16}, device()), x5, y, test::kTrain); });
  EXPECT_NE(wrong_t.find("(2, 5, 256)"), std::string::npos) << wrong_t;
  EXPECT_NE(wrong_t.find("(2, 4, 256)"), std::string::npos) << wrong_t;
  // A layer run on a store it was not declared in (here: one declared for another size) is
  // refused by name, never read at a stale offset.
  BiLSTM other("rnn.lstm2", 128, 8, false);
  ParameterStore other_store;
  other.declare(other_store);
  const std::string wrong_param =
      message([&] { other.forward(ctx, store, y, Tensor::zeros(Shape{2, 4, 128}, device()), test::kTrain); });
  EXPECT_NE(wrong_param.find("rnn.lstm2.fwd.kernel' belongs to another store"), std::string::npos) << wrong_param;
  BiLSTM undeclared("rnn.lstm2", 256, 8, false);
  const std::string no_declare =
      message([&] { undeclared.forward(ctx, store, y, Tensor::zeros(Shape{2, 4, 256}, device()), test::kTrain); });
  EXPECT_NE(no_declare.find("never declared in this store"), std::string::npos) << no_declare;
  // Backward after an inference-only forward.
  layer.forward(ctx, store, y, x, test::kInfer);
  const std::string no_train = message([&] { layer.backward(ctx, store, nullptr, Tensor::zeros(Shape{2, 16}, device()), x, y, test::kTrain); });
  EXPECT_NE(no_train.find("Train"), std::string::npos) << no_train;
}

GN_INSTANTIATE_DEVICE_TEST(BiLSTMModes);

// ---- determinism -------------------------------------------------------------------------------

struct RunResult {
  std::vector<float> y, dx, grads;
};

RunResult run_once(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Context ctx;
  BiLSTM layer("lstm", 12, 10, true);
  ParameterStore store;
  layer.declare(store);
  store.allocate(Device::cpu());
  randomize(store, layer, 21);
  const Tensor x = test::random_tensor(Shape{4, 16, 12}, 9);
  Tensor y, dx;
  layer.forward(ctx, store, y, x, test::kTrain);
  layer.backward(ctx, store, &dx, test::random_tensor(y.shape(), 10), x, y, test::kTrain);
  omp_set_num_threads(saved);
  return {y.to_vector(), dx.to_vector(), store.grads().to_vector()};
}

TEST(BiLSTMDeterminism, TwoRunsAndOneOrTwoThreadsAreBitIdentical) {
  const RunResult a = run_once(2), b = run_once(2), serial = run_once(1);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.dx, b.dx);
  EXPECT_EQ(a.grads, b.grads);
  // The two directions on two threads (the fast path) or one after the other: same bits.
  EXPECT_EQ(a.y, serial.y);
  EXPECT_EQ(a.dx, serial.dx);
  EXPECT_EQ(a.grads, serial.grads);
}

// ---- the functors the CUDA path runs, checked on the CPU launcher ----------------------------

TEST(BiLSTMFunctors, CudnnGatePackingIsTheGateBlockTransposedAndInvertible) {
  const index_t rows = 5, units = 3;
  const Tensor keras = test::random_tensor(Shape{rows, 4 * units}, 4);
  Tensor back = Tensor::zeros(Shape{rows, 4 * units});
  for (index_t gate = 0; gate < 4; ++gate) {
    Tensor packed = Tensor::empty(Shape{units, rows});
    cpu::for_each(units * rows, fn::LstmGateToCudnn{packed.data(), keras.data(), rows, units, gate});
    for (index_t j = 0; j < units; ++j)
      for (index_t r = 0; r < rows; ++r)
        ASSERT_EQ(packed.at(j * rows + r), keras.at(r * 4 * units + gate * units + j)) << gate << " " << j << " " << r;
    cpu::for_each(units * rows, fn::LstmGateFromCudnn{back.data(), packed.data(), rows, units, gate});
  }
  EXPECT_EQ(back.to_vector(), keras.to_vector());
}

TEST(BiLSTMFunctors, CellExpSigmoidTanhAreFloatAccurateAndSaturate) {
  // Against double-precision libm over the whole useful range, step 3.7e-4. Measured: exp
  // 8e-8 relative, sigmoid 1.4e-7 relative, tanh 1.8e-7 absolute; bounds ~2x that (a float
  // ulp is 6e-8 relative, so these are 2-5 ulp).
  double exp_rel = 0, sig_rel = 0, tanh_abs = 0;
  for (float x = -87.0f; x <= 87.0f; x += 3.7e-4f) {
    const double e = std::exp(double(x)), s = 1.0 / (1.0 + std::exp(-double(x))), t = std::tanh(double(x));
    exp_rel = std::max(exp_rel, std::fabs(lstm_expf(x) - e) / e);
    sig_rel = std::max(sig_rel, std::fabs(lstm_sigmoid(x) - s) / s);
    tanh_abs = std::max(tanh_abs, std::fabs(lstm_tanh(x) - t));
  }
  EXPECT_LT(exp_rel, 2e-7);
  EXPECT_LT(sig_rel, 3e-7);
  EXPECT_LT(tanh_abs, 4e-7);
  // Saturation far outside the polynomial's range, and NaN propagates (never hidden).
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(lstm_sigmoid(1e30f), 1.0f);
  EXPECT_LT(lstm_sigmoid(-1e30f), 1e-37f);
  EXPECT_GE(lstm_sigmoid(-1e30f), 0.0f);
  EXPECT_EQ(lstm_tanh(inf), 1.0f);
  EXPECT_EQ(lstm_tanh(-inf), -1.0f);
  EXPECT_EQ(lstm_tanh(-1e30f), -1.0f);
  EXPECT_TRUE(std::isnan(lstm_tanh(std::nanf(""))));
  EXPECT_TRUE(std::isnan(lstm_sigmoid(std::nanf(""))));
}

TEST(BiLSTMFunctors, LastStateScatterIsTheAdjointOfGather) {
  const index_t n = 2, steps = 4, units = 3;
  const Tensor seq = test::random_tensor(Shape{n, steps, 2 * units}, 1);
  const Tensor d_out = test::random_tensor(Shape{n, 2 * units}, 2);
  Tensor out = Tensor::empty(Shape{n, 2 * units});
  Tensor d_seq = Tensor::empty(Shape{n, steps, 2 * units});
  cpu::for_each(out.numel(), fn::BiLastStateGather{out.data(), seq.data(), steps, units});
  cpu::for_each(d_seq.numel(), fn::BiLastStateScatter{d_seq.data(), d_out.data(), steps, units});
  // <gather(seq), d_out> == <seq, scatter(d_out)>, and the fwd half reads t = T-1, bwd t = 0.
  double lhs = 0, rhs = 0;
  for (index_t i = 0; i < out.numel(); ++i) lhs += double(out.at(i)) * d_out.at(i);
  for (index_t i = 0; i < seq.numel(); ++i) rhs += double(seq.at(i)) * d_seq.at(i);
  EXPECT_NEAR(lhs, rhs, 1e-6);
  EXPECT_EQ(out.at(0), seq.at((steps - 1) * 2 * units + 0));
  EXPECT_EQ(out.at(units), seq.at(units));
}

}  // namespace
}  // namespace gn
