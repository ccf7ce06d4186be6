// libFuzzer target: the Keras importer (model.json through the strict JSON parser and the graph
// checker, weights through the HDF5 C API on an in-memory file image).
// Input framing: 4 bytes little-endian n, then n bytes of model.json, then the HDF5 file bytes
// (fuzz/make_corpus.py writes seeds in this form). Contract as in fuzz_checkpoint.cpp: a
// checkpoint or a gn::Error, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "model/keras_import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::uint32_t n = data[0] | (data[1] << 8) | (data[2] << 16) | (static_cast<std::uint32_t>(data[3]) << 24);
  if (n > size - 4) return 0;
  const std::string json(reinterpret_cast<const char*>(data + 4), n);
  const std::string h5(reinterpret_cast<const char*>(data + 4 + n), size - 4 - n);
  try {
    gn::import_keras(json, h5, "fuzz.json", "fuzz.h5");
  } catch (const gn::Error&) {
  }
  return 0;
}
