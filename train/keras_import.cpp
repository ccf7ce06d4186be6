#include "train/keras_import.h"

#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "engine/strict_json.h"
#include "layers/frontend.h"
#include "train/clips.h"

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

// =============================================================================================
// model.json: the architecture
// =============================================================================================
namespace {

using nlohmann::json;

struct KLayer {
  std::string cls, name;
  const json* config = nullptr;
  std::vector<std::string> inbound;  // names of the layers feeding it (one node)
};

// Walks the Keras graph and checks each layer against what the engine implements. Every failure
// names the model file, the layer, its class, its role in the RCNN and what differs.
class ArchitectureReader {
 public:
  ArchitectureReader(const json& root, std::string source) : root_(root), source_(std::move(source)) {}

  KerasArchitecture read() {
    index_layers();
    const KLayer& input = read_input();
    // The input feeds both branches: the CNN starts with a Conv2D, the RNN with anything else.
    const std::vector<const KLayer*>& starts = consumers(input);
    const KLayer* cnn_start = nullptr;
    const KLayer* rnn_start = nullptr;
    for (const KLayer* l : starts) (l->cls == "Conv2D" && !cnn_start ? cnn_start : rnn_start) = l;
    if (starts.size() != 2 || !cnn_start || !rnn_start)
      fail(input, "the input must feed exactly two branches, a Conv2D (CNN) and the RNN branch; it feeds " +
                      describe(starts));
    const KLayer& add_from_cnn = read_cnn(*cnn_start);
    const KLayer& add_from_rnn = read_rnn(*rnn_start);
    const KLayer& add = sole_consumer(add_from_cnn);
    if (&add != &sole_consumer(add_from_rnn))
      fail(add, "the CNN and RNN branches must meet in one Add layer");
    read_head(add);
    for (const KLayer& l : layers_)
      if (!visited_.count(l.name))
        fail(l, "is not part of the RCNN (the engine's model has no such layer)");
    for (const KLayer& l : layers_)
      for (const auto& [prefix, name] : arch_.weighted_layers)
        if (name == l.name) arch_.keras_load_order.push_back(name);
    try {
      arch_.config.validate();
    } catch (const Error& e) {
      GN_FAIL(source_, ": the architecture is not a consistent RCNN: ", e.what());
    }
    return arch_;
  }

 private:
  [[noreturn]] void fail(const KLayer& l, const std::string& what) const {
    GN_FAIL(source_, ": layer '", l.name, "' (", l.cls, role_.empty() ? "" : ", " + role_, "): ", what);
  }
  [[noreturn]] void fail_file(const std::string& what) const { GN_FAIL(source_, ": ", what); }

  static std::string describe(const std::vector<const KLayer*>& ls) {
    if (ls.empty()) return "nothing";
    std::string s;
    for (const KLayer* l : ls) s += (s.empty() ? "" : ", ") + ("'" + l->name + "' (" + l->cls + ")");
    return s;
  }

  void index_layers() {
    if (!root_.is_object()) fail_file("not a Keras model (the JSON is not an object)");
    const std::string cls = root_.value("class_name", std::string());
    if (cls != "Functional" && cls != "Model")
      fail_file("top-level class is '" + cls +
                "'; the RCNN is a two-branch functional Keras model (class_name Functional or Model)");
    if (!root_.contains("config") || !root_["config"].is_object() || !root_["config"].contains("layers") ||
        !root_["config"]["layers"].is_array())
      fail_file("has no config.layers array");
    const json& config = root_["config"];
    for (const json& lj : config["layers"]) {
      KLayer l;
      if (!lj.is_object() || !lj.contains("class_name") || !lj["class_name"].is_string() || !lj.contains("config") ||
          !lj["config"].is_object())
        fail_file("a layer entry has no class_name or config object");
      l.cls = lj["class_name"].get<std::string>();
      if (lj.contains("name") && lj["name"].is_string()) l.name = lj["name"].get<std::string>();
      else if (lj["config"].contains("name") && lj["config"]["name"].is_string())
        l.name = lj["config"]["name"].get<std::string>();
      else fail_file("a " + l.cls + " layer has no name");
      l.config = &lj["config"];
      if (!lj.contains("inbound_nodes") || !lj["inbound_nodes"].is_array()) fail(l, "has no inbound_nodes list");
      const json& nodes = lj["inbound_nodes"];
      if (nodes.size() > 1) fail(l, "is called " + std::to_string(nodes.size()) + " times; shared layers are not supported");
      if (nodes.size() == 1) {
        if (!nodes[0].is_array())
          fail(l, "has inbound_nodes in a format this importer does not read (Keras 2.x JSON is expected)");
        for (const json& edge : nodes[0]) {
          if (!edge.is_array() || edge.empty() || !edge[0].is_string())
            fail(l, "has a malformed inbound node");
          l.inbound.push_back(edge[0].get<std::string>());
        }
      }
      if (by_name_.count(l.name)) fail_file("two layers are named '" + l.name + "'");
      by_name_[l.name] = layers_.size();
      layers_.push_back(std::move(l));
    }
    for (const KLayer& l : layers_)
      for (const std::string& from : l.inbound) {
        if (!by_name_.count(from)) fail(l, "takes its input from '" + from + "', which is not a layer of the model");
        consumers_[from].push_back(&l);
      }
    for (const char* key : {"input_layers", "output_layers"}) {
      if (!config.contains(key) || !config[key].is_array() || config[key].size() != 1 || !config[key][0].is_array() ||
          config[key][0].empty() || !config[key][0][0].is_string())
        fail_file(std::string("config.") + key + " must name exactly one layer (the RCNN has one input and one output)");
    }
    input_name_ = config["input_layers"][0][0].get<std::string>();
    output_name_ = config["output_layers"][0][0].get<std::string>();
  }

