// A table of every op, each run on the CPU and on CUDA and compared with a normalised error
// bound (ggml's test-backend-ops): max |cuda - cpu| / max |cpu| over every output and gradient.
// One line per op: a description from tests/op_descriptions.h (any layer through layer_op, the
// others through a small builder here) and its bound, derived beside it.
//
// Without a device the CUDA half skips, but every row still runs here: on the CPU twice
// (bit-identical: determinism), every result finite and not all zero (the row computes
// something), and the bound machinery itself is checked on each row's CPU results (a
// perturbation just above the bound must fail, the unperturbed results must pass).
//
// Adding an op: one line in ops_table() (a layer: layer_op(name, layer, input shape, bound)).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "layers/frontend.h"
#include "layers/softmax_xent.h"
#include "tests/layer_test_util.h"
#include "tests/op_descriptions.h"
#include "train/adam.h"
#include "train/step_metrics.h"

namespace gn {
namespace {

using op::Description;
using op::Prepared;
using op::Tensors;
using op::values;

Tensor host(const Tensor& t) { return t.to(Device::cpu()); }

// ---- builders for the ops that are not layers -------------------------------------------------

// State shared by a prepared op's functions.
template <class State>
std::shared_ptr<State> state() {
  return std::make_shared<State>();
}

Description softmax_xent_op(const std::string& name, int n, int classes, double bound) {
  return {name, bound, [=](Context& ctx) {
            struct S {
              Tensor logits, onehot, probs, dlogits, probs2;
              double loss = 0;
            };
            auto s = state<S>();
            const Device dev = ctx.device();
            s->logits = values(Shape{n, classes}, 2, dev, -8.0f, 8.0f);
            Tensor t = Tensor::zeros(Shape{n, classes});
            for (int r = 0; r < n; ++r) t.at(static_cast<std::int64_t>(r) * classes + (r * 3) % classes) = 1.0f;
            s->onehot = t.to(dev);
            s->probs = Tensor::empty(s->logits.shape(), dev);
            s->dlogits = Tensor::empty(s->logits.shape(), dev);
            s->probs2 = Tensor::empty(s->logits.shape(), dev);
            Prepared p;
            Context* c = &ctx;
            p.forward = [s, c] {
              s->loss = softmax_cross_entropy(*c, s->probs, s->dlogits, s->logits, s->onehot);
              softmax(*c, s->probs2, s->logits);
            };
            p.results = [s] {
              return Tensors{Tensor::from_vector(Shape{1}, {static_cast<float>(s->loss)}), host(s->probs),
                             host(s->dlogits), host(s->probs2)};
            };
            return p;
          }};
}

// The spectrogram front-end on clips of `len` samples; `standardised` gives logstft fixed
// per-bin statistics (the same numbers on every device).
Description frontend_op(const std::string& name, FrontendConfig config, std::int64_t clips, std::int64_t len,
                        bool standardised, double bound) {
  if (standardised) {
    config.mean = values(Shape{config.bins()}, 8, Device::cpu(), -3.0f, 0.0f).to_vector();
    config.stddev = values(Shape{config.bins()}, 9, Device::cpu(), 0.5f, 2.0f).to_vector();
  }
  return {name, bound, [=](Context& ctx) {
            struct S {
              Tensor clips, out;
            };
            auto s = state<S>();
            s->clips = values(Shape{clips, len}, 5, ctx.device());
            s->out = Tensor::empty(config.output_shape(clips), ctx.device());
            Prepared p;
            Context* c = &ctx;
            p.forward = [s, c, config] { compute_spectrograms(*c, s->out, s->clips, config); };
            p.results = [s] { return Tensors{host(s->out)}; };
            return p;
          }};
}

// The standardisation alone, in place on a stack of spectrograms.
Description standardise_op(const std::string& name, double bound) {
  FrontendConfig config = FrontendConfig::logstft();
  config.mean = values(Shape{config.bins()}, 8, Device::cpu(), -3.0f, 0.0f).to_vector();
  config.stddev = values(Shape{config.bins()}, 9, Device::cpu(), 0.5f, 2.0f).to_vector();
  return {name, bound, [=](Context& ctx) {
            struct S {
              Tensor x0, x;
            };
            auto s = state<S>();
            s->x0 = values(config.output_shape(2), 6, ctx.device(), -10.0f, 2.0f);
            s->x = Tensor::empty(s->x0.shape(), ctx.device());
            Prepared p;
            Context* c = &ctx;
            p.forward = [s, c, config] {
              s->x.copy_from(s->x0);
              normalize_spectrograms(*c, s->x, config);
            };
            p.results = [s] { return Tensors{host(s->x)}; };
            return p;
          }};
}

// One Adam update of P parameters (Keras defaults, lr 0.005 as the trainer's default).
Description adam_op(const std::string& name, std::int64_t count, double bound) {
  return {name, bound, [=](Context& ctx) {
            struct S {
              Tensor params, grads;
              std::unique_ptr<Adam> adam;
            };
            auto s = state<S>();
            s->params = values(Shape{count}, 1, ctx.device());
            s->grads = values(Shape{count}, 2, ctx.device(), -0.1f, 0.1f);
            AdamOptions o;
            o.lr = 0.005f;
            s->adam = std::make_unique<Adam>(s->params, o);
            Prepared p;
            Context* c = &ctx;
            p.forward = [s, c] {
              s->adam->step(*c, s->params, s->grads);
              s->adam->step(*c, s->params, s->grads);  // the second uses the first's moments
            };
            p.results = [s] { return Tensors{host(s->params), host(s->adam->m()), host(s->adam->v())}; };
            return p;
          }};
}

// The training loop's accuracy count: rows whose argmax is the labelled class. Every second
// row has its labelled class lifted above the rest, so the count is at least n / 2.
Description accuracy_op(const std::string& name, int n, int classes) {
  return {name, op::kExactBound, [=](Context& ctx) {
            struct S {
              Tensor probs, onehot;
              std::int64_t correct = -1;
            };
            auto s = state<S>();
            Tensor probs = values(Shape{n, classes}, 4, Device::cpu(), 0.0f, 1.0f);
            Tensor onehot = Tensor::zeros(Shape{n, classes});
            for (int r = 0; r < n; ++r) {
              const std::int64_t label = static_cast<std::int64_t>(r) * classes + (r * 7) % classes;
              onehot.at(label) = 1.0f;
              if (r % 2 == 0) probs.at(label) = 2.0f;
            }
            s->probs = probs.to(ctx.device());
            s->onehot = onehot.to(ctx.device());
            Prepared p;
            Context* c = &ctx;
            p.forward = [s, c] { s->correct = count_correct(*c, s->probs, s->onehot); };
            p.results = [s] { return Tensors{Tensor::from_vector(Shape{1}, {static_cast<float>(s->correct)})}; };
            return p;
          }};
}

Conv2D conv(int cin, int filters, int k, int s, Padding p, bool relu, int kw = 0, int sw = 0) {
  Conv2D c("conv", cin, filters, k, s, p, relu);
  if (kw) c.kernel_w = kw;
  if (sw) c.stride_w = sw;
  return c;
}

// Bounds (normalised by the largest CPU value; eps = 2^-24 = 6e-8):
//  * op::kSumOrderBound (1e-5): convolutions, BatchNorm, Dense differ between devices only in
//    summation order (cuDNN / cuBLAS algorithms, FMA contraction); float32 sums of k <= ~10^2
//    products of O(1) terms stay within k eps = 6e-6 of the largest value.
//  * op::kExactBound (0): pooling, dropout and the accuracy count select, scale or compare
//    values with the same single float operation on both devices.
//  * op::kRecurrentBound (1e-4): BiLSTM, see tests/op_descriptions.h.
//  * softmax_xent 1e-6: one exp, one sum of C <= 100 terms and one log per row: ~C eps = 6e-6
//    of the row's sum, but the results (probabilities <= 1, the loss ~ 1..10) are normalised by
//    values of order 1 and the sum is dominated by its largest term; measured < 1e-7.
//  * front-ends 1e-4: two float32 FFT libraries (KissFFT, cuFFT) with different factorisations
//    are ~log2(n) eps ~ 1e-6 of the largest bin apart; 1e-4 leaves two orders of margin and a
//    layout or padding mistake gives errors of order 1.
//  * standardisation 1e-6: (v - mean) / std is one subtraction and one division, each
//    correctly rounded on both devices: at most 2 ulp (1.2e-7) of each value.
//  * Adam 1e-6: two updates of the same float32 recurrences; FMA contraction on the device can
//    change a moment by 1 ulp (6e-8 relative) and the step lr m / (sqrt(v) + eps) (<= lr =
//    5e-3 in size) by a few ulp of itself, far below 1 ulp of the O(1) parameters.
const std::vector<Description>& ops_table() {
  static const std::vector<Description> table = [] {
    using op::kExactBound;
    using op::kRecurrentBound;
    using op::kSumOrderBound;
    const Pass train{Mode::Train, RandomStep{77, 12}}, infer{Mode::Infer};
    std::vector<Description> t = {
        op::layer_op("conv2d k2 s2 same relu (model conv1, pads 0/1)", conv(1, 16, 2, 2, Padding::Same, true), Shape{2, 32, 65, 1}, kSumOrderBound),
        op::layer_op("conv2d k3 s2 same (asymmetric pads)", conv(16, 32, 3, 2, Padding::Same, true), Shape{2, 16, 33, 16}, kSumOrderBound),
        op::layer_op("conv2d k4 s1 same (pads 1/2)", conv(8, 12, 4, 1, Padding::Same, false), Shape{2, 4, 16, 8}, kSumOrderBound),
        op::layer_op("conv2d k3 s1 same (symmetric pads)", conv(4, 6, 3, 1, Padding::Same, true), Shape{3, 7, 9, 4}, kSumOrderBound),
        op::layer_op("conv2d k3 s2 valid", conv(3, 5, 3, 2, Padding::Valid, false), Shape{2, 9, 11, 3}, kSumOrderBound),
        op::layer_op("conv2d k2x3 s1x2 same", conv(2, 3, 2, 1, Padding::Same, true, 3, 2), Shape{2, 6, 9, 2}, kSumOrderBound),
        op::layer_op("conv2d no input gradient", conv(4, 6, 3, 1, Padding::Same, true), Shape{3, 7, 9, 4}, kSumOrderBound, train, false),
        op::layer_op("batchnorm 4d", BatchNorm("bn", 16), Shape{4, 8, 17, 16}, kSumOrderBound, train, true, -2.0f, 3.0f),
        op::layer_op("batchnorm 2d", BatchNorm("bn", 10), Shape{32, 10}, kSumOrderBound, train, true, -2.0f, 3.0f),
        op::layer_op("batchnorm 4d infer", BatchNorm("bn", 16), Shape{4, 8, 17, 16}, kSumOrderBound, infer, true, -2.0f, 3.0f),
        op::layer_op("batchnorm 4d no input gradient", BatchNorm("bn", 16), Shape{4, 8, 17, 16}, kSumOrderBound, train, false, -2.0f, 3.0f),
        op::layer_op("maxpool 2x2 odd", MaxPool2D("pool", 2, 2), Shape{2, 9, 13, 8}, kExactBound),
        op::layer_op("maxpool 1x2", MaxPool2D("pool", 1, 2), Shape{2, 16, 129, 1}, kExactBound),
        op::layer_op("dropout 0.2", Dropout("drop", 0.2f, 5), Shape{2, 16, 33, 16}, kExactBound, train),
        op::layer_op("dropout 0.5", Dropout("drop", 0.5f, 5), Shape{32, 256}, kExactBound, train),
        op::layer_op("dense 256->10", Dense("dense", 256, 10), Shape{32, 256}, kSumOrderBound),
        op::layer_op("dense odd", Dense("dense", 7, 5), Shape{3, 7}, kSumOrderBound),
        op::layer_op("dense no input gradient", Dense("dense", 256, 10), Shape{32, 256}, kSumOrderBound, train, false),
        op::bilstm_op("bilstm sequences", 3, 9, 7, 6, true, kRecurrentBound),
        op::bilstm_op("bilstm last state", 3, 9, 12, 6, false, kRecurrentBound),
        op::bilstm_op("bilstm no input gradient", 2, 16, 9, 8, true, kRecurrentBound, train, false),
        op::bilstm_op("bilstm infer", 2, 16, 9, 8, false, kRecurrentBound, infer),
        softmax_xent_op("softmax_xent 32x10", 32, 10, 1e-6),
        softmax_xent_op("softmax_xent 5x100", 5, 100, 1e-6),
        frontend_op("frontend seed (truncated clips)", FrontendConfig::seed(), 2, 40000, false, 1e-4),
        frontend_op("frontend seed (zero-padded clips)", FrontendConfig::seed(), 2, 20000, false, 1e-4),
        frontend_op("frontend logstft", FrontendConfig::logstft(), 2, 66150, false, 1e-4),
        frontend_op("frontend logstft standardised", FrontendConfig::logstft(), 2, 66150, true, 1e-4),
        standardise_op("standardisation per bin", 1e-6),
        adam_op("adam 2 steps", 4099, 1e-6),
        accuracy_op("accuracy count", 64, 10),
    };
    // Every layer of a small RCNN at its place in the model (the descriptions bench_layers
    // times at the real shapes).
    for (Description& d : op::rcnn_layer_ops(ModelConfig::tiny(), 3)) {
      d.name = "tiny rcnn " + d.name;
      t.push_back(std::move(d));
    }
    return t;
  }();
  return table;
}

Tensors run(const Description& d, Context& ctx) {
  Prepared p = d.prepare(ctx);
  p.forward();
  if (p.backward) p.backward();
  return p.results();
}

// The names of the results whose normalised error exceeds `bound` (empty: all within).
std::vector<std::string> beyond_bound(const Tensors& got, const Tensors& want, double bound) {
  std::vector<std::string> bad;
  if (got.size() != want.size()) return {"result count " + std::to_string(got.size()) + " vs " + std::to_string(want.size())};
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double err = test::normalized_error(got[i], want[i]);
    if (!(err <= bound)) bad.push_back("result " + std::to_string(i) + " error " + std::to_string(err));
  }
  return bad;
}

std::string op_test_name(const ::testing::TestParamInfo<std::size_t>& info) {
  std::string s = ops_table()[info.param].name;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

class BackendOps : public ::testing::TestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(Table, BackendOps, ::testing::Range<std::size_t>(0, ops_table().size()), op_test_name);

TEST_P(BackendOps, CpuTwiceIsBitIdenticalFiniteAndNotAllZero) {
  const Description& d = ops_table()[GetParam()];
  Context cpu;
  const Tensors a = run(d, cpu), b = run(d, cpu);
  ASSERT_FALSE(a.empty()) << d.name;
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(test::bit_identical(a[i], b[i])) << d.name << ": result " << i;
    EXPECT_EQ(ops::count_non_finite(cpu, a[i]), 0) << d.name << ": result " << i;
    const std::vector<float> v = a[i].to_vector();
    EXPECT_TRUE(std::any_of(v.begin(), v.end(), [](float x) { return x != 0.0f; })) << d.name << ": result " << i
                                                                                     << " is all zero";
  }
}

// The comparison CudaMatchesCpu makes, on the CPU results: they pass against themselves, and a
// change just beyond the bound (twice it, or one ulp for an exact op) of the largest value of
// any one result is caught.
TEST_P(BackendOps, BoundCatchesAChangeJustBeyondIt) {
  const Description& d = ops_table()[GetParam()];
  Context cpu;
  const Tensors want = run(d, cpu);
  EXPECT_TRUE(beyond_bound(want, want, d.bound).empty()) << d.name;
  for (std::size_t i = 0; i < want.size(); ++i) {
    std::vector<float> v = want[i].to_vector();
    std::size_t at = 0;
    for (std::size_t j = 0; j < v.size(); ++j)
      if (std::fabs(v[j]) > std::fabs(v[at])) at = j;
    const float changed = d.bound > 0 ? static_cast<float>(v[at] + 2.0 * d.bound * std::fabs(v[at]))
                                      : std::nextafter(v[at], std::numeric_limits<float>::infinity());
    ASSERT_NE(changed, v[at]) << d.name << ": result " << i;
    v[at] = changed;
    Tensors got = want;
    got[i] = Tensor::from_vector(want[i].shape(), v);
    EXPECT_FALSE(beyond_bound(got, want, d.bound).empty()) << d.name << ": result " << i;
  }
}

TEST_P(BackendOps, CudaMatchesCpu) {
  const Description& d = ops_table()[GetParam()];
  if (!test::cuda_available()) GTEST_SKIP() << "no CUDA device: " << test::cuda_unavailable_reason();
  Context cpu, gpu(Device::cuda(0));
  const Tensors want = run(d, cpu), got = run(d, gpu);
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double err = test::normalized_error(got[i], want[i]);
    EXPECT_LE(err, d.bound) << d.name << ": result " << i << " normalised error " << err;
    std::printf("    %-48s result %zu: normalised error %.2e (bound %.0e)\n", d.name.c_str(), i, err, d.bound);
  }
}

