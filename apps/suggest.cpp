#include "apps/suggest.h"

#include <algorithm>

namespace gn::app {

int edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::string nearest(const std::string& typed, const std::vector<std::string>& candidates) {
  if (typed.size() < 3) return "";  // "-x": any one-letter flag is one edit away; no guess
  const int limit = std::clamp(static_cast<int>(typed.size()) / 3, 1, 3);
  std::string best;
  int best_distance = limit + 1;
  for (const std::string& c : candidates) {
    // A beginning counts as distance 1: "--epoch" is nearer --epochs than anything else.
    const int d = c.size() > typed.size() && c.rfind(typed, 0) == 0 ? 1 : edit_distance(typed, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace gn::app
