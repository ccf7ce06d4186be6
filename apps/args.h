// A small, strict flag parser shared by every sub-command: `--name value`, `--name=value`,
// boolean `--flag`, the short forms -o (--out), -m (--model), -q (--quiet) and -h (--help) where
// the command has the long one, and positional arguments ("-" is one: standard input). Unknown
// flags, missing values and malformed numbers are errors that name the flag (an unknown one
// with the nearest known one), so a typo never silently falls back to a default. The messages
// do not name the command: main prefixes every error with it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gn::app {

class Args {
 public:
  // `value_flags` take a value, `bool_flags` do not. Throws gn::Error on anything else.
  Args(const std::string& command, const std::vector<std::string>& argv,
       const std::set<std::string>& value_flags, const std::set<std::string>& bool_flags);

  bool has(const std::string& flag) const { return values_.count(flag) > 0; }
  bool flag(const std::string& name) const { return has(name); }
  std::string str(const std::string& flag, const std::string& fallback) const;
  std::optional<std::string> opt(const std::string& flag) const;
  std::int64_t integer(const std::string& flag, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) const;
  double number(const std::string& flag, double fallback, double min, double max) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace gn::app
