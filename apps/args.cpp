#include "apps/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "apps/suggest.h"
#include "engine/error.h"

namespace gn::app {

namespace {
// The short forms people expect; each stands for its long flag where the command has that flag.
const std::map<std::string, std::string> kShortFlags = {{"-o", "out"}, {"-m", "model"}, {"-q", "quiet"}, {"-h", "help"}};
}  // namespace

Args::Args(const std::string& command, const std::vector<std::string>& argv,
           const std::set<std::string>& value_flags, const std::set<std::string>& bool_flags)
    : command_(command) {
  const std::string see = "; see `genrenet " + command + " --help`";
  auto unknown = [&](const std::string& typed) {
    std::vector<std::string> names;
    for (const auto& f : value_flags) names.push_back("--" + f);
    for (const auto& f : bool_flags) names.push_back("--" + f);
    for (const auto& [short_flag, long_flag] : kShortFlags)
      if (value_flags.count(long_flag) || bool_flags.count(long_flag)) names.push_back(short_flag);
    const std::string guess = nearest(typed, names);
    GN_FAIL("unknown option '", typed, "'", guess.empty() ? "" : " (did you mean " + guess + "?)", see);
  };
  for (std::size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (const auto s = kShortFlags.find(a); s != kShortFlags.end()) {
      if (value_flags.count(s->second) || bool_flags.count(s->second)) a = "--" + s->second;
    }
    if (a.size() < 2 || a.rfind("--", 0) != 0) {
      if (!a.empty() && a[0] == '-' && a != "-") unknown(a);
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
    GN_REQUIRE(!values_.count(name), "--", name, " given twice");
    if (bool_flags.count(name)) {
      GN_REQUIRE(!inline_value, "--", name, " takes no value");
      values_[name] = "1";
    } else if (value_flags.count(name)) {
      if (!inline_value) {
        GN_REQUIRE(i + 1 < argv.size(), "--", name, " needs a value", see);
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      unknown("--" + name);
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
  GN_REQUIRE(!s.empty() && end && *end == '\0' && errno == 0, "--", flag, " expects an integer, got '", s, "'");
  GN_REQUIRE(v >= min && v <= max, "--", flag, " must be in [", min, ", ", max, "], got ", v);
  return v;
}

double Args::number(const std::string& flag, double fallback, double min, double max) const {
  const auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  GN_REQUIRE(!s.empty() && end && *end == '\0' && errno == 0 && std::isfinite(v), "--", flag,
             " expects a number, got '", s, "'");
  GN_REQUIRE(v >= min && v <= max, "--", flag, " must be in [", min, ", ", max, "], got ", s);
  return v;
}

}  // namespace gn::app
