// safetensors I/O (https://huggingface.co/docs/safetensors): 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
// then the raw little-endian tensor bytes. Used for checkpoints and for the golden test
// fixtures, so Python's `safetensors` package reads and writes the same files.
//
// The reader treats the file as hostile: every length, offset, shape and dtype is validated
// before any byte is read, and each problem becomes one gn::Error naming the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tensor.h"

namespace gn {

struct SafeTensorsFile {
  std::map<std::string, std::string> metadata;
  std::uint64_t data_fnv1a64 = 0;  // fnv1a64 of the whole data block (every tensor's bytes)
  std::map<std::string, Tensor> tensors;  // float32 on the CPU (F16/F64 inputs are converted)

  const Tensor& get(const std::string& name) const;  // throws naming the file when missing
  bool has(const std::string& name) const { return tensors.count(name) > 0; }
  std::string source;  // where it was read from, for error messages
};

// 64-bit FNV-1a of `bytes`. Each step (xor a byte, multiply by an odd prime) is a bijection of
// the state, so a change confined to one byte -- any single flipped bit -- always changes the hash.
std::uint64_t fnv1a64(std::string_view bytes);
std::string hex64(std::uint64_t v);  // 16 lower-case hex digits

// Parses safetensors bytes (`source` names them in errors). Besides the format's own rules, the
// tensors must tile the data block exactly: sorted by offset, each begins where the previous one
// ends, the first at 0 and the last at the end of the file (no overlap, gap or trailing bytes,
// which the Python `safetensors` reader refuses too).
SafeTensorsFile parse_safetensors(const std::string& bytes, const std::string& source);
SafeTensorsFile read_safetensors(const std::string& path);

// Serialises float32 tensors (any device) and string metadata, tensors in name order. With a
// `checksum_key`, the metadata also gets hex64(fnv1a64(data block)) under that key.
std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata,
                                  const std::string& checksum_key = "");

// Writes `bytes` to `path` safely: a temporary file in the same folder, flushed (fsync), then
// renamed over `path`, so a crash leaves either the old file or the new one, never a torn one.
void write_file_atomically(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

}  // namespace gn
