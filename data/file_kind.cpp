#include "data/file_kind.h"

#include <cstdint>
#include <cstring>
#include <fstream>

#include "engine/error.h"

namespace gn {
namespace {

bool starts_with(const std::string& s, std::size_t at, const char* magic, std::size_t n) {
  return s.size() >= at + n && std::memcmp(s.data() + at, magic, n) == 0;
}

}  // namespace

FileKind sniff_file_kind(const std::string& head) {
  if (head.empty()) return FileKind::Empty;
  // HDF5's superblock signature sits at 0, 512, 1024, ... (a user block may come first).
  for (std::size_t at = 0; at + 8 <= head.size(); at = at ? at * 2 : 512)
    if (starts_with(head, at, "\x89HDF\r\n\x1a\n", 8)) return FileKind::Hdf5;
  // safetensors: an 8-byte little-endian header length, then the JSON header (before the
  // audio magics: a header length such as 0xe0ff starts like an MP3 frame).
  if (head.size() > 9 && head[8] == '{') {
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(head[i]);
    if (n > 1 && n < (std::uint64_t{1} << 32)) return FileKind::Safetensors;
  }
  if (starts_with(head, 0, "PK\x03\x04", 4)) {
    // Member names are in the local headers near the start.
    if (head.find("data.pkl") != std::string::npos || head.find("/data/") != std::string::npos)
      return FileKind::PyTorch;
    if (head.find("config.json") != std::string::npos || head.find("model.weights.h5") != std::string::npos ||
        head.find("metadata.json") != std::string::npos)
      return FileKind::KerasArchive;
    return FileKind::Zip;
  }
  if (static_cast<unsigned char>(head[0]) == 0x80 && head.size() > 1 && head[1] >= 2 && head[1] <= 5)
    return FileKind::Pickle;  // pickle protocol 2..5: torch.save before PyTorch 1.6
  if (starts_with(head, 0, "RIFF", 4) || starts_with(head, 0, "FORM", 4) || starts_with(head, 0, "fLaC", 4) ||
      starts_with(head, 0, "OggS", 4) || starts_with(head, 0, ".snd", 4) || starts_with(head, 0, "ID3", 3) ||
      (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0xff && (static_cast<unsigned char>(head[1]) & 0xe0) == 0xe0))
    return FileKind::Audio;
  const std::size_t first = head.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (head[first] == '{' || head[first] == '[')) {
    if (head.find("\"class_name\"") != std::string::npos &&
        (head.find("\"keras_version\"") != std::string::npos || head.find("\"config\"") != std::string::npos))
      return FileKind::KerasJson;
    return FileKind::Json;
  }
  return FileKind::Unknown;
}

std::string read_file_head(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

std::string describe_file_kind(FileKind kind) {
  switch (kind) {
    case FileKind::Safetensors: return "a safetensors file";
    case FileKind::Hdf5: return "an HDF5 file (Keras weights, such as the reference's model_weights.h5)";
    case FileKind::KerasJson: return "a Keras model architecture (JSON, such as the reference's model.json)";
    case FileKind::Json: return "a JSON text";
    case FileKind::PyTorch: return "a PyTorch file (torch.save)";
    case FileKind::KerasArchive: return "a Keras 3 archive (.keras)";
    case FileKind::Zip: return "a zip archive";
    case FileKind::Pickle: return "a Python pickle (an older torch.save file?)";
    case FileKind::Audio: return "an audio file";
    case FileKind::Empty: return "an empty file";
    case FileKind::Unknown: return "";
  }
  return "";
}

void require_checkpoint_file(const std::string& path) {
  const FileKind kind = sniff_file_kind(read_file_head(path));
  const std::string what = path + " is " + describe_file_kind(kind) + ", not a GenreNet checkpoint";
  switch (kind) {
    case FileKind::Hdf5:
    case FileKind::KerasJson:
      GN_FAIL(what, ": convert the reference Keras model with `genrenet import-keras MODEL.json WEIGHTS.h5 -o ",
              "model.safetensors` and pass that file");
    case FileKind::PyTorch:
    case FileKind::Pickle:
    case FileKind::KerasArchive:
    case FileKind::Zip:
    case FileKind::Json:
      GN_FAIL(what, ": GenreNet reads its own .safetensors checkpoints, made by `genrenet train` or ",
              "`genrenet import-keras`");
    case FileKind::Audio:
      GN_FAIL(what, ": songs are the arguments (`genrenet predict -m MODEL SONG...`), the model comes after -m");
    case FileKind::Empty:
      GN_FAIL(path, " is empty (0 bytes), not a GenreNet checkpoint");
    case FileKind::Safetensors:
    case FileKind::Unknown:
      return;
  }
}

}  // namespace gn
