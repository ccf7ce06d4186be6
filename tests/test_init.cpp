// Keras default initialisers: ranges, orthogonality, determinism.
#include <gtest/gtest.h>

#include <cmath>

#include "layers/init.h"
#include "tests/support.h"

namespace gn {
namespace {

TEST(Init, GlorotUniformUsesKerasFans) {
  Tensor w = Tensor::empty(Shape{3, 3, 16, 32});
  init::glorot_uniform(w, 42, 1);
  const double limit = std::sqrt(6.0 / (9 * 16 + 9 * 32));
  double max_abs = 0, mean = 0;
  for (float v : w.to_vector()) {
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(v)));
    mean += v;
  }
  mean /= w.numel();
  EXPECT_LE(max_abs, limit);
  EXPECT_GE(max_abs, 0.95 * limit);  // 4608 draws reach the edge
  EXPECT_NEAR(mean, 0.0, 0.05 * limit);
  Tensor again = Tensor::empty(w.shape());
  init::glorot_uniform(again, 42, 1);
  EXPECT_EQ(again.to_vector(), w.to_vector());
  init::glorot_uniform(again, 42, 2);
  EXPECT_NE(again.to_vector(), w.to_vector());
}

void expect_orthonormal_rows_or_cols(const Tensor& w) {
  const std::int64_t rows = w.dim(0), cols = w.dim(1);
  const auto v = w.to_vector();
  // rows < cols: W W^T = I (rows orthonormal); else W^T W = I.
  const bool by_rows = rows < cols;
  const std::int64_t k = by_rows ? rows : cols, len = by_rows ? cols : rows;
  for (std::int64_t a = 0; a < k; ++a)
    for (std::int64_t b = 0; b < k; ++b) {
      double dot = 0;
      for (std::int64_t i = 0; i < len; ++i)
        dot += by_rows ? static_cast<double>(v[a * cols + i]) * v[b * cols + i]
                       : static_cast<double>(v[i * cols + a]) * v[i * cols + b];
      // float32 storage of unit vectors: ~len * 6e-8 of rounding
      ASSERT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-5) << a << "," << b;
    }
}

TEST(Init, OrthogonalRecurrentKernelHasOrthonormalRows) {
  Tensor w = Tensor::empty(Shape{16, 64});  // (U, 4U) like a recurrent kernel
  init::orthogonal(w, 7, 3);
  expect_orthonormal_rows_or_cols(w);
  Tensor tall = Tensor::empty(Shape{40, 12});
  init::orthogonal(tall, 7, 4);
  expect_orthonormal_rows_or_cols(tall);
}

TEST(Init, PhiloxNormalHasUnitMoments) {
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = init::philox_normal(1, 2, i);
    s += x;
    s2 += x * x;
  }
  EXPECT_NEAR(s / n, 0.0, 0.015);      // 5 sigma of 1/sqrt(n) = 0.0022
  EXPECT_NEAR(s2 / n, 1.0, 0.02);      // 5 sigma of sqrt(2/n) = 0.0032
}

}  // namespace
}  // namespace gn
