// Philox 4x32-10 against the published known-answer vectors of Random123 (kat_vectors), and
// the dropout-style uniform stream on both devices.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "kernels/philox.h"
#include "tests/support.h"

namespace gn {
namespace {

struct Kat {
  std::uint32_t ctr[4], key[2], expected[4];
};

TEST(Philox, MatchesRandom123KnownAnswers) {
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const Philox4x32 r =
        philox4x32_10(Philox4x32{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}}, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.expected[i]) << "word " << i;
  }
}

TEST(Philox, UnitFloatsStayInRange) {
  EXPECT_EQ(uint_to_unit_float(0u), 0.0f);
  EXPECT_LT(uint_to_unit_float(0xffffffffu), 1.0f);
}

class PhiloxOnDevice : public test::DeviceTest {};

// The uniform stream is a pure function of (seed, step, stream, index): the device's values
// equal the host formula element by element, and they look uniform.
TEST_P(PhiloxOnDevice, UniformStreamIsTheSameOnEveryDevice) {
  const std::int64_t n = 100003;
  Tensor t = Tensor::empty(Shape{n}, device());
  ops::uniform(ctx(), t, -1.0f, 3.0f, /*seed=*/1234, /*step=*/5, /*stream=*/9);
  const std::vector<float> v = t.to_vector();
  double mean = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float expect = -1.0f + 4.0f * philox_uniform(1234, 5, 9, i);
    ASSERT_EQ(v[i], expect) << "element " << i;
    ASSERT_GE(v[i], -1.0f);
    ASSERT_LT(v[i], 3.0f);
    mean += v[i];
  }
  mean /= n;
  EXPECT_NEAR(mean, 1.0, 0.02);  // 4 / sqrt(12 n) ~ 0.0037: five sigma
  // Another step or stream gives other numbers.
  Tensor u = Tensor::empty(Shape{n}, device());
  ops::uniform(ctx(), u, -1.0f, 3.0f, 1234, 6, 9);
  EXPECT_NE(u.to_vector(), v);
}

GN_INSTANTIATE_DEVICE_TEST(PhiloxOnDevice);

}  // namespace
}  // namespace gn
