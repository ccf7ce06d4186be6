#include "export/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "engine/version.h"
#include "layers/conv2d.h"

namespace gn {
namespace {

// Keras stores the LSTM gates as column blocks i, f, c, o; ONNX wants row blocks i, o, f, c.
// kKerasGateOfOnnx[g] = the Keras block that becomes ONNX block g.
constexpr int kKerasGateOfOnnx[4] = {0, 3, 1, 2};

// Appends nodes and initializers to one graph, naming nodes after their first output.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto& graph) : graph_(graph) {}

  // A float32 initializer of shape `dims`, values in row-major order.
  std::string floats(const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<float>& values) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));  // little-endian, as ONNX specifies
    return name;
  }
  // A 1-D int64 initializer (shapes and axes given as inputs).
  std::string int64s(const std::string& name, const std::vector<std::int64_t>& values) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(values.size()));
    for (std::int64_t v : values) t->add_int64_data(v);
    return name;
  }
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs) {
    onnx::NodeProto* n = graph_.add_node();
    n->set_op_type(op);
    n->set_name(outputs.front().empty() ? outputs.back() : outputs.front());
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return *n;
  }
  // One-output node; returns the output's name.
  std::string op(const std::string& op_type, const std::vector<std::string>& inputs, const std::string& output) {
    node(op_type, inputs, {output});
    return output;
  }

 private:
  onnx::GraphProto& graph_;
};