  const std::vector<const KLayer*>& consumers(const KLayer& l) {
    static const std::vector<const KLayer*> none;
    const auto it = consumers_.find(l.name);
    return it == consumers_.end() ? none : it->second;
  }
  const KLayer& sole_consumer(const KLayer& l) {
    const auto& next = consumers(l);
    if (next.size() != 1)
      fail(l, "feeds " + std::to_string(next.size()) + " layers (" + describe(next) + "); the RCNN expects one");
    return *next[0];
  }
  void visit(const KLayer& l, const std::string& expected_class, const std::string& role) {
    role_ = role;
    if (l.cls != expected_class) fail(l, "expected a " + expected_class + " layer here");
    if (!visited_.insert(l.name).second) fail(l, "is reached twice (the graph has a cycle)");
    if (l.cls != "Add" && l.cls != "InputLayer" && l.inbound.size() != 1)
      fail(l, "has " + std::to_string(l.inbound.size()) + " inputs, expected 1");
  }

  // ---- typed access to one layer's config, each failure naming the field ----
  const json& field(const KLayer& l, const std::string& key) {
    if (!l.config->contains(key)) fail(l, "has no '" + key + "' setting");
    return (*l.config)[key];
  }
  int integer(const KLayer& l, const json& v, const std::string& key, std::int64_t lo, std::int64_t hi) {
    if (!v.is_number_integer()) fail(l, "'" + key + "' is " + v.dump() + ", not an integer");
    const std::int64_t x = v.get<std::int64_t>();
    if (x < lo || x > hi)
      fail(l, "'" + key + "' is " + std::to_string(x) + ", outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int>(x);
  }
  int integer(const KLayer& l, const std::string& key, std::int64_t lo, std::int64_t hi) {
    return integer(l, field(l, key), key, lo, hi);
  }
  double number(const KLayer& l, const std::string& key) {
    const json& v = field(l, key);
    if (!v.is_number()) fail(l, "'" + key + "' is " + v.dump() + ", not a number");
    return v.get<double>();
  }
  std::string text(const KLayer& l, const std::string& key) {
    const json& v = field(l, key);
    if (!v.is_string()) fail(l, "'" + key + "' is " + v.dump() + ", not a string");
    return v.get<std::string>();
  }
  // A setting that must have one value when present (absent = Keras's default, which is it).
  void expect_if_present(const KLayer& l, const std::string& key, const json& expected) {
    if (l.config->contains(key) && (*l.config)[key] != expected)
      fail(l, "'" + key + "' is " + (*l.config)[key].dump() + ", the engine implements " + expected.dump());
  }
  void expect(const KLayer& l, const std::string& key, const json& expected) {
    field(l, key);
    expect_if_present(l, key, expected);
  }
  // [a, b] of positive integers.
  std::pair<int, int> pair(const KLayer& l, const std::string& key) {
    const json& v = field(l, key);
    if (!v.is_array() || v.size() != 2) fail(l, "'" + key + "' is " + v.dump() + ", not a pair");
    return {integer(l, v[0], key, 1, 1 << 16), integer(l, v[1], key, 1, 1 << 16)};
  }
  float rate(const KLayer& l) {
    const double r = number(l, "rate");
    if (!(r >= 0 && r < 1)) fail(l, "dropout rate " + std::to_string(r) + " is outside [0, 1)");
    if (l.config->contains("noise_shape") && !(*l.config)["noise_shape"].is_null())
      fail(l, "a noise_shape is set; the engine drops elements independently");
    return static_cast<float>(r);
  }

  // ---- the RCNN, part by part ----
  const KLayer& read_input() {
    if (!by_name_.count(input_name_)) fail_file("the input layer '" + input_name_ + "' is missing");
    const KLayer& input = layers_[by_name_.at(input_name_)];
    visit(input, "InputLayer", "model input");
    const json& shape = field(input, "batch_input_shape");
    if (!shape.is_array() || shape.size() != 4 || !shape[0].is_null())
      fail(input, "batch_input_shape is " + shape.dump() + ", expected [null, frames, bins, 1]");
    arch_.config.time_frames = integer(input, shape[1], "batch_input_shape", 1, 1 << 20);
    arch_.config.freq_bins = integer(input, shape[2], "batch_input_shape", 1, 1 << 20);
    if (integer(input, shape[3], "batch_input_shape", 1, 1 << 20) != 1)
      fail(input, "batch_input_shape is " + shape.dump() + ": the spectrogram has one channel");
    expect_if_present(input, "dtype", "float32");
    expect_if_present(input, "sparse", false);
    expect_if_present(input, "ragged", false);
    return input;
  }

  void check_batchnorm(const KLayer& bn, bool first) {
    const json& axis = field(bn, "axis");
    const bool channels = axis == json(3) || axis == json(-1) || axis == json::array({3}) || axis == json::array({-1});
    if (!channels) fail(bn, "axis is " + axis.dump() + "; the engine normalises the channel axis (3)");
    const double momentum = number(bn, "momentum"), epsilon = number(bn, "epsilon");
    if (first) {
      arch_.config.bn_momentum = static_cast<float>(momentum);
      arch_.config.bn_epsilon = static_cast<float>(epsilon);
      if (!(momentum >= 0 && momentum < 1 && epsilon > 0 && std::isfinite(epsilon)))
        fail(bn, "momentum " + std::to_string(momentum) + " / epsilon " + std::to_string(epsilon) + " are invalid");
    } else if (static_cast<float>(momentum) != arch_.config.bn_momentum ||
               static_cast<float>(epsilon) != arch_.config.bn_epsilon) {
      fail(bn, "momentum/epsilon differ from the first BatchNormalization's; the engine uses one setting");
    }
    expect(bn, "center", true);
    expect(bn, "scale", true);
    expect_if_present(bn, "renorm", false);
    expect_if_present(bn, "virtual_batch_size", nullptr);
    expect_if_present(bn, "adjustment", nullptr);
  }

  // Returns the last layer of the branch (the one feeding the Add).
  const KLayer& read_cnn(const KLayer& first_conv) {
    arch_.config.conv.clear();
    // The feature map's size as the walk goes, so a layer that shrinks it to nothing is named.
    std::int64_t h = arch_.config.time_frames, w = arch_.config.freq_bins;
    auto shrink = [&](const KLayer& at, int stride, bool pool) {
      h = pool ? h / 2 : (h + stride - 1) / stride;  // TF "same": ceil(in / stride); pool: floor
      w = pool ? w / 2 : (w + stride - 1) / stride;
      if (h < 1 || w < 1)
        fail(at, "reduces the " + std::to_string(arch_.config.time_frames) + " x " +
                     std::to_string(arch_.config.freq_bins) + " input to nothing");
    };
    const KLayer* l = &first_conv;
    for (int block = 1;; ++block) {
      const std::string role = "CNN block " + std::to_string(block);
      const KLayer& conv = *l;
      visit(conv, "Conv2D", role + " convolution");
      ConvBlock b;
      b.filters = integer(conv, "filters", 1, 1 << 16);
      const auto [kh, kw] = pair(conv, "kernel_size");
      const auto [sh, sw] = pair(conv, "strides");
      if (kh != kw) fail(conv, "kernel_size is " + field(conv, "kernel_size").dump() + "; the engine's kernels are square");
      if (sh != sw) fail(conv, "strides are " + field(conv, "strides").dump() + "; the engine's strides are equal");
      b.kernel = kh;
      b.stride = sh;
      expect(conv, "padding", "same");
      expect(conv, "activation", "relu");
      expect(conv, "use_bias", true);
      expect_if_present(conv, "data_format", "channels_last");
      expect_if_present(conv, "dilation_rate", json::array({1, 1}));
      expect_if_present(conv, "groups", 1);
      shrink(conv, b.stride, false);
      arch_.weighted_layers.emplace_back("cnn.conv" + std::to_string(block), conv.name);

      const KLayer& bn = sole_consumer(conv);
      visit(bn, "BatchNormalization", role + " batch norm");
      check_batchnorm(bn, block == 1);
      arch_.weighted_layers.emplace_back("cnn.bn" + std::to_string(block), bn.name);

      const KLayer* next = &sole_consumer(bn);
      if (next->cls == "MaxPooling2D") {
        visit(*next, "MaxPooling2D", role + " pooling");
        if (pair(*next, "pool_size") != std::pair<int, int>{2, 2})
          fail(*next, "pool_size is " + field(*next, "pool_size").dump() + "; CNN pooling is 2 x 2");
        if (!field(*next, "strides").is_null() && pair(*next, "strides") != std::pair<int, int>{2, 2})
          fail(*next, "strides are " + field(*next, "strides").dump() + "; CNN pooling strides are 2 x 2");
        expect(*next, "padding", "valid");
        expect_if_present(*next, "data_format", "channels_last");
        b.pool = true;
        shrink(*next, 2, true);
        next = &sole_consumer(*next);
      } else {
        b.pool = false;
      }
      if (next->cls == "Dropout") {
        visit(*next, "Dropout", role + " dropout");
        b.dropout = rate(*next);
        next = &sole_consumer(*next);
      } else {
        b.dropout = 0.0f;
      }
      arch_.config.conv.push_back(b);
      if (next->cls == "Flatten") {
        l = next;
        break;
      }
      if (next->cls != "Conv2D") {
        role_ = "after " + role;
        fail(*next, "expected the next Conv2D block or the Flatten that ends the CNN branch");
      }
      l = next;
    }
    visit(*l, "Flatten", "CNN flatten");
    cnn_flat_ = h * w * arch_.config.conv.back().filters;
    expect_if_present(*l, "data_format", "channels_last");
    const KLayer* next = &sole_consumer(*l);
    arch_.config.cnn_dropout = 0.0f;
    if (next->cls == "Dropout") {
      visit(*next, "Dropout", "CNN dropout");
      arch_.config.cnn_dropout = rate(*next);
      l = next;
      next = &sole_consumer(*next);
    }
    if (next->cls != "Add") {
      role_ = "after the CNN branch";
      fail(*next, "expected the Add that joins the CNN and RNN branches");
    }
    return *l;
  }

  void check_lstm(const KLayer& owner, const json& lstm, bool backward, int expected_units, bool last) {
    const std::string which = backward ? "backward_layer" : "layer";
    if (!lstm.is_object() || lstm.value("class_name", std::string()) != "LSTM" || !lstm.contains("config") ||
        !lstm["config"].is_object())
      fail(owner, "the wrapped " + which + " is not an LSTM");
    const json& c = lstm["config"];
    auto setting = [&](const std::string& key, const json& want, bool required) {
      if (!c.contains(key)) {
        if (required) fail(owner, which + " has no '" + key + "' setting");
        return;
      }
      if (c[key] != want)
        fail(owner, which + " '" + key + "' is " + c[key].dump() + ", the engine implements " + want.dump());
    };
    if (!c.contains("units") || !c["units"].is_number_integer() || c["units"].get<std::int64_t>() != expected_units)
      fail(owner, which + " units are " + (c.contains("units") ? c["units"].dump() : "missing") + ", expected " +
                      std::to_string(expected_units) + " (one value for every LSTM)");
    setting("activation", "tanh", true);
    setting("recurrent_activation", "sigmoid", true);
    setting("use_bias", true, true);
    setting("return_sequences", !last, true);
    setting("return_state", false, false);
    setting("go_backwards", backward, false);
    setting("stateful", false, false);
    setting("time_major", false, false);
    setting("dropout", 0.0, false);
    setting("recurrent_dropout", 0.0, false);
  }

  const KLayer& read_rnn(const KLayer& start) {
    const KLayer* l = &start;
    int pools = 0;
    while (l->cls == "MaxPooling2D") {
      visit(*l, "MaxPooling2D", "RNN frequency pooling " + std::to_string(pools + 1));
      if (pair(*l, "pool_size") != std::pair<int, int>{1, 2})
        fail(*l, "pool_size is " + field(*l, "pool_size").dump() + "; the RNN branch pools (1, 2)");
      if (!field(*l, "strides").is_null() && pair(*l, "strides") != std::pair<int, int>{1, 2})
        fail(*l, "strides are " + field(*l, "strides").dump() + "; the RNN branch pools with strides (1, 2)");
      expect(*l, "padding", "valid");
      expect_if_present(*l, "data_format", "channels_last");
      ++pools;
      l = &sole_consumer(*l);
    }
    arch_.config.rnn_freq_pools = pools;
    visit(*l, "Reshape", "RNN reshape to (frames, bins)");
    const json& target = field(*l, "target_shape");
    const json want = json::array({arch_.config.time_frames, arch_.config.rnn_input_size()});
    if (target != want)
      fail(*l, "target_shape is " + target.dump() + ", expected " + want.dump() + " (frames, pooled bins)");

    l = &sole_consumer(*l);
    std::vector<const KLayer*> bidirectionals;
    while (l->cls == "Bidirectional") {
      bidirectionals.push_back(l);
      const KLayer& next = sole_consumer(*l);
      if (next.cls != "Bidirectional") break;
      l = &next;
    }
    if (bidirectionals.empty()) {
      role_ = "after the RNN reshape";
      fail(*l, "expected a Bidirectional(LSTM)");
    }
    arch_.config.lstm_layers = static_cast<int>(bidirectionals.size());
    for (std::size_t i = 0; i < bidirectionals.size(); ++i) {
      const KLayer& bi = *bidirectionals[i];
      visit(bi, "Bidirectional", "BiLSTM " + std::to_string(i + 1));
      const bool last = i + 1 == bidirectionals.size();
      expect(bi, "merge_mode", "concat");
      const json& inner = field(bi, "layer");
      if (i == 0) {
        if (!inner.is_object() || !inner.contains("config") || !inner["config"].is_object())
          fail(bi, "the wrapped layer has no config");
        arch_.config.lstm_units = integer(bi, inner["config"].value("units", json(0)), "units", 1, 1 << 14);
      }
      check_lstm(bi, inner, false, arch_.config.lstm_units, last);
      if (bi.config->contains("backward_layer")) check_lstm(bi, (*bi.config)["backward_layer"], true, arch_.config.lstm_units, last);
      arch_.weighted_layers.emplace_back("rnn.lstm" + std::to_string(i + 1), bi.name);
    }
    l = bidirectionals.back();
    const KLayer* next = &sole_consumer(*l);
    if (next->cls == "Flatten") {  // a no-op on (N, 2U); Keras models often have it
      visit(*next, "Flatten", "RNN flatten");
      l = next;
      next = &sole_consumer(*next);
    }
    arch_.config.rnn_dropout = 0.0f;
    if (next->cls == "Dropout") {
      visit(*next, "Dropout", "RNN dropout");
      arch_.config.rnn_dropout = rate(*next);
      l = next;
      next = &sole_consumer(*next);
    }
    if (next->cls != "Add") {
      role_ = "after the RNN branch";
      fail(*next, "expected the Add that joins the CNN and RNN branches");
    }
    return *l;
  }

  void read_head(const KLayer& add) {
    visit(add, "Add", "branch join");
    if (add.inbound.size() != 2) fail(add, "adds " + std::to_string(add.inbound.size()) + " inputs, expected 2");
    if (cnn_flat_ != 2 * arch_.config.lstm_units)
      fail(add, "the CNN branch flattens to " + std::to_string(cnn_flat_) + " values but the BiLSTM branch gives 2 x " +
                    std::to_string(arch_.config.lstm_units) + "; Add needs them equal");
    const KLayer& dense = sole_consumer(add);
    visit(dense, "Dense", "classifier");
    arch_.config.classes = integer(dense, "units", 2, 1 << 16);
    expect(dense, "activation", "softmax");
    expect(dense, "use_bias", true);
    if (dense.name != output_name_) fail(dense, "is not the model's output ('" + output_name_ + "' is)");
    if (!consumers(dense).empty()) fail(dense, "the classifier must be the last layer; it feeds " + describe(consumers(dense)));
    arch_.weighted_layers.emplace_back("head.dense", dense.name);
  }

  const json& root_;
  std::string source_;
  std::vector<KLayer> layers_;
  std::map<std::string, std::size_t> by_name_;
  std::map<std::string, std::vector<const KLayer*>> consumers_;
  std::set<std::string> visited_;
  std::string input_name_, output_name_, role_;
  std::int64_t cnn_flat_ = 0;
  KerasArchitecture arch_;
};

}  // namespace

KerasArchitecture parse_keras_architecture(const std::string& json_text, const std::string& source) {
  const nlohmann::json root = parse_json_strict(json_text, source);
  return ArchitectureReader(root, source).read();
}

// =============================================================================================
// HDF5 weights
// =============================================================================================
namespace {

// Silences HDF5's automatic error printing for the importer's lifetime and turns its error stack
// into one line for our messages.
class Hdf5Errors {
 public:
  Hdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~Hdf5Errors() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }
  Hdf5Errors(const Hdf5Errors&) = delete;
  Hdf5Errors& operator=(const Hdf5Errors&) = delete;

