// A generic finite-difference gradient checker (Caffe's GradientChecker, central differences),
// for any layer or model on any device. The loss is L = sum(R * f(...)) for a fixed random R,
// so dL/dy = R is fed to backward and every analytic gradient is compared element by element
// with (L(v + h) - L(v - h)) / 2h, accumulated in double.
//
// Any layer, through the one contract of layers/layer.h (input and every declared parameter):
//
//   Conv2D conv("conv", 3, 4, 3, 2, Padding::Same, true);
//   test::LayerGradCheck check(ctx, conv, {.input = Shape{2, 5, 7, 3}});
//   EXPECT_EQ(check.run(), 0);   // EXPECTs, naming tensor and element of each failure
//
// Anything else (a model, a hand-written function): set forward / backward and name the
// tensors to check:
//
//   test::GradCheck check(ctx);
//   check.forward = [&] { return model.forward(ctx, x, Mode::Train, rng); };
//   check.backward = [&](const Tensor& dy) { model.backward(ctx, dy); };
//   check.wrt("head.dense.kernel", store.param("head.dense.kernel"), store.grad("head.dense.kernel"));
//   check.run();
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/memory.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/layer.h"
#include "tests/support.h"

namespace gn::test {

struct GradCheck {
  explicit GradCheck(Context& c) : ctx(c) {}

  Context& ctx;
  std::function<Tensor()> forward;                 // returns the output (any shape)
  std::function<void(const Tensor& dy)> backward;  // fills the gradients named by wrt()
  // Central-difference step and the threshold on |a - n| / max(|a|, |n|, 1). With float32
  // forward passes the numeric estimate carries ~eps * |L| / h of rounding noise (1e-7 * 1e1 /
  // 1e-2 = 1e-4) plus O(h^2) truncation; 1e-2 / 5e-3 is Caffe's usual pairing for float.
  float step = 1e-2f;
  double threshold = 5e-3;
  // Elements checked per tensor: all when the tensor is small, else a fixed random sample.
  int max_checks_per_tensor = 64;
  // Kinks (ReLU at 0, max-pool ties) make central differences meaningless: points where the
  // two one-sided differences disagree by more than this are skipped (and counted).
  double kink_tolerance = 0.05;
  std::uint32_t seed = 1234;
  // Whole-model checks cross ReLU and max-pool kinks that the one-sided test above cannot
  // always see (many units, each a small kink). Such a check may allow a fraction of elements
  // between `threshold` and `outlier_threshold`; anything beyond outlier_threshold, or more
  // outliers than allowed, still fails. Wiring mistakes (a missing branch, a wrong sign, a
  // swapped tensor) give O(1) errors on most elements, so they are still caught. Layer-level
  // checks keep the defaults: no outliers.
  double outlier_threshold = 0.0;  // 0 = same as threshold
  double max_outlier_fraction = 0.0;

  struct Target {
    std::string name;
    Tensor value;  // perturbed in place (a view is fine)
    Tensor grad;   // analytic gradient, written by backward
  };
  std::vector<Target> targets;
  void wrt(const std::string& name, const Tensor& value, const Tensor& grad) {
    targets.push_back({name, value, grad});
  }

  int skipped_kinks = 0;
  // When false, run() only counts wrong elements (for testing the checker itself).
  bool report = true;

