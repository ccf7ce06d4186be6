#include "apps/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "engine/error.h"

namespace gn::app {

Args::Args(const std::string& command, const std::vector<std::string>& argv,
           const std::set<std::string>& value_flags, const std::set<std::string>& bool_flags)
    : command_(command) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() < 2 || a.rfind("--", 0) != 0) {
      GN_REQUIRE(a.empty() || a[0] != '-' || a == "-", "genrenet ", command, ": unknown option '", a,
                 "' (see genrenet ", command, " --help)");
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    GN_REQUIRE(!values_.count(name), "genrenet ", command, ": --", name, " given twice");
    if (bool_flags.count(name)) {
      GN_REQUIRE(!inline_value, "genrenet ", command, ": --", name, " takes no value");
      values_[name] = "1";
    } else if (value_flags.count(name)) {
      if (!inline_value) {
        GN_REQUIRE(i + 1 < argv.size(), "genrenet ", command, ": --", name, " needs a value");
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      GN_FAIL("genrenet ", command, ": unknown option '--", name, "' (see genrenet ", command, " --help)");
    }
  }
}

std::string Args::str(const std::string& flag, const std::string& fallback) const {
  const auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

std::optional<std::string> Args::opt(const std::string& flag) const {
  const auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::int64_t Args::integer(const std::string& flag, std::int64_t fallback, std::int64_t min,
                           std::int64_t max) const {
  const auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  GN_REQUIRE(!s.empty() && end && *end == '\0' && errno == 0, "genrenet ", command_, ": --", flag,
             " expects an integer, got '", s, "'");
  GN_REQUIRE(v >= min && v <= max, "genrenet ", command_, ": --", flag, " must be in [", min, ", ", max,
             "], got ", v);
  return v;
}

double Args::number(const std::string& flag, double fallback, double min, double max) const {
  const auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  GN_REQUIRE(!s.empty() && end && *end == '\0' && errno == 0 && std::isfinite(v), "genrenet ", command_,
             ": --", flag, " expects a number, got '", s, "'");
  GN_REQUIRE(v >= min && v <= max, "genrenet ", command_, ": --", flag, " must be in [", min, ", ", max,
             "], got ", s);
  return v;
}

}  // namespace gn::app
