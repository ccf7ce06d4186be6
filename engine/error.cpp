#include "engine/error.h"

namespace gn::detail {
void throw_error(const std::string& message) { throw Error(message); }
}  // namespace gn::detail
