// The derived float32 tolerances (tests/fp32_bounds.h) separate what they must: an LSTM run
// with every sum in another order (what cuDNN does) stays inside the bound, and the same LSTM
// with two gates swapped (the classic i/f/g/o order mistake) lands far outside it. Runs on the
// CPU with a plain LSTM written out here, float32 against a double reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "tests/fp32_bounds.h"

namespace gn::test {
namespace {

constexpr int kIn = 16, kUnits = 32, kSteps = 64;  // the scale of the model's BiLSTM per step

struct Lstm {
  std::vector<double> w;  // (4 units) x (in + units + 1): gates i, f, g, o; bias last
};

// One forward pass over x (steps x in); `reverse_sums` adds every dot product backwards (another
// summation order), `swap_if` uses the f gate's weights for i and vice versa. T: float or double.
template <class T>
std::vector<T> run(const Lstm& m, const std::vector<double>& x, bool reverse_sums, bool swap_if, double* condition) {
  const int cols = kIn + kUnits + 1;
  std::vector<T> h(kUnits, 0), c(kUnits, 0), out;
  double largest_abs_sum = 0;  // over every gate pre-activation: sum of |w_k x_k|
  for (int t = 0; t < kSteps; ++t) {
    std::vector<T> in(cols);
    for (int k = 0; k < kIn; ++k) in[k] = static_cast<T>(x[t * kIn + k]);
    for (int k = 0; k < kUnits; ++k) in[kIn + k] = h[k];
    in[cols - 1] = 1;
    std::vector<T> gate(4 * kUnits);
    for (int r = 0; r < 4 * kUnits; ++r) {
      int row = r;
      if (swap_if && r < 2 * kUnits) row = r < kUnits ? r + kUnits : r - kUnits;
      T s = 0;
      double abs_sum = 0;
      for (int k = 0; k < cols; ++k) {
        const int kk = reverse_sums ? cols - 1 - k : k;
        s += static_cast<T>(m.w[row * cols + kk]) * in[kk];
        abs_sum += std::fabs(m.w[row * cols + kk] * static_cast<double>(in[kk]));
      }
      gate[r] = s;
      largest_abs_sum = std::max(largest_abs_sum, abs_sum);
    }
    for (int u = 0; u < kUnits; ++u) {
      const T i = 1 / (1 + std::exp(-gate[u])), f = 1 / (1 + std::exp(-gate[kUnits + u]));
      const T g = std::tanh(gate[2 * kUnits + u]), o = 1 / (1 + std::exp(-gate[3 * kUnits + u]));
      c[u] = f * c[u] + i * g;
      h[u] = o * std::tanh(c[u]);
      out.push_back(h[u]);
    }
  }
  // A gate's absolute error reaches h through derivatives <= 1, so relative to the output scale
  // max |h| the condition is (largest sum of |terms|) / max |h|.
  double scale = 1e-30;
  for (const T v : out) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  if (condition) *condition = std::max(1.0, largest_abs_sum / scale);
  return out;
}

double normalised(const std::vector<float>& a, const std::vector<double>& ref) {
  double diff = 0, scale = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - ref[i]));
    scale = std::max(scale, std::fabs(ref[i]));
  }
  return diff / scale;
}

TEST(Fp32Bounds, AnotherSummationOrderPassesAndASwappedGateFails) {
  std::mt19937 rng(3);
  const double limit = std::sqrt(6.0 / (kIn + kUnits + 4 * kUnits));  // Glorot, as the model initialises
  std::uniform_real_distribution<double> w(-limit, limit), xs(-1, 1);
  Lstm m{std::vector<double>(4 * kUnits * (kIn + kUnits + 1))};
  for (double& v : m.w) v = w(rng);
  std::vector<double> x(kSteps * kIn);
  for (double& v : x) v = xs(rng);

  double condition = 1;
  const std::vector<double> exact = run<double>(m, x, false, false, &condition);
  // 4 functions per unit and step: 3 sigmoids/tanh on the gates, tanh of the cell.
  const double bound = fp32_recurrence_bound(kSteps, kIn + kUnits + 1, condition, 4);
  // Both float32 orders are within half the two-implementation bound of the exact result, so
  // within the bound of each other; the check against the exact value is the stronger one.
  const double forward_order = normalised(run<float>(m, x, false, false, nullptr), exact);
  const double reversed_order = normalised(run<float>(m, x, true, false, nullptr), exact);
  const double swapped = normalised(run<float>(m, x, false, true, nullptr), exact);
  std::printf("    bound %.2e (condition %.1f): float32 orders %.2e / %.2e, swapped i/f gates %.2e\n", bound,
              condition, forward_order, reversed_order, swapped);
  EXPECT_LE(forward_order, bound / 2);
  EXPECT_LE(reversed_order, bound / 2);
  // The worst-case bound is far above what rounding really does here (~1e4 times), and still
  // two orders of magnitude below what one swapped pair of gates does.
  EXPECT_GT(swapped, 100 * bound) << "the bound is too loose to catch a gate-order mistake";
}

TEST(Fp32Bounds, GrowWithTermsConditionAndSteps) {
  EXPECT_NEAR(fp32_gamma(1), std::ldexp(1.0, -24), 1e-6 * std::ldexp(1.0, -24));
  EXPECT_LT(fp32_sum_bound(10), fp32_sum_bound(1000));
  EXPECT_LT(fp32_sum_bound(100, 1), fp32_sum_bound(100, 8));
  EXPECT_DOUBLE_EQ(fp32_recurrence_bound(10, 100, 2, 1), 10 * fp32_sum_bound(100, 2, 1));
  // A 3x3x64 convolution tap count (576 terms) on well-conditioned data: about 7e-5.
  EXPECT_NEAR(fp32_sum_bound(576), 2 * 576 * std::ldexp(1.0, -24), 1e-8);
}

}  // namespace
}  // namespace gn::test
