// model.json -> KerasArchitecture: the graph walk that checks the Keras model is the RCNN the
// engine implements (model/keras_import.h describes what is checked).
#include <cmath>
#include <map>
#include <set>

#include "engine/error.h"
#include "engine/strict_json.h"
#include "model/keras_import.h"

namespace gn {

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

}  // namespace gn
