// Which cuDNN algorithm a layer runs, as a pure function of cuDNN's perf list, so that the rule
// is tested on any machine (tests/test_algo_pick.cpp) with made-up lists.
//
// Rule: fastest first (cuDNN sorts the list), and among the algorithms that succeeded:
//   1. deterministic and within the workspace limit;
//   2. deterministic with any workspace (bit-identical runs matter more than memory);
//   3. only then a non-deterministic one, and the caller must say so (never silently).
#pragma once

#include <cstddef>

namespace gn {

struct AlgoChoice {
  int index = -1;              // into the perf list; -1: nothing succeeded
  bool deterministic = false;  // false: results may differ run to run (the caller warns)
};

// Perf: cuDNN's cudnnConvolution*AlgoPerf_t (fields status, determinism, memory), or a test's.
template <class Perf, class Status, class Determinism>
AlgoChoice pick_algorithm(const Perf* perf, int count, Status success, Determinism deterministic,
                          std::size_t max_workspace) {
  for (int i = 0; i < count; ++i)
    if (perf[i].status == success && perf[i].determinism == deterministic && perf[i].memory <= max_workspace)
      return {i, true};
  for (int i = 0; i < count; ++i)
    if (perf[i].status == success && perf[i].determinism == deterministic) return {i, true};
  for (int i = 0; i < count; ++i)
    if (perf[i].status == success) return {i, false};
  return {};
}

}  // namespace gn
