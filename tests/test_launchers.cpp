// Both launchers run the same functors: every op is compared with a plain host loop.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/elementwise.h"
#include "kernels/launch_cpu.h"
#include "tests/support.h"

namespace gn {
namespace {

class Launchers : public test::DeviceTest {};

// Sizes around the launchers' thresholds and block boundaries, and one above the 4096-block
// grid cap, so grid-stride loops and OpenMP chunking are both exercised.
const std::int64_t kSizes[] = {1, 255, 256, 257, 4097, 1 << 20, (1 << 20) * 4 + 3};

TEST_P(Launchers, ElementwiseOpsMatchAHostLoop) {
  for (std::int64_t n : kSizes) {
    const auto xa = test::random_values(n, 1), ya = test::random_values(n, 2);
    const Tensor x = Tensor::from_vector(Shape{n}, xa, device());
    Tensor y = Tensor::from_vector(Shape{n}, ya, device());
    ops::axpby(ctx(), y, x, 0.5f, -2.0f);
    auto got = y.to_vector();
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], 0.5f * xa[i] + -2.0f * ya[i]) << "axpby n=" << n << " i=" << i;

    Tensor r = Tensor::empty(Shape{n}, device());
    ops::relu(ctx(), r, x);
    got = r.to_vector();
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], xa[i] > 0 ? xa[i] : 0.0f) << "relu n=" << n;

    Tensor s = Tensor::empty(Shape{n}, device());
    ops::add(ctx(), s, x, x);
    got = s.to_vector();
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], xa[i] + xa[i]) << "add n=" << n;

    ops::fill(ctx(), s, 3.5f);
    for (float v : s.to_vector()) ASSERT_EQ(v, 3.5f);
  }
}

TEST_P(Launchers, ReductionsMatchADoubleSum) {
  for (std::int64_t n : kSizes) {
    const auto xa = test::random_values(n, 3);
    const Tensor x = Tensor::from_vector(Shape{n}, xa, device());
    double sum = 0, sq = 0;
    for (float v : xa) {
      sum += v;
      sq += static_cast<double>(v * v);  // the functor squares in float, sums in double
    }
    // Both sides accumulate in double; only the order differs: relative 1e-12 of the mass.
    EXPECT_NEAR(ops::sum(ctx(), x), sum, 1e-12 * n + 1e-12) << "n=" << n;
    EXPECT_NEAR(ops::sum_of_squares(ctx(), x), sq, 1e-12 * n + 1e-12) << "n=" << n;
  }
}

TEST_P(Launchers, ReductionIsBitReproducible) {
  const Tensor x = test::random_tensor(Shape{(1 << 20) + 17}, 5, device());
  const double a = ops::sum(ctx(), x), b = ops::sum(ctx(), x);
  EXPECT_EQ(a, b);
}

TEST_P(Launchers, CountsNonFiniteValues) {
  std::vector<float> v(10000, 1.0f);
  v[3] = std::numeric_limits<float>::quiet_NaN();
  v[77] = std::numeric_limits<float>::infinity();
  v[9999] = -std::numeric_limits<float>::infinity();
  const Tensor x = Tensor::from_vector(Shape{10000}, v, device());
  EXPECT_EQ(ops::count_non_finite(ctx(), x), 3);
}

TEST_P(Launchers, MismatchedSizesAreAnError) {
  Tensor a = Tensor::zeros(Shape{4}, device());
  const Tensor b = Tensor::zeros(Shape{5}, device());
  EXPECT_THROW(ops::add(ctx(), a, a, b), Error);
}

GN_INSTANTIATE_DEVICE_TEST(Launchers);

TEST(CpuLauncher, ReduceSumIsIndependentOfSchedulingForFixedThreads) {
  // Per-thread fixed chunks, combined in thread order: the same bits every time.
  const auto xa = test::random_values(1 << 16, 9);
  const double first = cpu::reduce_sum(1 << 16, fn::SumOf{xa.data()});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cpu::reduce_sum(1 << 16, fn::SumOf{xa.data()}), first);
}

TEST(CpuLauncher, ForEachRunsEveryIndexOnce) {
  std::vector<int> hits(100000, 0);
  cpu::for_each(100000, [&](index_t i) { hits[i] += 1; });
  for (int h : hits) ASSERT_EQ(h, 1);
}

}  // namespace
}  // namespace gn