  // The innermost HDF5 error description ("" when the stack is empty); clears the stack.
  static std::string take() {
    std::string message;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_DOWNWARD,
        [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
          auto& m = *static_cast<std::string*>(out);
          if (e && e->desc && *e->desc) m = std::string(e->desc) + (e->func_name ? std::string(" in ") + e->func_name : "");
          return 0;
        },
        &message);
    H5Eclear2(H5E_DEFAULT);
    return message;
  }

 private:
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

// An HDF5 identifier closed by its matching close function.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  void reset(hid_t id) {
    if (id_ >= 0) close_(id_);
    id_ = id;
  }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

class WeightsReader {
 public:
  WeightsReader(const std::string& bytes, std::string source) : source_(std::move(source)) {
    GN_REQUIRE(!bytes.empty(), source_, ": the HDF5 weights file is empty");
    // HDF5's signature sits at offset 0 or at a power-of-two user-block offset (512, 1024, ...).
    static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    bool signed_ = false;
    for (std::size_t at = 0; at + 8 <= bytes.size(); at = at ? 2 * at : 512)
      if (std::memcmp(bytes.data() + at, kSignature, 8) == 0) {
        signed_ = true;
        break;
      }
    GN_REQUIRE(signed_, source_, ": not an HDF5 file (no HDF5 signature)");
    // Open the bytes as an in-memory file image (core driver, no backing file): the file on disk
    // is read once by us, and the fuzzer drives exactly this code path.
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    check(fapl.ok() && H5Pset_fapl_core(fapl.get(), 1 << 20, 0) >= 0 &&
              H5Pset_file_image(fapl.get(), const_cast<char*>(bytes.data()), bytes.size()) >= 0,
          "cannot set up an in-memory HDF5 file");
    // The name only labels the image; it must not exist on disk (the core driver refuses to
    // shadow a real file), and nothing can exist below /dev/null.
    file_.reset(H5Fopen("/dev/null/genrenet-in-memory.h5", H5F_ACC_RDONLY, fapl.get()));
    check(file_.ok(), "cannot open as HDF5 (corrupt or truncated file?)");
    // `model.save()` files keep the weights under /model_weights; `save_weights()` files at the root.
    const char* root = H5Lexists(file_.get(), "model_weights", H5P_DEFAULT) > 0 ? "model_weights" : "/";
    H5Eclear2(H5E_DEFAULT);
    root_.reset(H5Gopen2(file_.get(), root, H5P_DEFAULT));
    check(root_.ok(), std::string("cannot open the group '") + root + "'");
  }
  WeightsReader(const WeightsReader&) = delete;
  WeightsReader& operator=(const WeightsReader&) = delete;

