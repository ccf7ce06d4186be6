#include "engine/strict_json.h"

#include <set>
#include <vector>

#include "engine/error.h"

namespace gn {

namespace {
// Nesting depth of brackets outside strings. Checked before parsing so a hostile "[[[[..." of
// many megabytes is rejected in one cheap pass instead of growing the parser's stack.
int max_nesting(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > kMaxJsonDepth) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}
}  // namespace

nlohmann::json parse_json_strict(std::string_view text, const std::string& what) {
  using nlohmann::json;
  GN_REQUIRE(max_nesting(text) <= kMaxJsonDepth, what, " nests deeper than ", kMaxJsonDepth, " levels");
  // One set of seen keys per open object. The callback runs during parsing, before the DOM
  // merges duplicates, so it sees every key exactly as written.
  std::vector<std::set<std::string>> open_objects;
  std::string problem;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    if (!problem.empty()) return false;
    if (depth > kMaxJsonDepth) {
      problem = "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!open_objects.empty() && !open_objects.back().insert(key).second) {
          problem = "has the key \"" + key + "\" twice in one object";
          return false;
        }
        break;
      }
      default: break;
    }
    return true;
  };
  json result;
  try {
    result = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    if (problem.empty()) GN_FAIL(what, " is not valid JSON (", e.what(), ")");
  }
  GN_REQUIRE(problem.empty(), what, " ", problem);
  // A callback returning false on the root discards it; treat that like any other rejection.
  GN_REQUIRE(!result.is_discarded(), what, " is not valid JSON");
  return result;
}

}  // namespace gn
