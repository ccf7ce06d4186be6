// The Keras importer on the real reference model (../shared/seed): the derived config, every
// tensor against the HDF5 value read independently through a hand-written name table, and
// clear errors naming the layer for every way model.json or the weights can differ.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/clips.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/frontend.h"
#include "model/checkpoint.h"
#include "model/keras_import.h"
#include "tests/support.h"

namespace gn {
namespace {

std::string seed_file(const std::string& name) { return test::shared_dir() + "/seed/" + name; }

class KerasImport : public ::testing::Test {
 protected:
  void SetUp() override {
    GN_REQUIRE_SHARED();
    json_text_ = read_file(seed_file("model.json"));
    h5_ = read_file(seed_file("model_weights.h5"));
    model_ = nlohmann::json::parse(json_text_);
  }
  // The layer entry named `name` in the model JSON (for editing).
  nlohmann::json& layer(nlohmann::json& model, const std::string& name) {
    for (auto& l : model["config"]["layers"])
      if (l["name"] == name) return l;
    throw std::runtime_error("no layer " + name);
  }
  // Removes layer `name`, re-wiring its consumers to its input.
  void remove_layer(nlohmann::json& model, const std::string& name) {
    auto& layers = model["config"]["layers"];
    const std::string input = layer(model, name)["inbound_nodes"][0][0][0];
    for (auto it = layers.begin(); it != layers.end(); ++it)
      if ((*it)["name"] == name) {
        layers.erase(it);
        break;
      }
    for (auto& l : layers)
      for (auto& node : l["inbound_nodes"])
        for (auto& edge : node)
          if (edge[0] == name) edge[0] = input;
  }
  // EXPECT that importing `model` fails with a message containing all of `parts`.
  void expect_rejected(const nlohmann::json& model, const std::vector<std::string>& parts) {
    try {
      import_keras(model.dump(), h5_, "model.json", "model_weights.h5");
      ADD_FAILURE() << "accepted; expected an error mentioning " << parts.front();
    } catch (const Error& e) {
      for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
  void expect_weights_rejected(const std::string& h5, const std::vector<std::string>& parts) {
    try {
      import_keras(json_text_, h5, "model.json", "w.h5");
      ADD_FAILURE() << "accepted; expected an error mentioning " << parts.front();
    } catch (const Error& e) {
      for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }

  std::string json_text_, h5_;
  nlohmann::json model_;
};

// Reads one dataset by its full HDF5 path: deliberately simple, sharing no code with the importer.
std::vector<float> read_h5(const std::string& path, const std::string& dataset) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(file, 0) << path;
  const hid_t ds = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
  EXPECT_GE(ds, 0) << dataset;
  const hid_t space = H5Dget_space(ds);
  std::vector<float> values(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  EXPECT_GE(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Sclose(space);
  H5Dclose(ds);
  H5Fclose(file);
  return values;
}

TEST_F(KerasImport, DerivesTheReferenceConfig) {
  const KerasArchitecture arch = parse_keras_architecture(json_text_, "model.json");
  EXPECT_EQ(arch.config, ModelConfig()) << arch.config.to_json().dump();
  // Graph order, not Keras numbering: batch_normalization_3 belongs to conv2d_3 (block 4) even
  // though max_pooling2d_4 sits between them in the JSON's layer list.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"cnn.conv1", "conv2d"},     {"cnn.bn1", "batch_normalization"},   {"cnn.conv2", "conv2d_1"},
      {"cnn.bn2", "batch_normalization_1"}, {"cnn.conv3", "conv2d_2"},   {"cnn.bn3", "batch_normalization_2"},
      {"cnn.conv4", "conv2d_3"},   {"cnn.bn4", "batch_normalization_3"}, {"cnn.conv5", "conv2d_4"},
      {"cnn.bn5", "batch_normalization_4"}, {"rnn.lstm1", "bidirectional"}, {"rnn.lstm2", "bidirectional_1"},
      {"head.dense", "dense"}};
  EXPECT_EQ(arch.weighted_layers, expected);
}

TEST_F(KerasImport, EveryTensorEqualsTheHdf5Value) {
  const Checkpoint c = import_keras_files(seed_file("model.json"), seed_file("model_weights.h5"));
  // The name table written out by hand from `h5py.File(...).visit(print)`.
  std::map<std::string, std::string> table;
  const char* convs[] = {"conv2d", "conv2d_1", "conv2d_2", "conv2d_3", "conv2d_4"};
  const char* bns[] = {"batch_normalization", "batch_normalization_1", "batch_normalization_2",
                       "batch_normalization_3", "batch_normalization_4"};
  for (int i = 0; i < 5; ++i) {
    const std::string n = std::to_string(i + 1), conv = convs[i], bn = bns[i];
    table["cnn.conv" + n + ".kernel"] = conv + "/" + conv + "/kernel:0";
    table["cnn.conv" + n + ".bias"] = conv + "/" + conv + "/bias:0";
    table["cnn.bn" + n + ".gamma"] = bn + "/" + bn + "/gamma:0";
    table["cnn.bn" + n + ".beta"] = bn + "/" + bn + "/beta:0";
    table["cnn.bn" + n + ".moving_mean"] = bn + "/" + bn + "/moving_mean:0";
    table["cnn.bn" + n + ".moving_var"] = bn + "/" + bn + "/moving_variance:0";
  }
  const std::map<std::string, std::string> cells = {
      {"rnn.lstm1.fwd", "bidirectional/bidirectional/forward_lstm/lstm_cell_1"},
      {"rnn.lstm1.bwd", "bidirectional/bidirectional/backward_lstm/lstm_cell_2"},
      {"rnn.lstm2.fwd", "bidirectional_1/bidirectional_1/forward_lstm_1/lstm_cell_4"},
      {"rnn.lstm2.bwd", "bidirectional_1/bidirectional_1/backward_lstm_1/lstm_cell_5"}};
  for (const auto& [prefix, cell] : cells)
    for (const char* w : {"kernel", "recurrent_kernel", "bias"}) table[prefix + "." + w] = cell + "/" + w + ":0";
  table["head.dense.kernel"] = "dense/dense/kernel:0";
  table["head.dense.bias"] = "dense/dense/bias:0";

  ASSERT_EQ(c.tensors.size(), table.size());
  std::int64_t values = 0;
  for (const auto& [name, dataset] : table) {
    ASSERT_TRUE(c.tensors.count(name)) << name;
    EXPECT_EQ(c.tensors.at(name).to_vector(), read_h5(seed_file("model_weights.h5"), dataset)) << name;
    values += c.tensors.at(name).numel();
  }
  EXPECT_EQ(values, 946746) << "h5py: sum of every dataset's size in model_weights.h5";
  // Every tensor the RCNN declares, with its shape (rcnn_tensor_specs mirrors layers/rcnn.h).
  for (const TensorSpec& s : rcnn_tensor_specs(c.config)) EXPECT_EQ(c.tensors.at(s.name).shape(), s.shape) << s.name;
  EXPECT_EQ(c.labels, (std::vector<std::string>{"disco", "reggae", "pop", "metal", "jazz", "hiphop", "country",
                                                "rock", "classical", "blues"}));
  // What the predictor reads back: the seed front-end and the reference clip scheme.
  const FrontendConfig frontend = FrontendConfig::from_json(nlohmann::json::parse(c.frontend_json));
  EXPECT_EQ(frontend.name, "seed");
  EXPECT_EQ(frontend.seed_fft_size, 32700);
  EXPECT_EQ(frontend.n_fft, 1024);
  EXPECT_EQ(frontend.seed_hop, 256);
  EXPECT_EQ(frontend.frames, 128);
  EXPECT_TRUE(ClipScheme::from_json(nlohmann::json::parse(c.clip_scheme_json)) == ClipScheme::reference());
}

TEST_F(KerasImport, CommandWritesALoadableCheckpoint) {
  const std::string out = test::temp_dir("import") + "/reference.safetensors";
  const test::CommandResult r =
      test::run_genrenet({"import-keras", seed_file("model.json"), seed_file("model_weights.h5"), "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("44 tensors"), std::string::npos) << r.out;
  const Checkpoint loaded = load_checkpoint(out);
  const Checkpoint direct = import_keras_files(seed_file("model.json"), seed_file("model_weights.h5"));
  EXPECT_EQ(loaded.config, direct.config);
  EXPECT_EQ(loaded.labels, direct.labels);
  EXPECT_EQ(loaded.frontend_json, direct.frontend_json);
  for (const auto& [name, t] : direct.tensors) EXPECT_EQ(loaded.tensors.at(name).to_vector(), t.to_vector()) << name;
  // The file names, never the importing machine's folders, are recorded.
  const std::string provenance = loaded.extra.at("imported_from");
  EXPECT_EQ(provenance.find('/'), std::string::npos) << provenance;

  const test::CommandResult missing = test::run_genrenet({"import-keras", seed_file("model.json"), "-o", out});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("expected MODEL.json and WEIGHTS.h5"), std::string::npos) << missing.err;
  const test::CommandResult no_out =
      test::run_genrenet({"import-keras", seed_file("model.json"), seed_file("model_weights.h5")});
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_NE(no_out.err.find("-o OUT.safetensors is required"), std::string::npos) << no_out.err;
}

TEST_F(KerasImport, ChangedLayerSettingsNameTheLayer) {
  nlohmann::json m = model_;
  layer(m, "conv2d_1")["config"]["filters"] = 48;  // consistent architecture, weights of 32 filters
  expect_rejected(m, {"'conv2d_1'", "(3, 3, 16, 32)", "(3, 3, 16, 48)"});

  m = model_;
  layer(m, "conv2d_3")["config"]["strides"] = {2, 2};
  expect_rejected(m, {"'max_pooling2d_3'", "to nothing"});

  m = model_;
  layer(m, "conv2d_4")["config"]["strides"] = {2, 2};  // 1x4 -> 1x2: flattens to 128, not 256
  expect_rejected(m, {"'add'", "flattens to 128", "2 x 128"});

  m = model_;
  layer(m, "conv2d_2")["config"]["padding"] = "valid";
  expect_rejected(m, {"'conv2d_2'", "CNN block 3", "padding", "\"same\""});

  m = model_;
  layer(m, "conv2d")["config"]["activation"] = "tanh";
  expect_rejected(m, {"'conv2d'", "activation"});

  m = model_;
  layer(m, "conv2d_1")["config"]["kernel_size"] = {3, 2};
  expect_rejected(m, {"'conv2d_1'", "square"});

  m = model_;
  layer(m, "batch_normalization_2")["config"]["axis"] = {1};
  expect_rejected(m, {"'batch_normalization_2'", "axis"});

  m = model_;
  layer(m, "batch_normalization_4")["config"]["epsilon"] = 1e-5;
  expect_rejected(m, {"'batch_normalization_4'", "epsilon"});

  m = model_;
  layer(m, "max_pooling2d_1")["config"]["pool_size"] = {3, 3};
  expect_rejected(m, {"'max_pooling2d_1'", "pool_size"});

  m = model_;
  layer(m, "dropout_1")["config"]["rate"] = 1.5;
  expect_rejected(m, {"'dropout_1'", "outside [0, 1)"});

  m = model_;
  layer(m, "bidirectional")["config"]["merge_mode"] = "sum";
  expect_rejected(m, {"'bidirectional'", "merge_mode"});

  m = model_;
  layer(m, "bidirectional")["config"]["layer"]["config"]["recurrent_activation"] = "hard_sigmoid";
  expect_rejected(m, {"'bidirectional'", "recurrent_activation", "hard_sigmoid"});

  m = model_;
  layer(m, "bidirectional_1")["config"]["layer"]["config"]["return_sequences"] = true;
  expect_rejected(m, {"'bidirectional_1'", "return_sequences"});

  m = model_;
  layer(m, "bidirectional_1")["config"]["layer"]["config"]["units"] = 64;
  expect_rejected(m, {"'bidirectional_1'", "units"});

  m = model_;
  layer(m, "reshape")["config"]["target_shape"] = {256, 64};
  expect_rejected(m, {"'reshape'", "target_shape"});

  m = model_;
  layer(m, "dense")["config"]["activation"] = "linear";
  expect_rejected(m, {"'dense'", "softmax"});

  m = model_;
  layer(m, "dense")["config"]["units"] = 12;
  expect_rejected(m, {"12 classes"});

  m = model_;
  layer(m, "input_1")["config"]["batch_input_shape"] = {nullptr, 128, 513, 2};
  expect_rejected(m, {"'input_1'", "one channel"});
}

TEST_F(KerasImport, RemovedOrRenamedLayersNameTheLayer) {
  nlohmann::json m = model_;
  remove_layer(m, "batch_normalization_2");
  expect_rejected(m, {"'max_pooling2d_2'", "expected a BatchNormalization"});

  m = model_;
  remove_layer(m, "max_pooling2d_4");  // one RNN pooling fewer: (128, 256) reaches the Reshape
  expect_rejected(m, {"'reshape'", "[128,256]"});

  m = model_;
  remove_layer(m, "add");  // two outputs feed the Dense
  expect_rejected(m, {"'dense'"});

  m = model_;
  layer(m, "conv2d_2")["class_name"] = "SeparableConv2D";
  expect_rejected(m, {"'conv2d_2'", "SeparableConv2D", "expected the next Conv2D"});

  m = model_;
  layer(m, "bidirectional")["config"]["layer"]["class_name"] = "GRU";
  expect_rejected(m, {"'bidirectional'", "not an LSTM"});

  m = model_;
  m["class_name"] = "Sequential";
  expect_rejected(m, {"'Sequential'"});

  // An extra layer hanging off the graph is not silently ignored.
  m = model_;
  nlohmann::json extra = layer(m, "dropout_3");
  extra["name"] = extra["config"]["name"] = "dropout_extra";
  m["config"]["layers"].push_back(extra);
  expect_rejected(m, {"'flatten_1'", "feeds 2 layers"});
}

TEST_F(KerasImport, MalformedJsonIsRejected) {
  expect_rejected(nlohmann::json::array(), {"not a Keras model"});
  EXPECT_THROW(parse_keras_architecture(json_text_.substr(0, json_text_.size() / 2), "model.json"), Error);
  // A duplicate key would let a second "filters" hide behind the first.
  std::string dup = json_text_;
  const std::size_t at = dup.find("\"filters\": 16");
  ASSERT_NE(at, std::string::npos);
  dup.insert(at, "\"filters\": 99, ");
  try {
    parse_keras_architecture(dup, "model.json");
    ADD_FAILURE() << "duplicate key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"filters\" twice"), std::string::npos) << e.what();
  }
}

TEST_F(KerasImport, TruncatedOrGarbageWeightsFailCleanly) {
  expect_weights_rejected("", {"w.h5", "empty"});
  expect_weights_rejected(std::string(5000, 'x'), {"w.h5", "not an HDF5 file"});
  for (const std::size_t n : {std::size_t{8}, std::size_t{100}, std::size_t{2048}, h5_.size() / 2, h5_.size() - 1})
    expect_weights_rejected(h5_.substr(0, n), {"w.h5"});
  // Bytes flipped in the middle of the metadata: an error, not a crash.
  std::string flipped = h5_;
  for (std::size_t i = 600; i < 700; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  try {
    import_keras(json_text_, flipped, "model.json", "w.h5");
  } catch (const Error&) {
  }
}

// Edits a copy of the real weights with the HDF5 C API: `edit(file)` then closes it.
template <class Edit>
std::string edited_weights(const std::string& original, const Edit& edit) {
  const std::string path = test::temp_dir("h5edit") + "/w.h5";
  std::filesystem::copy_file(original, path);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  EXPECT_GE(file, 0);
  edit(file);
  H5Fclose(file);
  return read_file(path);
}

void replace_dataset(hid_t file, const char* name, hid_t type, std::vector<hsize_t> dims) {
  ASSERT_GE(H5Ldelete(file, name, H5P_DEFAULT), 0);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t ds = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  H5Dclose(ds);
  H5Sclose(space);
}

TEST_F(KerasImport, MissingOrMistypedDatasetsAreNamed) {
  const std::string original = seed_file("model_weights.h5");
  expect_weights_rejected(edited_weights(original, [](hid_t f) { H5Ldelete(f, "dense/dense/bias:0", H5P_DEFAULT); }),
                          {"'dense/bias:0'", "'dense'", "missing"});
  expect_weights_rejected(
      edited_weights(original, [](hid_t f) { replace_dataset(f, "conv2d_2/conv2d_2/bias:0", H5T_NATIVE_INT, {64}); }),
      {"'conv2d_2/bias:0'", "not floating point"});
  expect_weights_rejected(edited_weights(original,
                                         [](hid_t f) {
                                           replace_dataset(f, "bidirectional/bidirectional/backward_lstm/lstm_cell_2/bias:0",
                                                           H5T_NATIVE_FLOAT, {512, 1});
                                         }),
                          {"backward_lstm/lstm_cell_2/bias:0", "(512, 1)", "(512)"});
  expect_weights_rejected(edited_weights(original, [](hid_t f) { H5Adelete(f, "layer_names"); }),
                          {"layer_names", "not a Keras weights file"});
  // Variable-length name lists (newer h5py) are refused, not read: libhdf5 1.10's global-heap
  // reader trusts stored lengths (see model/keras_weights.cpp).
  expect_weights_rejected(edited_weights(original,
                                         [](hid_t f) {
                                           H5Adelete(f, "layer_names");
                                           const hid_t type = H5Tcopy(H5T_C_S1);
                                           H5Tset_size(type, H5T_VARIABLE);
                                           const hsize_t n = 1;
                                           const hid_t space = H5Screate_simple(1, &n, nullptr);
                                           const hid_t attr = H5Acreate2(f, "layer_names", type, space, H5P_DEFAULT,
                                                                         H5P_DEFAULT);
                                           const char* names[] = {"conv2d"};
                                           EXPECT_GE(H5Awrite(attr, type, names), 0);
                                           H5Aclose(attr);
                                           H5Sclose(space);
                                           H5Tclose(type);
                                         }),
                          {"layer_names", "variable-length strings"});
}

}  // namespace
}  // namespace gn