  std::map<std::string, Tensor> read(const KerasArchitecture& arch) {
    std::map<std::string, Shape> expected;
    for (const TensorSpec& s : rcnn_tensor_specs(arch.config)) expected.emplace(s.name, s.shape);

    // Keras loads weights layer by layer in order; require the file's weighted layers to be
    // exactly the architecture's, in the same order, so no weight is silently dropped.
    std::vector<std::string> file_layers;
    for (const std::string& name : string_attribute(root_.get(), "layer_names", "the weights file")) {
      H5Handle group(H5Gopen2(root_.get(), name.c_str(), H5P_DEFAULT), H5Gclose);
      check(group.ok(), "layer '" + name + "' is listed in layer_names but has no group");
      if (!string_attribute(group.get(), "weight_names", "layer '" + name + "'").empty()) file_layers.push_back(name);
    }
    const std::vector<std::string>& order = arch.keras_load_order;
    for (std::size_t i = 0; i < std::max(file_layers.size(), order.size()); ++i) {
      const std::string in_file = i < file_layers.size() ? "'" + file_layers[i] + "'" : "nothing";
      const std::string in_json = i < order.size() ? "'" + order[i] + "'" : "nothing";
      GN_REQUIRE(in_file == in_json, source_, ": weighted layer ", i + 1, " is ", in_file,
                 " in the weights but ", in_json, " in the architecture (weights of another model?)");
    }

    std::map<std::string, Tensor> out;
    for (const auto& [prefix, layer] : arch.weighted_layers) {
      std::vector<std::pair<std::string, std::string>> slots;  // (engine name, Keras weight name)
      if (prefix.rfind("cnn.conv", 0) == 0 || prefix == "head.dense") {
        slots = {{prefix + ".kernel", "kernel"}, {prefix + ".bias", "bias"}};
      } else if (prefix.rfind("cnn.bn", 0) == 0) {
        slots = {{prefix + ".gamma", "gamma"},
                 {prefix + ".beta", "beta"},
                 {prefix + ".moving_mean", "moving_mean"},
                 {prefix + ".moving_var", "moving_variance"}};
      } else {
        for (const char* dir : {"fwd", "bwd"})
          for (const char* w : {"kernel", "recurrent_kernel", "bias"})
            slots.push_back({prefix + "." + dir + "." + w, w});
      }
      read_layer(layer, slots, expected, out);
    }
    return out;
  }

