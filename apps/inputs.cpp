#include "apps/inputs.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "engine/error.h"
#include "data/dataset.h"
#include "data/file_kind.h"

namespace gn::app {
namespace fs = std::filesystem;

AudioInputs list_audio_inputs(const std::vector<std::string>& args) {
  AudioInputs r;
  bool stdin_taken = false;
  for (const std::string& a : args) {
    if (a == "-") {
      if (stdin_taken) {
        r.errors.push_back({a, "-: standard input can be read only once"});
      } else {
        stdin_taken = true;
        r.inputs.push_back({"-", true});
      }
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> found;
      const auto options = fs::directory_options::skip_permission_denied;
      for (auto it = fs::recursive_directory_iterator(a, options, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {  // hidden files and folders (caches, VCS)
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(ec) && is_audio_file_name(name)) found.push_back(it->path().string());
      }
      if (ec) {
        r.errors.push_back({a, a + ": cannot list the folder (" + ec.message() + ")"});
        continue;
      }
      if (found.empty()) {
        r.errors.push_back({a, a + ": the folder holds no audio files (.wav, .au, .aiff, .flac, .ogg, .opus, .mp3)"});
        continue;
      }
      std::sort(found.begin(), found.end());
      for (std::string& f : found) r.inputs.push_back({std::move(f), false});
    } else if (fs::exists(a, ec)) {
      r.inputs.push_back({a, false});  // any name: the decoder judges the bytes
    } else {
      r.errors.push_back({a, a + ": no such file or folder"});
    }
  }
  return r;
}

Audio load_audio_input(const AudioInput& input, const DecodeLimits& limits) {
  if (!input.from_stdin) return decode_audio(input.name, limits);
  std::string bytes((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  GN_REQUIRE(!bytes.empty(), "-: standard input was empty (pipe a song into it, e.g. `genrenet predict - < song.mp3`)");
  return decode_audio_memory(bytes, "-", limits);
}

std::string resolve_model_path(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path best = fs::path(path) / "best.safetensors";
    GN_REQUIRE(fs::is_regular_file(best, ec), path, " is a folder without best.safetensors: --model takes a ",
               "checkpoint (.safetensors) or a run folder of `genrenet train`");
    require_checkpoint_file(best.string());
    return best.string();
  }
  GN_REQUIRE(fs::exists(path, ec), path, ": no such file (--model takes a checkpoint or a run folder)");
  require_checkpoint_file(path);
  return path;
}

}  // namespace gn::app
