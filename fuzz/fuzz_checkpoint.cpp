// libFuzzer target: arbitrary bytes as a GenreNet checkpoint (safetensors header + data +
// metadata). Contract: parse_checkpoint either returns a checkpoint or throws gn::Error; any
// other exception, crash, out-of-bounds access, overflow (UBSan) or leak is a bug. When the
// bytes parse, the checkpoint is also loaded into a store built from its own config, so the
// shape checks of load_into_store are fuzzed too.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/params.h"
#include "model/checkpoint.h"
#include "model/keras_import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const gn::Checkpoint c = gn::parse_checkpoint(bytes, "fuzz.safetensors");
    const std::vector<gn::TensorSpec> specs = gn::rcnn_tensor_specs(c.config);
    std::int64_t total = 0;
    for (const gn::TensorSpec& s : specs) total += s.shape.numel();
    if (total > (1 << 22)) return 0;  // a valid but huge config: allocating it proves nothing
    gn::ParameterStore store;
    for (const gn::TensorSpec& s : specs)
      store.declare(s.name, s.shape, s.buffer ? gn::ParameterStore::Kind::Buffer : gn::ParameterStore::Kind::Parameter);
    store.allocate(gn::Device::cpu());
    gn::load_into_store(c, store);
  } catch (const gn::Error&) {
    // A clear rejection is the expected outcome for almost every input.
  }
  return 0;
}