 private:
  void check(bool ok, const std::string& what) const {
    if (ok) return;
    const std::string why = Hdf5Errors::take();
    GN_FAIL(source_, ": ", what, why.empty() ? "" : " (HDF5: " + why + ")");
  }

  // A 1-D string attribute (fixed-length or variable-length strings, as h5py writes them).
  std::vector<std::string> string_attribute(hid_t object, const char* name, const std::string& owner) const {
    const htri_t exists = H5Aexists(object, name);
    check(exists >= 0, "cannot query attribute '" + std::string(name) + "' of " + owner);
    GN_REQUIRE(exists > 0, source_, ": ", owner, " has no '", name, "' attribute (not a Keras weights file?)");
    H5Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    check(attr.ok(), "cannot open attribute '" + std::string(name) + "' of " + owner);
    H5Handle type(H5Aget_type(attr.get()), H5Tclose);
    H5Handle space(H5Aget_space(attr.get()), H5Sclose);
    check(type.ok() && space.ok(), "cannot read attribute '" + std::string(name) + "' of " + owner);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    check(rank >= 0 && count >= 0, "cannot read the size of attribute '" + std::string(name) + "'");
    // h5py writes an empty list as an empty float64 array: no strings.
    if (count == 0) return {};
    GN_REQUIRE(rank <= 1 && count <= 4096, source_, ": attribute '", name, "' of ", owner,
               " is not a list of strings (rank ", rank, ", ", count, " elements)");
    GN_REQUIRE(H5Tget_class(type.get()) == H5T_STRING, source_, ": attribute '", name, "' of ", owner,
               " does not hold strings");
    // Keras (h5py from NumPy byte arrays) writes fixed-length strings. Variable-length ones are
    // refused rather than read: their bytes live in HDF5's global heap, whose reader in libhdf5
    // 1.10 trusts the stored lengths (fuzzing found a memcpy of size -1 in H5HG_read).
    const htri_t variable = H5Tis_variable_str(type.get());
    check(variable >= 0, "cannot read the string type of attribute '" + std::string(name) + "'");
    GN_REQUIRE(!variable, source_, ": attribute '", name, "' of ", owner,
               " holds variable-length strings; Keras writes fixed-length ones");
    const std::size_t size = H5Tget_size(type.get());
    GN_REQUIRE(size > 0 && size <= 4096, source_, ": attribute '", name, "' of ", owner, " has strings of ", size,
               " bytes");
    H5Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
    check(memtype.ok() && H5Tset_size(memtype.get(), size) >= 0 && H5Tset_strpad(memtype.get(), H5T_STR_NULLPAD) >= 0,
          "cannot make a string type");
    std::vector<char> buffer(size * static_cast<std::size_t>(count), '\0');
    check(H5Aread(attr.get(), memtype.get(), buffer.data()) >= 0,
          "cannot read attribute '" + std::string(name) + "' of " + owner);
    std::vector<std::string> values;
    for (hssize_t i = 0; i < count; ++i) {
      const char* p = buffer.data() + static_cast<std::size_t>(i) * size;
      values.emplace_back(p, strnlen(p, size));
    }
    return values;
  }

