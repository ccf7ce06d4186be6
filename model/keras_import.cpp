#include "model/keras_import.h"

#include <filesystem>

#include "data/clips.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/frontend.h"

namespace gn {

std::vector<TensorSpec> rcnn_tensor_specs(const ModelConfig& config) {
  config.validate();
  std::vector<TensorSpec> specs;
  std::int64_t cin = 1;
  for (std::size_t i = 0; i < config.conv.size(); ++i) {
    const ConvBlock& b = config.conv[i];
    const std::string conv = "cnn.conv" + std::to_string(i + 1), bn = "cnn.bn" + std::to_string(i + 1);
    specs.push_back({conv + ".kernel", Shape{b.kernel, b.kernel, cin, b.filters}, false});  // HWIO
    specs.push_back({conv + ".bias", Shape{b.filters}, false});
    specs.push_back({bn + ".gamma", Shape{b.filters}, false});
    specs.push_back({bn + ".beta", Shape{b.filters}, false});
    specs.push_back({bn + ".moving_mean", Shape{b.filters}, true});
    specs.push_back({bn + ".moving_var", Shape{b.filters}, true});
    cin = b.filters;
  }
  const std::int64_t units = config.lstm_units;
  std::int64_t in = config.rnn_input_size();
  for (int l = 1; l <= config.lstm_layers; ++l) {
    for (const char* dir : {"fwd", "bwd"}) {
      const std::string p = "rnn.lstm" + std::to_string(l) + "." + dir;
      specs.push_back({p + ".kernel", Shape{in, 4 * units}, false});  // gates i, f, c, o
      specs.push_back({p + ".recurrent_kernel", Shape{units, 4 * units}, false});
      specs.push_back({p + ".bias", Shape{4 * units}, false});
    }
    in = 2 * units;
  }
  specs.push_back({"head.dense.kernel", Shape{2 * units, config.classes}, false});
  specs.push_back({"head.dense.bias", Shape{config.classes}, false});
  return specs;
}

std::vector<std::string> reference_labels() {
  return {"disco", "reggae", "pop", "metal", "jazz", "hiphop", "country", "rock", "classical", "blues"};
}
// The audio code owns these formats; the predictor reads them back with from_json.
std::string seed_frontend_json() { return FrontendConfig::seed().to_json().dump(); }
std::string reference_clip_scheme_json() { return ClipScheme::reference().to_json().dump(); }

Checkpoint import_keras(const std::string& json_text, const std::string& h5_bytes, const std::string& json_source,
                        const std::string& h5_source) {
  const KerasArchitecture arch = parse_keras_architecture(json_text, json_source);
  GN_REQUIRE(arch.config.classes == static_cast<int>(reference_labels().size()), json_source, ": the model has ",
             arch.config.classes, " classes but the reference labels are ", reference_labels().size());
  Checkpoint c;
  c.config = arch.config;
  c.labels = reference_labels();
  c.frontend_json = seed_frontend_json();
  c.clip_scheme_json = reference_clip_scheme_json();
  c.tensors = read_keras_weights(h5_bytes, arch, h5_source);
  // File names only: a checkpoint is shared, and the importing machine's folders are nobody's business.
  const auto base = [](const std::string& p) { return std::filesystem::path(p).filename().string(); };
  nlohmann::json provenance = {{"source", "keras"}, {"architecture", base(json_source)}, {"weights", base(h5_source)}};
  for (const auto& [prefix, layer] : arch.weighted_layers) provenance["layers"][prefix] = layer;
  c.extra["imported_from"] = provenance.dump();
  return c;
}

Checkpoint import_keras_files(const std::string& json_path, const std::string& h5_path) {
  return import_keras(read_file(json_path), read_file(h5_path), json_path, h5_path);
}

}  // namespace gn
