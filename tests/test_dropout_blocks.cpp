// The CPU dropout launch (fn::DropoutApplyBlocks: one Philox block per four elements) against
// the per-element functor the CUDA path runs (fn::DropoutApply): the same mask and values bit
// for bit, for lengths that do and do not fill the last block, and in place.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernels/dropout.h"
#include "kernels/launch_cpu.h"

namespace gn {
namespace {

TEST(DropoutBlocks, MatchesThePerElementFunctorBitForBit) {
  for (index_t n : {1, 2, 3, 4, 5, 7, 8, 13, 4097, 20001}) {
    std::vector<float> in(static_cast<std::size_t>(n)), ref(in.size()), fast(in.size());
    for (index_t i = 0; i < n; ++i) in[i] = 0.5f + static_cast<float>(i % 97) / 97.0f;  // never 0
    const fn::DropoutApply per_element{ref.data(), in.data(), 0.3f, 1.0f / 0.7f, 42, 9, 101};
    for (index_t i = 0; i < n; ++i) per_element(i);
    fn::DropoutApply f = per_element;
    f.out = fast.data();
    cpu::for_each((n + 3) / 4, fn::DropoutApplyBlocks{f, n});
    std::int64_t dropped = 0;
    for (index_t i = 0; i < n; ++i) {
      ASSERT_EQ(fast[i], ref[i]) << "n " << n << " element " << i;  // exact: same words, same formula
      dropped += ref[i] == 0.0f;
    }
    if (n > 1000) EXPECT_GT(dropped, 0);  // the comparison saw both kept and dropped elements
    // In place (out aliases in), as the functor allows.
    std::vector<float> inplace = in;
    f.out = inplace.data();
    f.in = inplace.data();
    cpu::for_each((n + 3) / 4, fn::DropoutApplyBlocks{f, n});
    EXPECT_EQ(inplace, ref) << n;
  }
}

}  // namespace
}  // namespace gn