  // "conv2d/kernel:0" -> "kernel"; "bidirectional/forward_lstm/lstm_cell_1/bias:0" -> "bias".
  static std::string short_name(const std::string& weight_name) {
    std::string s = weight_name.substr(weight_name.rfind('/') + 1);
    const std::size_t colon = s.rfind(':');
    return colon == std::string::npos ? s : s.substr(0, colon);
  }

  void read_layer(const std::string& layer, const std::vector<std::pair<std::string, std::string>>& slots,
                  const std::map<std::string, Shape>& expected, std::map<std::string, Tensor>& out) const {
    H5Handle group(H5Gopen2(root_.get(), layer.c_str(), H5P_DEFAULT), H5Gclose);
    check(group.ok(), "the weights have no group for layer '" + layer + "'");
    const std::vector<std::string> names = string_attribute(group.get(), "weight_names", "layer '" + layer + "'");
    GN_REQUIRE(names.size() == slots.size(), source_, ": layer '", layer, "' has ", names.size(),
               " weights, the engine expects ", slots.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const auto& [engine_name, keras_name] = slots[i];
      const std::string& weight = names[i];
      GN_REQUIRE(short_name(weight) == keras_name, source_, ": layer '", layer, "' weight ", i + 1, " is '", weight,
                 "', expected its ", keras_name);
      // Bidirectional: the first three weights are the forward LSTM's, the last three the backward's.
      if (slots.size() == 6) {
        const char* dir = i < 3 ? "forward" : "backward";
        GN_REQUIRE(weight.find(dir) != std::string::npos, source_, ": layer '", layer, "' weight ", i + 1, " is '",
                   weight, "', expected the ", dir, " LSTM's ", keras_name);
      }
      out[engine_name] = read_dataset(group.get(), layer, weight, expected.at(engine_name));
    }
  }

