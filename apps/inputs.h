// What the commands that read songs and models take as arguments, turned into concrete inputs
// before any work starts (so a mistake is said before a device is chosen or a model loaded):
//  * songs: files as given, folders searched recursively for audio files (by extension, hidden
//    entries skipped, sorted), and "-" for the bytes of standard input;
//  * a model: a checkpoint file, or a run folder (its best.safetensors).
#pragma once

#include <string>
#include <vector>

#include "data/audio.h"

namespace gn::app {

struct AudioInput {
  std::string name;         // what messages and results call it: the path, or "-" for stdin
  bool from_stdin = false;  // read the bytes of standard input instead of a file
};

struct AudioInputs {
  std::vector<AudioInput> inputs;
  struct Problem {
    std::string argument, message;
  };
  std::vector<Problem> errors;  // one per argument that names nothing usable
};

// Expands the positional arguments in order. "-" may be given once.
AudioInputs list_audio_inputs(const std::vector<std::string>& args);

// Decodes one input (standard input is read to its end).
Audio load_audio_input(const AudioInput& input, const DecodeLimits& limits = {});

// A checkpoint file as given, or DIR/best.safetensors for a run folder. Throws gn::Error with
// one message when neither exists.
std::string resolve_model_path(const std::string& path);

}  // namespace gn::app
