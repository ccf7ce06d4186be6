#include "model/checkpoint.h"

#include <cmath>
#include <set>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "engine/strict_json.h"

namespace gn {
namespace {

// Metadata keys this module owns; `extra` may not use them.
const std::set<std::string> kReservedKeys = {"format", "format_version", "model_config", "labels",
                                             "frontend", "clip_scheme", "training"};

bool is_optimizer_tensor(const std::string& name) { return name == kOptimizerM || name == kOptimizerV; }

// The first non-finite value of `t` (CPU), or -1.
std::int64_t first_non_finite(const Tensor& t) {
  const float* p = t.data();
  for (std::int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(p[i])) return i;
  return -1;
}

void check_labels(const std::vector<std::string>& labels, const ModelConfig& config, const std::string& source) {
  GN_REQUIRE(static_cast<std::int64_t>(labels.size()) == config.classes, source, ": ", labels.size(),
             " labels for a model with ", config.classes, " classes");
  std::set<std::string> seen;
  for (const std::string& label : labels) {
    GN_REQUIRE(!label.empty(), source, ": a label is empty");
    GN_REQUIRE(seen.insert(label).second, source, ": label '", label, "' appears twice");
  }
}

// Opaque JSON texts are stored verbatim but must at least be JSON, so a reader never has to
// guess whether a garbled front-end description is meant.
void check_json_text(const std::string& text, const std::string& what) {
  if (!text.empty()) parse_json_strict(text, what);
}

void check_tensors(const std::map<std::string, Tensor>& tensors, const std::string& source) {
  for (const auto& [name, t] : tensors) {
    GN_REQUIRE(!name.empty() && name != "__metadata__", source, ": invalid tensor name '", name, "'");
    const Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
    const std::int64_t bad = first_non_finite(host);
    GN_REQUIRE(bad < 0, source, ": tensor '", name, "' ", host.shape().str(), " holds a non-finite value (",
               host.data()[bad], ") at flat index ", bad);
  }
}

void check_checkpoint(const Checkpoint& c, const std::string& source) {
  c.config.validate();
  check_labels(c.labels, c.config, source);
  check_json_text(c.frontend_json, source + ": metadata 'frontend'");
  check_json_text(c.clip_scheme_json, source + ": metadata 'clip_scheme'");
  check_json_text(c.training_json, source + ": metadata 'training'");
  for (const auto& [key, value] : c.extra)
    GN_REQUIRE(!kReservedKeys.count(key), source, ": extra metadata key '", key, "' is reserved");
  GN_REQUIRE(c.tensors.count(kOptimizerM) == c.tensors.count(kOptimizerV), source,
             ": optimizer.m and optimizer.v must be present together");
  check_tensors(c.tensors, source);
}

std::string metadata_or_empty(const SafeTensorsFile& file, const std::string& key) {
  const auto it = file.metadata.find(key);
  return it == file.metadata.end() ? std::string() : it->second;
}

}  // namespace

std::string serialize_checkpoint(const Checkpoint& c) {
  check_checkpoint(c, "checkpoint to save");
  std::map<std::string, std::string> metadata = c.extra;
  metadata["format"] = kCheckpointFormat;
  metadata["format_version"] = std::to_string(kCheckpointVersion);
  metadata["model_config"] = c.config.to_json().dump();
  metadata["labels"] = nlohmann::json(c.labels).dump();
  if (!c.frontend_json.empty()) metadata["frontend"] = c.frontend_json;
  if (!c.clip_scheme_json.empty()) metadata["clip_scheme"] = c.clip_scheme_json;
  if (!c.training_json.empty()) metadata["training"] = c.training_json;
  return serialize_safetensors(c.tensors, metadata);
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  std::string bytes;
  try {
    bytes = serialize_checkpoint(checkpoint);
  } catch (const Error& e) {
    GN_FAIL("not saving ", path, ": ", e.what());
  }
  write_file_atomically(path, bytes);
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& source) {
  const SafeTensorsFile file = parse_safetensors(bytes, source);
  const auto format = file.metadata.find("format");
  GN_REQUIRE(format != file.metadata.end(), source,
             ": a safetensors file but not a GenreNet checkpoint (no \"format\" metadata)");
  GN_REQUIRE(format->second == kCheckpointFormat, source, ": a safetensors file of format '", format->second,
             "', not a GenreNet checkpoint ('", kCheckpointFormat, "')");
  const std::string version = metadata_or_empty(file, "format_version");
  GN_REQUIRE(!version.empty(), source, ": checkpoint has no format_version");
  GN_REQUIRE(version.find_first_not_of("0123456789") == std::string::npos && version.size() <= 9, source,
             ": checkpoint format_version '", version, "' is not a number");
  GN_REQUIRE(std::stoi(version) == kCheckpointVersion, source, ": checkpoint format_version ", version,
             " is not supported by this GenreNet (it reads version ", kCheckpointVersion,
             "); a newer GenreNet wrote it");

  Checkpoint c;
  const std::string config_text = metadata_or_empty(file, "model_config");
  GN_REQUIRE(!config_text.empty(), source, ": checkpoint has no model_config");
  try {
    c.config = ModelConfig::from_json(parse_json_strict(config_text, "model_config"));
  } catch (const Error& e) {
    GN_FAIL(source, ": ", e.what());
  }

  const std::string labels_text = metadata_or_empty(file, "labels");
  GN_REQUIRE(!labels_text.empty(), source, ": checkpoint has no labels");
  const nlohmann::json labels = parse_json_strict(labels_text, source + ": metadata 'labels'");
  GN_REQUIRE(labels.is_array(), source, ": metadata 'labels' is not a JSON array");
  for (const auto& label : labels) {
    GN_REQUIRE(label.is_string(), source, ": metadata 'labels' holds a non-string (", label.dump(), ")");
    c.labels.push_back(label.get<std::string>());
  }

  c.frontend_json = metadata_or_empty(file, "frontend");
  c.clip_scheme_json = metadata_or_empty(file, "clip_scheme");
  c.training_json = metadata_or_empty(file, "training");
  for (const auto& [key, value] : file.metadata)
    if (!kReservedKeys.count(key)) c.extra[key] = value;
  c.tensors = file.tensors;
  check_checkpoint(c, source);
  return c;
}

Checkpoint load_checkpoint(const std::string& path) { return parse_checkpoint(read_file(path), path); }

Checkpoint checkpoint_from_store(const ParameterStore& store, const ModelConfig& config,
                                 const std::vector<std::string>& labels) {
  GN_REQUIRE(store.allocated(), "checkpoint_from_store: the parameter store is not allocated");
  Checkpoint c;
  c.config = config;
  c.labels = labels;
  // One device-to-host copy per flat buffer, then host slices (not one copy per tensor).
  const Tensor params = store.params().to(Device::cpu());
  const Tensor buffers = store.buffers().to(Device::cpu());
  for (const ParameterStore::Entry& e : store.entries()) {
    const Tensor& flat = e.kind == ParameterStore::Kind::Parameter ? params : buffers;
    c.tensors[e.name] = flat.view(e.offset, e.shape).clone();
  }
  return c;
}

void load_into_store(const Checkpoint& c, ParameterStore& store) {
  GN_REQUIRE(store.allocated(), "load_into_store: the parameter store is not allocated");
  // Check everything first, so a mismatch leaves the store as it was.
  for (const ParameterStore::Entry& e : store.entries()) {
    const auto it = c.tensors.find(e.name);
    GN_REQUIRE(it != c.tensors.end(), "checkpoint: tensor '", e.name, "' ", e.shape.str(),
               " that the model needs is missing");
    GN_REQUIRE(it->second.shape() == e.shape, "checkpoint: tensor '", e.name, "' has shape ",
               it->second.shape().str(), " but the model needs ", e.shape.str());
  }
  for (const auto& [name, t] : c.tensors) {
    if (is_optimizer_tensor(name)) {
      GN_REQUIRE(t.shape() == Shape{store.num_params()}, "checkpoint: tensor '", name, "' has shape ",
                 t.shape().str(), " but the model's flat parameter buffer needs ", Shape{store.num_params()}.str());
      continue;
    }
    GN_REQUIRE(store.contains(name), "checkpoint: tensor '", name, "' ", t.shape().str(),
               " is not part of this model (a checkpoint of another architecture?)");
  }
  GN_REQUIRE(c.tensors.count(kOptimizerM) == c.tensors.count(kOptimizerV),
             "checkpoint: optimizer.m and optimizer.v must be present together");
  for (const ParameterStore::Entry& e : store.entries()) {
    Tensor dst = e.kind == ParameterStore::Kind::Parameter ? store.param(e.name) : store.buffer(e.name);
    dst.copy_from(c.tensors.at(e.name));
  }
}

}  // namespace gn