  Tensor read_dataset(hid_t group, const std::string& layer, const std::string& weight, const Shape& shape) const {
    const std::string what = "weight '" + weight + "' of layer '" + layer + "'";
    H5Handle ds(H5Dopen2(group, weight.c_str(), H5P_DEFAULT), H5Dclose);
    check(ds.ok(), what + " is missing");
    H5Handle type(H5Dget_type(ds.get()), H5Tclose);
    H5Handle space(H5Dget_space(ds.get()), H5Sclose);
    check(type.ok() && space.ok(), "cannot read the type of " + what);
    GN_REQUIRE(H5Tget_class(type.get()) == H5T_FLOAT, source_, ": ", what,
               " is not floating point (the engine reads float32 weights)");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    check(rank >= 0, "cannot read the shape of " + what);
    GN_REQUIRE(H5Sget_simple_extent_type(space.get()) == H5S_SIMPLE || rank == 0, source_, ": ", what,
               " has no simple shape");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0) check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) == rank, "cannot read the shape of " + what);
    bool same = rank == shape.rank();
    for (int d = 0; same && d < rank; ++d) same = dims[d] == static_cast<hsize_t>(shape[d]);
    if (!same) {
      std::string found = "(";
      for (int d = 0; d < rank; ++d) found += (d ? ", " : "") + std::to_string(dims[d]);
      GN_FAIL(source_, ": ", what, " has shape ", found, rank == 1 ? ",)" : ")", " but the architecture needs ",
              shape.str());
    }
    // The only allocation is the expected shape's, never a size taken from the file.
    Tensor t = Tensor::empty(shape);
    check(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()) >= 0, "cannot read " + what);
    const float* p = t.data();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      GN_REQUIRE(std::isfinite(p[i]), source_, ": ", what, " holds a non-finite value at flat index ", i);
    return t;
  }

  std::string source_;
  // Members, so a constructor that throws half-way still closes what it opened.
  H5Handle file_{-1, H5Fclose};
  H5Handle root_{-1, H5Gclose};
};

}  // namespace

