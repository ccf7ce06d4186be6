// The cuDNN algorithm rule (layers/algo_pick.h) on made-up perf lists: runs without a GPU.
#include <gtest/gtest.h>

#include <cstddef>

#include "layers/algo_pick.h"

namespace gn {
namespace {

enum class St { ok, failed };
enum class Det { deterministic, non_deterministic };
struct Perf {
  St status;
  Det determinism;
  std::size_t memory;
};
constexpr std::size_t kLimit = 1000;

AlgoChoice pick(const std::initializer_list<Perf>& list) {
  return pick_algorithm(list.begin(), static_cast<int>(list.size()), St::ok, Det::deterministic, kLimit);
}

TEST(AlgoPick, FastestDeterministicWithinTheWorkspaceLimit) {
  const AlgoChoice c = pick({{St::ok, Det::non_deterministic, 0},
                             {St::failed, Det::deterministic, 0},
                             {St::ok, Det::deterministic, 5000},
                             {St::ok, Det::deterministic, 10},
                             {St::ok, Det::deterministic, 0}});
  EXPECT_EQ(c.index, 3);
  EXPECT_TRUE(c.deterministic);
}

TEST(AlgoPick, DeterministicBeyondTheLimitBeatsANonDeterministicOne) {
  const AlgoChoice c = pick({{St::ok, Det::non_deterministic, 0}, {St::ok, Det::deterministic, 5000}});
  EXPECT_EQ(c.index, 1);
  EXPECT_TRUE(c.deterministic);
}

TEST(AlgoPick, NonDeterministicOnlyWhenNothingElseWorksAndThenItSaysSo) {
  const AlgoChoice c = pick({{St::failed, Det::deterministic, 0}, {St::ok, Det::non_deterministic, 0}});
  EXPECT_EQ(c.index, 1);
  EXPECT_FALSE(c.deterministic);
}

TEST(AlgoPick, NothingSucceededIsNoChoice) {
  EXPECT_EQ(pick({{St::failed, Det::deterministic, 0}}).index, -1);
  EXPECT_EQ(pick({}).index, -1);
}

}  // namespace
}  // namespace gn
