// The genrenet command table. Each sub-command lives in its own apps/cmd_*.cpp and registers
// itself with GN_COMMAND, so adding a command touches no other file.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace gn::app {

struct Command {
  std::string name;
  std::string summary;  // one line for `genrenet help`
  std::function<int(const std::vector<std::string>& args)> run;  // returns the exit status
};

std::vector<Command>& command_table();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string summary,
                   std::function<int(const std::vector<std::string>&)> run) {
    command_table().push_back({std::move(name), std::move(summary), std::move(run)});
  }
};

#define GN_COMMAND(name, summary, fn) \
  static ::gn::app::CommandRegistrar gn_command_registrar_##fn(name, summary, fn)

}  // namespace gn::app