namespace {

void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the parent went away; nothing left to tell
    done += static_cast<std::size_t>(w);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buffer, sizeof buffer);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(r));
  }
}

}  // namespace

// libhdf5 1.10 (Debian 12's) is not hardened against hostile files: fuzzing finds heap
// over-reads inside its object-header and global-heap decoders within seconds, which GenreNet
// cannot fix. So the HDF5 parsing runs in a forked child process: a crash or sanitizer abort
// there becomes one clear error here, and whatever the library read out of bounds stays in the
// child. The child sends back either "T" + safetensors bytes or "E" + the error message, and
// the parent checks the tensors' names and shapes again before using them.
std::map<std::string, Tensor> read_keras_weights(const std::string& h5_bytes, const KerasArchitecture& arch,
                                                 const std::string& source) {
  int fds[2];
  GN_REQUIRE(::pipe(fds) == 0, source, ": cannot create a pipe (", std::strerror(errno), ")");
  std::fflush(nullptr);  // no buffered output duplicated into the child
  const pid_t pid = ::fork();
  if (pid < 0) {
    const std::string why = std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    GN_FAIL(source, ": cannot start the HDF5 reader process (", why, ")");
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::string reply;
    try {
      Hdf5Errors quiet;
      WeightsReader reader(h5_bytes, source);
      reply = "T" + serialize_safetensors(reader.read(arch), {});
    } catch (const Error& e) {
      reply = std::string("E") + e.what();
    } catch (const std::exception& e) {
      reply = "E" + source + ": reading the weights failed (" + e.what() + ")";
    }
    write_all(fds[1], reply);
    ::close(fds[1]);
    ::_exit(0);  // no atexit handlers, no destructors of the parent's state
  }
  ::close(fds[1]);
  const std::string reply = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || reply.empty())
    GN_FAIL(source, ": the HDF5 library failed while reading this file (",
            WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status)) : "exit status " + std::to_string(WEXITSTATUS(status)),
            "): the file is corrupt");
  if (reply[0] == 'E') throw Error(reply.substr(1));
  GN_REQUIRE(reply[0] == 'T', source, ": the HDF5 reader process answered nonsense");
  std::map<std::string, Tensor> tensors = parse_safetensors(reply.substr(1), source).tensors;
  const std::vector<TensorSpec> specs = rcnn_tensor_specs(arch.config);
  GN_REQUIRE(tensors.size() == specs.size(), source, ": the HDF5 reader returned ", tensors.size(), " tensors, expected ",
             specs.size());
  for (const TensorSpec& spec : specs)
    GN_REQUIRE(tensors.count(spec.name) && tensors.at(spec.name).shape() == spec.shape, source,
               ": the HDF5 reader returned no ", spec.shape.str(), " tensor '", spec.name, "'");
  return tensors;
}

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
