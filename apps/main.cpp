// genrenet: the command line. Sub-commands register themselves (apps/command.h); this file
// dispatches, prints help, and turns every gn::Error into one message and exit status 2.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <malloc.h>
#include <iostream>

#include "apps/command.h"
#include "apps/suggest.h"
#include "engine/error.h"
#include "engine/passive_openmp_wait.h"  // idle OpenMP workers sleep (set before main)
#include "engine/threads.h"
#include "engine/version.h"

namespace {
void print_help() {
  std::cout << "usage: genrenet <command> [options]\n\ncommands:\n";
  auto table = gn::app::command_table();
  std::sort(table.begin(), table.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (const auto& c : table) std::printf("  %-14s %s\n", c.name.c_str(), c.summary.c_str());
  std::cout << "\n`genrenet <command> --help` (or -h) describes a command's options;\n"
               "`genrenet --version` prints the version.\n";
}
}  // namespace

int main(int argc, char** argv) {
  gn::prefer_single_threaded_blas();  // one thread pool (OpenMP), not two
  // Songs (a 30 s song is 2.6 MB decoded) are allocated on a decoder thread and freed on the
  // model's: with glibc's sliding mmap threshold they end up in per-thread heaps that keep
  // growing with the number of files. A fixed threshold gives every block of 1 MiB or more its
  // own mapping, returned to the system when freed, so memory stays flat however many songs stream.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Results (stdout) and status (stderr) interleave in `> log 2>&1` in the order they happen:
  // stdout is flushed at every line, not held back until 4 KiB have gathered.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2 || std::string(argv[1]) == "help" || std::string(argv[1]) == "--help" ||
      std::string(argv[1]) == "-h") {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version" || std::string(argv[1]) == "-V") {
    std::cout << "genrenet " << gn::version_string() << " (" << gn::build_description() << ")\n";
    return 0;
  }
  const std::string name = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : gn::app::command_table()) {
    if (c.name != name) continue;
    try {
      return c.run(args);
    } catch (const gn::Interrupted& e) {
      std::cerr << "\ngenrenet " << name << ": " << e.what() << "\n";
      return 130;
    } catch (const gn::Error& e) {
      std::cerr << "genrenet " << name << ": error: " << e.what() << "\n";
      return 2;
    } catch (const std::bad_alloc&) {
      std::cerr << "genrenet " << name << ": error: out of memory\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "genrenet " << name << ": internal error: " << e.what() << "\n";
      return 3;
    }
  }
  std::vector<std::string> names;
  for (const auto& c : gn::app::command_table()) names.push_back(c.name);
  const std::string guess = gn::app::nearest(name, names);
  std::cerr << "genrenet: unknown command '" << name << "'"
            << (guess.empty() ? "" : " (did you mean '" + guess + "'?)") << "; see `genrenet help`\n";
  return 2;
}
