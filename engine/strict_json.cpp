#include "engine/strict_json.h"

#include <cmath>
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

std::int64_t json_int(const nlohmann::json& j, const char* key, std::int64_t lo, std::int64_t hi,
                      const std::string& what) {
  GN_REQUIRE(j.is_object(), what, ": expected a JSON object, got ", j.type_name());
  const auto it = j.find(key);
  GN_REQUIRE(it != j.end(), what, ": '", key, "' is missing");
  const nlohmann::json& v = *it;
  GN_REQUIRE(v.is_number_integer(), what, ": '", key, "' must be an integer in [", lo, ", ", hi, "], got ", v.dump());
  // Unsigned values above INT64_MAX are compared as unsigned, never cast to a negative number.
  const bool in_range = v.is_number_unsigned()
                            ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi) && (lo <= 0 || v.get<std::uint64_t>() >= static_cast<std::uint64_t>(lo))
                            : v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
  GN_REQUIRE(in_range, what, ": '", key, "' is ", v.dump(), ", outside [", lo, ", ", hi, "]");
  return v.get<std::int64_t>();
}

std::int64_t json_int_or(const nlohmann::json& j, const char* key, std::int64_t fallback, std::int64_t lo,
                         std::int64_t hi, const std::string& what) {
  GN_REQUIRE(j.is_object(), what, ": expected a JSON object, got ", j.type_name());
  return j.contains(key) ? json_int(j, key, lo, hi, what) : fallback;
}

double json_number(const nlohmann::json& j, const char* key, double lo, double hi, const std::string& what) {
  GN_REQUIRE(j.is_object(), what, ": expected a JSON object, got ", j.type_name());
  const auto it = j.find(key);
  GN_REQUIRE(it != j.end(), what, ": '", key, "' is missing");
  GN_REQUIRE(it->is_number(), what, ": '", key, "' must be a number in [", lo, ", ", hi, "], got ", it->dump());
  const double v = it->get<double>();
  GN_REQUIRE(std::isfinite(v) && v >= lo && v <= hi, what, ": '", key, "' is ", it->dump(), ", outside [", lo, ", ",
             hi, "]");
  return v;
}

double json_number_or(const nlohmann::json& j, const char* key, double fallback, double lo, double hi,
                      const std::string& what) {
  GN_REQUIRE(j.is_object(), what, ": expected a JSON object, got ", j.type_name());
  return j.contains(key) ? json_number(j, key, lo, hi, what) : fallback;
}

}  // namespace gn
