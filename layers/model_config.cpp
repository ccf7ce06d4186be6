#include "layers/model_config.h"

#include "engine/error.h"
#include "engine/strict_json.h"

namespace gn {
namespace {
// TF "same": out = ceil(in / stride). MaxPool "valid" with window = stride: floor(in / 2).
std::int64_t same_out(std::int64_t in, int stride) { return (in + stride - 1) / stride; }
}  // namespace

std::int64_t ModelConfig::cnn_flat_size() const {
  std::int64_t h = time_frames, w = freq_bins, c = 1;
  for (std::size_t i = 0; i < conv.size(); ++i) {
    const ConvBlock& b = conv[i];
    h = same_out(h, b.stride);
    w = same_out(w, b.stride);
    c = b.filters;
    if (b.pool) {
      h /= 2;
      w /= 2;
    }
    GN_REQUIRE(h > 0 && w > 0, "model config: CNN block ", i + 1, " reduces the ", time_frames, " x ",
               freq_bins, " input to nothing");
  }
  return h * w * c;
}

std::int64_t ModelConfig::rnn_input_size() const {
  std::int64_t w = freq_bins;
  for (int i = 0; i < rnn_freq_pools; ++i) w /= 2;
  return w;
}

void ModelConfig::validate() const {
  GN_REQUIRE(time_frames > 0 && freq_bins > 0, "model config: input size must be positive, got ",
             time_frames, " x ", freq_bins);
  GN_REQUIRE(!conv.empty(), "model config: at least one CNN block is needed");
  for (std::size_t i = 0; i < conv.size(); ++i) {
    const ConvBlock& b = conv[i];
    GN_REQUIRE(b.filters > 0 && b.kernel > 0 && b.stride > 0, "model config: CNN block ", i + 1,
               " needs positive filters, kernel and stride");
    GN_REQUIRE(b.dropout >= 0 && b.dropout < 1, "model config: CNN block ", i + 1, " dropout ", b.dropout,
               " outside [0, 1)");
  }
  GN_REQUIRE(cnn_dropout >= 0 && cnn_dropout < 1 && rnn_dropout >= 0 && rnn_dropout < 1,
             "model config: dropout rates must lie in [0, 1)");
  GN_REQUIRE(rnn_freq_pools >= 0 && rnn_input_size() > 0, "model config: ", rnn_freq_pools,
             " frequency poolings leave nothing of ", freq_bins, " bins");
  GN_REQUIRE(lstm_units > 0 && lstm_layers > 0, "model config: LSTM units and layers must be positive");
  GN_REQUIRE(classes >= 2, "model config: at least 2 classes are needed, got ", classes);
  const std::int64_t flat = cnn_flat_size();
  const std::int64_t rnn_out = 2 * static_cast<std::int64_t>(lstm_units);  // no int overflow
  GN_REQUIRE(flat == rnn_out, "model config: the CNN branch flattens to ", flat,
             " values but the BiLSTM branch gives 2 x ", lstm_units, " = ", rnn_out,
             "; the Add needs them equal");
  GN_REQUIRE(bn_momentum >= 0 && bn_momentum < 1 && bn_epsilon > 0, "model config: bad BatchNorm settings");
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json blocks = nlohmann::json::array();
  for (const ConvBlock& b : conv)
    blocks.push_back({{"filters", b.filters}, {"kernel", b.kernel}, {"stride", b.stride}, {"pool", b.pool},
                      {"dropout", b.dropout}});
  return {{"time_frames", time_frames}, {"freq_bins", freq_bins},     {"conv", blocks},
          {"cnn_dropout", cnn_dropout}, {"rnn_freq_pools", rnn_freq_pools}, {"lstm_units", lstm_units},
          {"lstm_layers", lstm_layers}, {"rnn_dropout", rnn_dropout}, {"classes", classes},
          {"bn_momentum", bn_momentum}, {"bn_epsilon", bn_epsilon}};
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  // Every number range-checked before it is narrowed (bounds far above any real model, low
  // enough that no size computed from them overflows 64 bits); validate() then checks that
  // the pieces fit together.
  const std::string what = "model config is malformed";
  ModelConfig c;
  try {
    GN_REQUIRE(j.is_object(), "model config is not a JSON object");
    c.time_frames = json_int(j, "time_frames", 1, 1 << 20, what);
    c.freq_bins = json_int(j, "freq_bins", 1, 1 << 16, what);
    c.conv.clear();
    const nlohmann::json& blocks = j.at("conv");
    GN_REQUIRE(blocks.is_array() && blocks.size() <= 64, "model config: 'conv' must be an array of at most 64 blocks");
    for (const auto& b : blocks) {
      const std::string block = "model config: CNN block " + std::to_string(c.conv.size() + 1);
      GN_REQUIRE(b.is_object() && b.contains("pool") && b.at("pool").is_boolean(), block, ": malformed");
      c.conv.push_back({static_cast<int>(json_int(b, "filters", 1, 1 << 16, block)),
                        static_cast<int>(json_int(b, "kernel", 1, 1024, block)),
                        static_cast<int>(json_int(b, "stride", 1, 1024, block)), b.at("pool").get<bool>(),
                        static_cast<float>(json_number(b, "dropout", 0.0, 1.0, block))});
    }
    c.cnn_dropout = static_cast<float>(json_number(j, "cnn_dropout", 0.0, 1.0, what));
    c.rnn_freq_pools = static_cast<int>(json_int(j, "rnn_freq_pools", 0, 30, what));
    c.lstm_units = static_cast<int>(json_int(j, "lstm_units", 1, 1 << 16, what));
    c.lstm_layers = static_cast<int>(json_int(j, "lstm_layers", 1, 64, what));
    c.rnn_dropout = static_cast<float>(json_number(j, "rnn_dropout", 0.0, 1.0, what));
    c.classes = static_cast<int>(json_int(j, "classes", 2, 1 << 16, what));
    c.bn_momentum = static_cast<float>(json_number(j, "bn_momentum", 0.0, 1.0, what));
    c.bn_epsilon = static_cast<float>(json_number(j, "bn_epsilon", 0.0, 1.0, what));
  } catch (const nlohmann::json::exception& e) {
    GN_FAIL("model config is malformed: ", e.what());
  }
  c.validate();
  return c;
}

ModelConfig ModelConfig::tiny() {
  ModelConfig c;
  c.time_frames = 16;
  c.freq_bins = 36;
  // 16x36 -> conv s2 -> 8x18 -> pool -> 4x9 -> conv s1 -> 4x9 -> pool -> 2x4 -> conv s1 -> 2x4x2 = 16
  c.conv = {{4, 3, 2, true, 0.2f}, {6, 2, 1, true, 0.0f}, {2, 3, 1, false, 0.0f}};
  c.rnn_freq_pools = 2;  // 36 -> 9
  c.lstm_units = 8;
  c.classes = 4;
  return c;
}

}  // namespace gn
