// "Did you mean ...?": the nearest of a set of names to a mistyped one, as git suggests a
// command. Near means an edit distance (insertions, deletions, substitutions and swaps of two
// neighbours) of at most a third of the name's length (at least 1, at most 3), or that the
// typed text begins the name (--epoch for --epochs).
#pragma once

#include <string>
#include <vector>

namespace gn::app {

// Optimal string alignment distance between a and b.
int edit_distance(const std::string& a, const std::string& b);

// The nearest candidate, or "" when none is near.
std::string nearest(const std::string& typed, const std::vector<std::string>& candidates);

}  // namespace gn::app
