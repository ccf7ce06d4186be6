// CPU driver for per-channel sums over the rows of a (rows, C) row-major tensor (bias
// gradients, BatchNorm statistics): rows are taken in fixed blocks of kBlockRows, each block
// summed by one OpenMP thread over contiguous memory, and the block partials added in block
// order, so the result does not depend on the thread count (bit-reproducible training).
// The per-row arithmetic is a functor term(r, acc) from kernels/*.h adding row r into acc (K, C).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace gn::cpu {

constexpr std::int64_t kChannelSumBlockRows = 1024;

template <int K, class Term>
void channel_sums(std::int64_t rows, std::int64_t channels, Term term, std::vector<double>& partial, double* out) {
  const std::int64_t blocks = (rows + kChannelSumBlockRows - 1) / kChannelSumBlockRows, width = K * channels;
  partial.assign(static_cast<std::size_t>(blocks * width), 0.0);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (std::int64_t b = 0; b < blocks; ++b) {
    double* acc = partial.data() + b * width;
    const std::int64_t end = std::min(rows, (b + 1) * kChannelSumBlockRows);
    for (std::int64_t r = b * kChannelSumBlockRows; r < end; ++r) term(r, acc);
  }
  for (std::int64_t j = 0; j < width; ++j) {
    double s = 0.0;
    for (std::int64_t b = 0; b < blocks; ++b) s += partial[b * width + j];
    out[j] = s;
  }
}

// out[c] = (float) sum over rows of x[r, c].
template <class RowSum>
void column_sums(float* out, std::int64_t rows, std::int64_t channels, RowSum term, std::vector<double>& partial) {
  std::vector<double> sums(static_cast<std::size_t>(channels));
  channel_sums<1>(rows, channels, term, partial, sums.data());
  for (std::int64_t c = 0; c < channels; ++c) out[c] = static_cast<float>(sums[c]);
}

}  // namespace gn::cpu