  // Returns the number of wrong elements over all targets (0 when every gradient is right).
  int run() {
    if (!forward || !backward) {
      ADD_FAILURE() << "GradCheck needs forward and backward";
      return -1;
    }
    int total_failures = 0;
    const Tensor y0 = forward();
    const std::vector<float> r = random_values(y0.numel(), seed, -1.0f, 1.0f);
    const Tensor dy = Tensor::from_vector(y0.shape(), r, y0.device());
    backward(dy);
    std::vector<std::vector<float>> analytic;
    for (auto& t : targets) analytic.push_back(t.grad.to_vector());

    auto loss = [&]() {
      const std::vector<float> y = forward().to_vector();
      double l = 0;
      for (std::size_t i = 0; i < y.size(); ++i) l += static_cast<double>(r[i]) * y[i];
      return l;
    };
    const double l0 = loss();
    for (std::size_t t = 0; t < targets.size(); ++t) {
      Target& tg = targets[t];
      const std::int64_t n = tg.value.numel();
      std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) idx[i] = i;
      if (n > max_checks_per_tensor) {
        std::mt19937 rng(seed + static_cast<std::uint32_t>(t));
        std::shuffle(idx.begin(), idx.end(), rng);
        idx.resize(max_checks_per_tensor);
      }
      int failures = 0, outliers = 0;
      const double hard = std::max(threshold, outlier_threshold);
      for (std::int64_t i : idx) {
        const float original = get(tg.value, i);
        set(tg.value, i, original + step);
        const double lp = loss();
        set(tg.value, i, original - step);
        const double lm = loss();
        set(tg.value, i, original);
        const double numeric = (lp - lm) / (2.0 * step);
        const double right = (lp - l0) / step, left = (l0 - lm) / step;
        if (std::fabs(right - left) > kink_tolerance * std::max({1.0, std::fabs(right), std::fabs(left)})) {
          ++skipped_kinks;
          continue;
        }
        const double a = analytic[t][i];
        const double scale = std::max({std::fabs(a), std::fabs(numeric), 1.0});
        const double rel = std::fabs(a - numeric) / scale;
        if (rel > threshold && rel <= hard) {
          ++outliers;
          continue;
        }
        if (rel > threshold && ++failures <= 5 && report) {
          ADD_FAILURE() << tg.name << "[" << i << "]: analytic " << a << " vs numeric " << numeric
                        << " (relative " << std::fabs(a - numeric) / scale << " > " << threshold << ")";
        }
      }
      if (outliers > max_outlier_fraction * static_cast<double>(idx.size())) failures += outliers;
      if (report) {
        EXPECT_EQ(failures, 0) << tg.name << ": " << failures << " of " << idx.size() << " elements wrong"
                               << " (" << outliers << " between " << threshold << " and " << hard << ")";
      }
      total_failures += failures;
    }
    // A check that skipped most points as kinks proves nothing.
    std::size_t total = 0;
    for (auto& tg : targets) total += std::min<std::int64_t>(tg.value.numel(), max_checks_per_tensor);
    EXPECT_LE(skipped_kinks, static_cast<int>(total / 4) + 1) << "too many kinks skipped";
    return total_failures;
  }

 private:
  static float get(const Tensor& t, std::int64_t i) {
    float v;
    copy_bytes(&v, Device::cpu(), t.data() + i, t.device(), sizeof(float));
    return v;
  }
  static void set(Tensor& t, std::int64_t i, float v) {
    copy_bytes(t.data() + i, t.device(), &v, Device::cpu(), sizeof(float));
  }
};

// What a layer-level check draws and passes: the input's shape and value range, the
// parameters' range, the Pass given to forward and backward, and whether backward gets an
// input gradient (false: dx = nullptr, only the parameter gradients are checked).
struct LayerCheckSetup {
  Shape input;
  Pass pass{Mode::Train};
  float input_lo = -1.0f, input_hi = 1.0f;
  float param_lo = -0.5f, param_hi = 0.5f;
  std::uint32_t seed = 5;         // the input's values
  std::uint32_t param_seed = 11;  // the flat parameter buffer's values
  bool input_gradient = true;
};

// One gradient check of any layer through the contract of layers/layer.h: declares its
// parameters in a fresh store on ctx's device, draws the input and parameters, and checks the
// input gradient and every declared parameter's gradient by name. The thresholds of GradCheck
// may be tuned before run(). Holds the layer by reference; not copyable (the functions it
// runs point into it).
template <class Layer>
struct LayerGradCheck : GradCheck {
  LayerGradCheck(Context& c, Layer& l, const LayerCheckSetup& setup) : GradCheck(c), layer(l), s(setup) {
    layer.declare(store);
    store.allocate(ctx.device());
    if (store.num_params() > 0)
      store.params().copy_from(random_tensor(store.params().shape(), s.param_seed, Device::cpu(), s.param_lo, s.param_hi));
    x = random_tensor(s.input, s.seed, ctx.device(), s.input_lo, s.input_hi);
    y = Tensor::empty(layer.output_shape(s.input), ctx.device());
    dx = Tensor::empty(s.input, ctx.device());
    forward = [this] {
      layer.forward(ctx, store, y, x, s.pass);
      return y;
    };
    backward = [this](const Tensor& dy) {
      layer.backward(ctx, store, s.input_gradient ? &dx : nullptr, dy, x, y, s.pass);
    };
    if (s.input_gradient) wrt("input", x, dx);
    for (const ParameterStore::Entry& e : store.entries())
      if (e.kind == ParameterStore::Kind::Parameter) {
        const ParameterStore::Handle h = store.handle(e.name);
        wrt(e.name, store.param(h), store.grad(h));
      }
  }
  LayerGradCheck(const LayerGradCheck&) = delete;
  LayerGradCheck& operator=(const LayerGradCheck&) = delete;

  Layer& layer;
  LayerCheckSetup s;
  ParameterStore store;
  Tensor x, y, dx;
};

}  // namespace gn::test
