// Test tool: writes the input the exported ONNX model takes for each song, computed by the
// same functions as `genrenet predict` (decode, the checkpoint's clip scheme and front-end with
// its standardisation), so the ONNX parity test compares the two engines on identical inputs.
//   clip_spectrograms CKPT OUT_DIR SONG...  ->  OUT_DIR/<song file name>.npy, (clips, T, F, 1) float32
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/context.h"
#include "engine/error.h"
#include "layers/frontend.h"
#include "data/audio.h"
#include "model/checkpoint.h"
#include "data/clips.h"

namespace {

// NumPy's .npy format, version 1.0: magic, header length, a Python dict literal padded to 64 bytes.
void write_npy(const std::string& path, const gn::Tensor& t) {
  std::string shape = "(";
  for (int i = 0; i < t.rank(); ++i) shape += std::to_string(t.dim(i)) + ", ";
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const unsigned short len = static_cast<unsigned short>(header.size());
  out.put(static_cast<char>(len & 0xff)).put(static_cast<char>(len >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(t.data()), static_cast<std::streamsize>(t.numel() * sizeof(float)));
  GN_REQUIRE(out.good(), "could not write ", path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: clip_spectrograms CKPT OUT_DIR SONG...\n";
    return 2;
  }
  try {
    const gn::Checkpoint ck = gn::load_checkpoint(argv[1]);
    const auto frontend = gn::FrontendConfig::from_json(nlohmann::json::parse(ck.frontend_json));
    const auto scheme = gn::ClipScheme::from_json(nlohmann::json::parse(ck.clip_scheme_json));
    gn::Context ctx(gn::Device::cpu());
    for (int i = 3; i < argc; ++i) {
      const gn::Audio song = gn::decode_audio(argv[i]);
      const gn::Tensor clips = gn::extract_clips(song.samples, scheme, argv[i], song.sample_rate);
      gn::Tensor spectrograms = gn::Tensor::empty(frontend.output_shape(clips.dim(0)));
      gn::compute_spectrograms(ctx, spectrograms, clips, frontend);
      write_npy((std::filesystem::path(argv[2]) / std::filesystem::path(argv[i]).filename()).string() + ".npy",
                spectrograms);
    }
  } catch (const std::exception& e) {
    std::cerr << "clip_spectrograms: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