void set_ints(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& values) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (std::int64_t v : values) a->add_ints(v);
}
void set_int(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
void set_float(onnx::NodeProto& n, const std::string& name, float value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}
void set_string(onnx::NodeProto& n, const std::string& name, const std::string& value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

// A graph input or output: float32 with a symbolic clip axis first.
void declare_value(onnx::ValueInfoProto* v, const std::string& name, const std::vector<std::int64_t>& dims,
                   const std::string& doc) {
  v->set_name(name);
  v->set_doc_string(doc);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_param("clips");
  for (std::int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

class Exporter {
 public:
  Exporter(const Checkpoint& ck, const std::string& source, onnx::GraphProto& graph)
      : ck_(ck), source_(source), g_(graph) {}

  const Tensor& tensor(const std::string& name, const Shape& shape) const {
    auto it = ck_.tensors.find(name);
    GN_REQUIRE(it != ck_.tensors.end(), source_, ": tensor ", name, " is missing");
    GN_REQUIRE(it->second.shape() == shape, source_, ": tensor ", name, " has shape ", it->second.shape().str(),
               ", expected ", shape.str());
    return it->second;
  }
  std::vector<float> values(const std::string& name, const Shape& shape) const {
    return tensor(name, shape).to_vector();
  }

  // One CNN block on x (N, C, H, W); h, w are updated to the block's output size.
  std::string cnn_block(int index, const ConvBlock& b, int in_channels, const std::string& x, std::int64_t& h,
                        std::int64_t& w) {
    const std::string n = std::to_string(index);
    const std::string conv = "cnn.conv" + n, bn = "cnn.bn" + n;
    const int k = b.kernel, cin = in_channels, cout = b.filters;
    // HWIO (Keras) -> OIHW (ONNX).
    const std::vector<float> hwio = values(conv + ".kernel", Shape{k, k, cin, cout});
    std::vector<float> oihw(hwio.size());
    for (int kh = 0; kh < k; ++kh)
      for (int kw = 0; kw < k; ++kw)
        for (int ci = 0; ci < cin; ++ci)
          for (int co = 0; co < cout; ++co)
            oihw[((static_cast<std::size_t>(co) * cin + ci) * k + kh) * k + kw] =
                hwio[((static_cast<std::size_t>(kh) * k + kw) * cin + ci) * cout + co];
    const Pad1D ph = conv_padding(conv, h, k, b.stride, Padding::Same);
    const Pad1D pw = conv_padding(conv, w, k, b.stride, Padding::Same);
    onnx::NodeProto& c = g_.node("Conv",
                                 {x, g_.floats(conv + ".weight", {cout, cin, k, k}, oihw),
                                  g_.floats(conv + ".bias", {cout}, values(conv + ".bias", Shape{cout}))},
                                 {conv});
    set_ints(c, "kernel_shape", {k, k});
    set_ints(c, "strides", {b.stride, b.stride});
    set_ints(c, "pads", {ph.before, pw.before, ph.after, pw.after});  // x1_begin, x2_begin, x1_end, x2_end
    std::string y = g_.op("Relu", {conv}, conv + ".relu");
    const Shape c_shape{cout};
    onnx::NodeProto& norm = g_.node("BatchNormalization",
                                    {y, g_.floats(bn + ".gamma", {cout}, values(bn + ".gamma", c_shape)),
                                     g_.floats(bn + ".beta", {cout}, values(bn + ".beta", c_shape)),
                                     g_.floats(bn + ".moving_mean", {cout}, values(bn + ".moving_mean", c_shape)),
                                     g_.floats(bn + ".moving_var", {cout}, values(bn + ".moving_var", c_shape))},
                                    {bn});
    set_float(norm, "epsilon", ck_.config.bn_epsilon);
    y = bn;
    h = ph.out;
    w = pw.out;
    if (b.pool) {
      onnx::NodeProto& p = g_.node("MaxPool", {y}, {"cnn.pool" + n});
      set_ints(p, "kernel_shape", {2, 2});
      set_ints(p, "strides", {2, 2});
      y = "cnn.pool" + n;
      h /= 2;
      w /= 2;
    }
    return y;
  }

  // One bidirectional LSTM layer on x (T, N, In). Returns (T, N, 2U) when `sequences`, else
  // (N, 2U) = concat(forward state at T-1, backward state at 0), like Keras.
  std::string bilstm(int layer, std::int64_t in, bool sequences, const std::string& x) {
    const std::int64_t u = ck_.config.lstm_units;
    const std::string name = "rnn.lstm" + std::to_string(layer);
    std::vector<float> w, r, bias;  // (2, 4U, In), (2, 4U, U), (2, 8U)
    for (const char* dir : {"fwd", "bwd"}) {  // ONNX direction 0 = forward, 1 = reverse
      const std::string p = name + "." + dir;
      const std::vector<float> kernel = values(p + ".kernel", Shape{in, 4 * u});           // (In, 4U)
      const std::vector<float> recurrent = values(p + ".recurrent_kernel", Shape{u, 4 * u});  // (U, 4U)
      const std::vector<float> b = values(p + ".bias", Shape{4 * u});
      for (int g = 0; g < 4; ++g) {
        const std::int64_t col0 = kKerasGateOfOnnx[g] * u;
        for (std::int64_t j = 0; j < u; ++j) {  // ONNX row g*U + j = Keras column col0 + j, transposed
          for (std::int64_t i = 0; i < in; ++i) w.push_back(kernel[i * 4 * u + col0 + j]);
          for (std::int64_t i = 0; i < u; ++i) r.push_back(recurrent[i * 4 * u + col0 + j]);
        }
      }
      for (int g = 0; g < 4; ++g)
        for (std::int64_t j = 0; j < u; ++j) bias.push_back(b[kKerasGateOfOnnx[g] * u + j]);  // Wb
      bias.insert(bias.end(), static_cast<std::size_t>(4 * u), 0.0f);                        // Rb
    }
    const std::string y = name + ".y", y_h = name + ".y_h";
    onnx::NodeProto& n = g_.node("LSTM",
                                 {x, g_.floats(name + ".W", {2, 4 * u, in}, w), g_.floats(name + ".R", {2, 4 * u, u}, r),
                                  g_.floats(name + ".B", {2, 8 * u}, bias)},
                                 sequences ? std::vector<std::string>{y} : std::vector<std::string>{"", y_h});
    set_int(n, "hidden_size", u);
    set_string(n, "direction", "bidirectional");
    if (sequences) {  // Y (T, 2, N, U) -> (T, N, 2, U) -> (T, N, 2U)
      onnx::NodeProto& t = g_.node("Transpose", {y}, {name + ".tnd"});
      set_ints(t, "perm", {0, 2, 1, 3});
      return g_.op("Reshape", {name + ".tnd", shape_tn_flat()}, name + ".out");
    }
    // Y_h (2, N, U) -> (N, 2, U) -> (N, 2U)
    onnx::NodeProto& t = g_.node("Transpose", {y_h}, {name + ".nd"});
    set_ints(t, "perm", {1, 0, 2});
    onnx::NodeProto& f = g_.node("Flatten", {name + ".nd"}, {name + ".out"});
    set_int(f, "axis", 1);
    return name + ".out";
  }

  std::string shape_tn_flat() {
    if (!have_tn_flat_) g_.int64s("shape.t_n_flat", {0, 0, -1});
    have_tn_flat_ = true;
    return "shape.t_n_flat";
  }

  void build() {
    const ModelConfig& c = ck_.config;
    onnx::NodeProto& to_nchw = g_.node("Transpose", {"spectrogram"}, {"input.nchw"});  // (N, 1, T, F)
    set_ints(to_nchw, "perm", {0, 3, 1, 2});

    // CNN branch.
    std::string x = "input.nchw";
    std::int64_t h = c.time_frames, w = c.freq_bins;
    int channels = 1;
    for (std::size_t i = 0; i < c.conv.size(); ++i) {
      x = cnn_block(static_cast<int>(i + 1), c.conv[i], channels, x, h, w);
      channels = c.conv[i].filters;
    }
    onnx::NodeProto& to_nhwc = g_.node("Transpose", {x}, {"cnn.nhwc"});
    set_ints(to_nhwc, "perm", {0, 2, 3, 1});
    onnx::NodeProto& flat = g_.node("Flatten", {"cnn.nhwc"}, {"cnn.flat"});  // (N, H*W*C), Keras order
    set_int(flat, "axis", 1);

    // RNN branch: (N, 1, T, F) -> MaxPool (1, 2) x k -> (N, T, F') -> (T, N, F').
    std::string r = "input.nchw";
    for (int i = 0; i < c.rnn_freq_pools; ++i) {
      const std::string out = "rnn.pool" + std::to_string(i + 1);
      onnx::NodeProto& p = g_.node("MaxPool", {r}, {out});
      set_ints(p, "kernel_shape", {1, 2});
      set_ints(p, "strides", {1, 2});
      r = out;
    }
    g_.op("Squeeze", {r, g_.int64s("axes.channel", {1})}, "rnn.ntf");
    onnx::NodeProto& to_tnf = g_.node("Transpose", {"rnn.ntf"}, {"rnn.input"});
    set_ints(to_tnf, "perm", {1, 0, 2});
    r = "rnn.input";
    std::int64_t in = c.rnn_input_size();
    for (int l = 0; l < c.lstm_layers; ++l) {
      r = bilstm(l + 1, in, l + 1 < c.lstm_layers, r);
      in = 2 * c.lstm_units;
    }

    // Head.
    g_.op("Add", {"cnn.flat", r}, "sum");
    const std::int64_t d = 2 * c.lstm_units, k = c.classes;
    g_.op("Gemm",
          {"sum", g_.floats("head.dense.kernel", {d, k}, values("head.dense.kernel", Shape{d, k})),
           g_.floats("head.dense.bias", {k}, values("head.dense.bias", Shape{k}))},
          "logits");
    onnx::NodeProto& sm = g_.node("Softmax", {"logits"}, {"probabilities"});
    set_int(sm, "axis", -1);
  }

 private:
  const Checkpoint& ck_;
  const std::string& source_;
  GraphBuilder g_;
  bool have_tn_flat_ = false;
};

void add_metadata(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* e = m.add_metadata_props();
  e->set_key(key);
  e->set_value(value);
}

}  // namespace

std::string export_onnx(const Checkpoint& checkpoint, const std::string& source) {
  GN_REQUIRE(!checkpoint.frontend_json.empty(), source,
             ": the checkpoint records no front-end, so the exported model could not be fed");
  GN_REQUIRE(!checkpoint.clip_scheme_json.empty(), source, ": the checkpoint records no clip scheme");
  const ModelConfig& c = checkpoint.config;
  c.validate();

  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("genrenet");
  model.set_producer_version(version_string());
  model.set_domain("genrenet");
  model.set_model_version(1);
  model.set_doc_string(
      "GenreNet RCNN music-genre classifier: spectrogram (clips, frames, bins, 1) -> probabilities (clips, "
      "classes). Compute the input with the front-end in metadata 'genrenet.frontend' on clips cut as in "
      "'genrenet.clip_scheme'; a song's probabilities are the mean of its clips'.");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);

  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name("genrenet_rcnn");
  declare_value(graph->add_input(), "spectrogram", {c.time_frames, c.freq_bins, 1},
                "front-end output per clip, standardised per bin when the front-end has statistics");
  declare_value(graph->add_output(), "probabilities", {c.classes},
                "softmax over the classes in the order of metadata 'genrenet.labels'");
  Exporter(checkpoint, source, *graph).build();

  add_metadata(model, "genrenet.labels", nlohmann::json(checkpoint.labels).dump());
  add_metadata(model, "genrenet.frontend", checkpoint.frontend_json);
  add_metadata(model, "genrenet.clip_scheme", checkpoint.clip_scheme_json);
  add_metadata(model, "genrenet.model_config", c.to_json().dump());
  add_metadata(model, "genrenet.song_reduction", "mean of the clip probabilities");

  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {  // a bug here, not a user error: say so plainly
    GN_FAIL(source, ": the exported ONNX graph fails ONNX's model checker: ", e.what());
  }
  std::string bytes;
  GN_REQUIRE(model.SerializeToString(&bytes), source, ": could not serialise the ONNX model (over 2 GiB?)");
  return bytes;
}

void export_onnx_file(const std::string& checkpoint_path, const std::string& output_path) {
  write_file_atomically(output_path, export_onnx(load_checkpoint(checkpoint_path), checkpoint_path));
}

}  // namespace gn