// Backward without an input gradient (the model's first layers) writes the same parameter
// gradients as with one: rows "... no input gradient" against their twins, bit for bit.
TEST(BackendOpsCpu, NoInputGradientGivesTheSameParameterGradients) {
  const Pass train{Mode::Train};
  const struct {
    Description with, without;
  } pairs[] = {
      {op::layer_op("conv", conv(4, 6, 3, 1, Padding::Same, true), Shape{3, 7, 9, 4}, 0.0),
       op::layer_op("conv", conv(4, 6, 3, 1, Padding::Same, true), Shape{3, 7, 9, 4}, 0.0, train, false)},
      {op::layer_op("bn", BatchNorm("bn", 16), Shape{4, 8, 17, 16}, 0.0),
       op::layer_op("bn", BatchNorm("bn", 16), Shape{4, 8, 17, 16}, 0.0, train, false)},
      {op::layer_op("dense", Dense("dense", 256, 10), Shape{32, 256}, 0.0),
       op::layer_op("dense", Dense("dense", 256, 10), Shape{32, 256}, 0.0, train, false)},
      {op::bilstm_op("bilstm", 2, 16, 9, 8, true, 0.0), op::bilstm_op("bilstm", 2, 16, 9, 8, true, 0.0, train, false)},
  };
  Context cpu;
  for (const auto& p : pairs) {
    const Tensors a = run(p.with, cpu), b = run(p.without, cpu);
    // with: y, dx, grads[, buffers]; without: y, grads[, buffers].
    ASSERT_EQ(a.size(), b.size() + 1) << p.with.name;
    EXPECT_TRUE(test::bit_identical(a[0], b[0])) << p.with.name << ": y";
    EXPECT_TRUE(test::bit_identical(a[2], b[1])) << p.with.name << ": parameter gradients";
  }
}

}  // namespace
}  // namespace gn
