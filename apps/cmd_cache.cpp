// `genrenet cache`: where the spectrogram cache is, how big it is, and clearing it. The cache
// holds one .gnspec file per (song, clip scheme, front-end), about 5 MB per 30 s song and
// front-end (~5 GB for GTZAN), and is rebuilt on demand, so clearing it loses only time.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/args.h"
#include "apps/command.h"
#include "engine/error.h"
#include "data/dataset.h"

namespace gn::app {
namespace {
namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: genrenet cache [--cache DIR] [--clear]\n"
    "  Shows where the spectrogram cache is, how many files it holds and their size. `train` and\n"
    "  `demo` fill it: one file per song, clip scheme and front-end, about 5 MB per 30 s song\n"
    "  (~5 GB for GTZAN with one front-end); it is rebuilt when needed.\n"
    "  --cache DIR   the cache folder (default: $GENRENET_CACHE_DIR, else $XDG_CACHE_HOME/genrenet,\n"
    "                else ~/.cache/genrenet)\n"
    "  --clear       delete the cache's files (only *.gnspec and their temporary files)\n"
    "  -h, --help    this text\n";

std::string human_bytes(std::uintmax_t bytes) {
  const char* units[] = {"bytes", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// A file the cache wrote: <16 hex>.gnspec, or one of its temporary names while being written.
bool is_cache_file(const fs::path& p) {
  const std::string name = p.filename().string();
  return p.extension() == ".gnspec" || name.find(".gnspec.") != std::string::npos;
}

int run_cache(const std::vector<std::string>& argv) {
  Args args("cache", argv, {"cache"}, {"clear", "help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  GN_REQUIRE(args.positional().empty(), "unexpected argument '", args.positional().front(), "'; see `genrenet cache --help`");
  const std::string dir = args.str("cache", default_cache_dir());
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    std::cout << "spectrogram cache: " << dir << " (empty: the folder does not exist yet)\n";
    return 0;
  }
  GN_REQUIRE(fs::is_directory(dir, ec), "--cache ", dir, " is not a folder");
  std::uintmax_t bytes = 0, files = 0, removed = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec) || !is_cache_file(entry.path())) continue;
    const std::uintmax_t size = entry.file_size(ec);
    if (args.flag("clear")) {
      GN_REQUIRE(fs::remove(entry.path(), ec), "cannot delete ", entry.path().string(), " (", ec.message(), ")");
      ++removed;
    }
    bytes += size;
    ++files;
  }
  GN_REQUIRE(!ec, "cannot list ", dir, " (", ec.message(), ")");
  if (args.flag("clear"))
    std::cout << "spectrogram cache: " << dir << ": deleted " << removed << " files, " << human_bytes(bytes) << "\n";
  else
    std::cout << "spectrogram cache: " << dir << ": " << files << " files, " << human_bytes(bytes)
              << (files ? " (`genrenet cache --clear` deletes them)" : "") << "\n";
  return 0;
}

}  // namespace
GN_COMMAND("cache", "show the spectrogram cache's folder and size, or clear it", run_cache);
}  // namespace gn::app
