// GenreNet checkpoints: one safetensors file (engine/safetensors.h) holding everything needed to
// run or resume a model, readable from Python with the `safetensors` package.
//
//   tensors   every tensor of the model's ParameterStore under its store name, parameters AND
//             buffers ("cnn.conv1.kernel", "cnn.bn1.moving_mean", ...; layers/rcnn.h lists
//             them), float32, Keras layouts; optionally the optimiser state "optimizer.m" and
//             "optimizer.v", each (P) in the layout of the flat parameter buffer (opaque here).
//   metadata  "format" = "genrenet-checkpoint", "format_version" = "1",
//             "model_config" (ModelConfig::to_json), "labels" (JSON array, class index order),
//             "frontend", "clip_scheme", "training" (JSON texts owned by their producers, stored
//             and returned verbatim; "" = absent), plus any `extra` string entries.
//
// The reader treats the file as hostile: besides everything parse_safetensors rejects
// (truncation, offsets past the end, duplicate JSON keys, impossible shapes), it rejects foreign
// safetensors files, future format versions, malformed or inconsistent metadata and non-finite
// values, each with one gn::Error naming the file and what is wrong. The writer refuses
// non-finite values too, so a diverged run can never overwrite the last good checkpoint.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/model_config.h"

namespace gn {

inline constexpr const char* kCheckpointFormat = "genrenet-checkpoint";
inline constexpr int kCheckpointVersion = 1;
inline constexpr const char* kOptimizerM = "optimizer.m";  // Adam first moments, (P)
inline constexpr const char* kOptimizerV = "optimizer.v";  // Adam second moments, (P)

struct Checkpoint {
  ModelConfig config;
  std::vector<std::string> labels;  // labels.size() == config.classes, unique, non-empty
  std::string frontend_json;        // opaque JSON text ("" = none), e.g. {"name":"seed",...}
  std::string clip_scheme_json;     // opaque JSON text ("" = none)
  std::string training_json;        // opaque JSON text ("" = none): seed, step, epoch, settings
  std::map<std::string, Tensor> tensors;     // store names (+ optimizer.m / optimizer.v), CPU
  std::map<std::string, std::string> extra;  // further metadata; keys must not be reserved ones

  bool has_optimizer_state() const { return tensors.count(kOptimizerM) > 0; }
};

// Serialises / writes (atomically: temp file, fsync, rename). Throws gn::Error when the checkpoint
// is inconsistent (labels vs classes, invalid JSON texts, reserved extra keys, NaN/Inf, ...).
std::string serialize_checkpoint(const Checkpoint& checkpoint);
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Parses / reads and validates; `source` names the bytes in error messages. Tensors are on the CPU.
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& source);
Checkpoint load_checkpoint(const std::string& path);

// Copies every parameter and buffer of `store` (any device) into a new checkpoint's tensors.
// The optimiser state, front-end, clip scheme and training texts are left for the caller to set.
Checkpoint checkpoint_from_store(const ParameterStore& store, const ModelConfig& config,
                                 const std::vector<std::string>& labels);

// Copies the checkpoint's tensors into `store` (allocated, any device). Requires every store
// tensor to be present with exactly its shape and no tensor the store does not know (besides
// optimizer.m / optimizer.v, which must both be present or both absent, each (P) with
// P = store.num_params()); each mismatch is one gn::Error naming the tensor and both shapes.
// Leaves `store` untouched when it throws.
void load_into_store(const Checkpoint& checkpoint, ParameterStore& store);

}  // namespace gn
