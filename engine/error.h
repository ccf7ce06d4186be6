// Errors are values a person can read: every failure becomes a gn::Error whose message says
// what failed and where. Apps catch it at the top, print it once and exit non-zero.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace gn {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The user stopped the work (Ctrl-C); the message says what was kept. Apps exit with 130, the
// shell's status for SIGINT.
class Interrupted : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const std::string& message);
}  // namespace detail

// GN_FAIL("could not open ", path): throw gn::Error with the pieces concatenated.
#define GN_FAIL(...) ::gn::detail::throw_error(::gn::detail::concat(__VA_ARGS__))

// GN_REQUIRE(cond, "message pieces"...): a check on input a user or caller can get wrong.
#define GN_REQUIRE(cond, ...)                  \
  do {                                         \
    if (!(cond)) GN_FAIL(__VA_ARGS__);         \
  } while (0)

}  // namespace gn
