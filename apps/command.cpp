#include "apps/command.h"

namespace gn::app {
std::vector<Command>& command_table() {
  static std::vector<Command> table;  // function-local: safe during static registration
  return table;
}
}  // namespace gn::app
