// Checkpoints: round trip, and every way a file can lie (truncation, foreign or future files,
// corrupted metadata, duplicate header keys, wrong shapes, NaN/Inf) is one clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "model/checkpoint.h"
#include "model/keras_import.h"
#include "tests/support.h"

namespace gn {
namespace {

// A parameter store laid out like the RCNN of `config` (layers/rcnn.h names), random values.
ParameterStore make_store(const ModelConfig& config, std::uint32_t seed) {
  ParameterStore store;
  for (const TensorSpec& s : rcnn_tensor_specs(config))
    store.declare(s.name, s.shape, s.buffer ? ParameterStore::Kind::Buffer : ParameterStore::Kind::Parameter);
  store.allocate(Device::cpu());
  // Per tensor, so the alignment padding between tensors stays zero as the store promises.
  for (const ParameterStore::Entry& e : store.entries()) {
    const bool buffer = e.kind == ParameterStore::Kind::Buffer;
    Tensor dst = buffer ? store.buffer(e.name) : store.param(e.name);
    dst.copy_from(test::random_tensor(e.shape, seed++, Device::cpu(), buffer ? 0.1f : -1.0f, 2.0f));
  }
  return store;
}

std::vector<std::string> labels_for(int classes) {
  std::vector<std::string> labels;
  for (int i = 0; i < classes; ++i) labels.push_back("genre" + std::to_string(i));
  return labels;
}

Checkpoint make_checkpoint(const ModelConfig& config, const ParameterStore& store, bool with_optimizer) {
  Checkpoint c = checkpoint_from_store(store, config, labels_for(config.classes));
  c.frontend_json = R"({"name": "logstft", "mean": [0.5, 1e-3]})";
  c.clip_scheme_json = R"({"kind":"fixed","seconds":3.0,"overlap":0.5})";
  c.training_json = R"({"seed":7,"step":120,"epoch":3})";
  c.extra["note"] = "hello \"world\"";
  if (with_optimizer) {
    c.tensors[kOptimizerM] = test::random_tensor(Shape{store.num_params()}, 11);
    c.tensors[kOptimizerV] = test::random_tensor(Shape{store.num_params()}, 12, Device::cpu(), 0.0f, 1.0f);
  }
  return c;
}

// Raw safetensors bytes from a header text and a data block.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// EXPECT that parsing `bytes` throws gn::Error whose message contains every one of `parts`.
void expect_rejected(const std::string& bytes, const std::vector<std::string>& parts) {
  try {
    parse_checkpoint(bytes, "ckpt");
    ADD_FAILURE() << "accepted; expected an error mentioning " << parts.front();
  } catch (const Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// The checkpoint bytes with one metadata entry replaced (or removed when value is null).
std::string with_metadata(const Checkpoint& c, const std::string& key, const nlohmann::json& value) {
  const SafeTensorsFile file = parse_safetensors(serialize_checkpoint(c), "x");
  std::map<std::string, std::string> metadata = file.metadata;
  if (value.is_null()) metadata.erase(key);
  else metadata[key] = value.get<std::string>();
  return serialize_safetensors(file.tensors, metadata);
}

TEST(Checkpoint, RoundTripKeepsEverything) {
  const ModelConfig config = ModelConfig::tiny();
  const ParameterStore store = make_store(config, 1);
  const Checkpoint saved = make_checkpoint(config, store, true);
  const std::string path = test::temp_dir("ckpt") + "/model.safetensors";
  save_checkpoint(path, saved);
  const Checkpoint loaded = load_checkpoint(path);

  EXPECT_EQ(loaded.config, config);
  EXPECT_EQ(loaded.labels, saved.labels);
  EXPECT_EQ(loaded.frontend_json, saved.frontend_json);  // verbatim, spacing included
  EXPECT_EQ(loaded.clip_scheme_json, saved.clip_scheme_json);
  EXPECT_EQ(loaded.training_json, saved.training_json);
  EXPECT_EQ(loaded.extra, saved.extra);
  ASSERT_TRUE(loaded.has_optimizer_state());
  ASSERT_EQ(loaded.tensors.size(), saved.tensors.size());
  for (const auto& [name, t] : saved.tensors) {
    ASSERT_TRUE(loaded.tensors.count(name)) << name;
    EXPECT_EQ(loaded.tensors.at(name).shape(), t.shape()) << name;
    EXPECT_EQ(loaded.tensors.at(name).to_vector(), t.to_vector()) << name;  // bit-exact
  }

  // Into a fresh store: the flat buffers come back bit for bit.
  ParameterStore fresh = make_store(config, 99);
  load_into_store(loaded, fresh);
  EXPECT_EQ(fresh.params().to_vector(), store.params().to_vector());
  EXPECT_EQ(fresh.buffers().to_vector(), store.buffers().to_vector());
}

TEST(Checkpoint, PythonSafetensorsLayout) {
  // The metadata a Python reader sees: plain strings, the format markers first-class.
  const ModelConfig config = ModelConfig::tiny();
  const Checkpoint c = make_checkpoint(config, make_store(config, 1), false);
  const SafeTensorsFile file = parse_safetensors(serialize_checkpoint(c), "x");
  EXPECT_EQ(file.metadata.at("format"), "genrenet-checkpoint");
  EXPECT_EQ(file.metadata.at("format_version"), "1");
  EXPECT_EQ(nlohmann::json::parse(file.metadata.at("labels")), nlohmann::json(c.labels));
  EXPECT_EQ(ModelConfig::from_json(nlohmann::json::parse(file.metadata.at("model_config"))), config);
  EXPECT_TRUE(file.has("cnn.bn1.moving_var"));
  EXPECT_FALSE(file.has(kOptimizerM));
}

// The smallest RCNN (input 2 x 4, one conv, one BiLSTM of 8): every byte of a checkpoint can be
// cut in well under a second.
ModelConfig micro_config() {
  ModelConfig c;
  c.time_frames = 2;
  c.freq_bins = 4;
  c.conv = {{2, 1, 1, false, 0.0f}};  // flattens to 2 x 4 x 2 = 16 = 2 x 8
  c.lstm_units = 8;
  c.lstm_layers = 1;
  c.classes = 2;
  return c;
}

TEST(Checkpoint, EveryTruncationIsRejected) {
  const ModelConfig config = micro_config();
  const std::string bytes = serialize_checkpoint(make_checkpoint(config, make_store(config, 2), true));
  ASSERT_NO_THROW(parse_checkpoint(bytes, "full"));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    try {
      parse_checkpoint(bytes.substr(0, n), "cut");
      ADD_FAILURE() << "a checkpoint truncated to " << n << " of " << bytes.size() << " bytes was accepted";
      break;
    } catch (const Error&) {
    }
  }
}

TEST(Checkpoint, TruncationsOfAFullSizeCheckpointAreRejected) {
  // The real model's size (~1.1 M values): every header cut, and cuts spread over the data.
  const ModelConfig config;
  const std::string bytes = serialize_checkpoint(make_checkpoint(config, make_store(config, 3), false));
  std::uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<unsigned char>(bytes[i]);
  std::vector<std::size_t> cuts;
  for (std::size_t n = 0; n < 8 + header + 16; ++n) cuts.push_back(n);
  for (std::size_t k = 1; k <= 64; ++k) cuts.push_back(8 + header + (bytes.size() - 8 - header) * k / 65);
  cuts.push_back(bytes.size() - 1);
  for (const std::size_t n : cuts) {
    try {
      parse_checkpoint(bytes.substr(0, n), "cut");
      ADD_FAILURE() << "truncated to " << n << " of " << bytes.size() << " bytes was accepted";
      break;
    } catch (const Error&) {
    }
  }
}

TEST(Checkpoint, ForeignAndFutureFilesAreRejected) {
  const ModelConfig config = ModelConfig::tiny();
  const Checkpoint c = make_checkpoint(config, make_store(config, 4), false);
  expect_rejected("", {"not a safetensors file"});
  expect_rejected("RIFF....WAVEfmt this is audio, not a checkpoint", {"points past the end"});
  expect_rejected(raw_file("{not json", ""), {"not valid JSON"});
  // A valid safetensors file from elsewhere (e.g. a Hugging Face model).
  expect_rejected(serialize_safetensors({{"w", Tensor::zeros(Shape{2})}}, {}), {"not a GenreNet checkpoint", "format"});
  expect_rejected(with_metadata(c, "format", "pt"), {"'pt'", "not a GenreNet checkpoint"});
  expect_rejected(with_metadata(c, "format_version", "2"), {"format_version 2", "newer GenreNet"});
  expect_rejected(with_metadata(c, "format_version", "1.0"), {"not a number"});
  expect_rejected(with_metadata(c, "format_version", nullptr), {"no format_version"});
}

TEST(Checkpoint, CorruptedMetadataIsRejected) {
  const ModelConfig config = ModelConfig::tiny();
  const Checkpoint c = make_checkpoint(config, make_store(config, 5), false);
  expect_rejected(with_metadata(c, "model_config", nullptr), {"no model_config"});
  expect_rejected(with_metadata(c, "model_config", "{\"time_frames\": 16"), {"model_config", "not valid JSON"});
  nlohmann::json bad_config = config.to_json();
  bad_config["lstm_units"] = 9;  // CNN flattens to 16, BiLSTM gives 18: inconsistent
  expect_rejected(with_metadata(c, "model_config", bad_config.dump()), {"ckpt", "the Add needs them equal"});
  bad_config = config.to_json();
  bad_config.erase("classes");
  expect_rejected(with_metadata(c, "model_config", bad_config.dump()), {"ckpt", "model config is malformed"});
  expect_rejected(with_metadata(c, "labels", nullptr), {"no labels"});
  expect_rejected(with_metadata(c, "labels", R"(["a","b","c"])"), {"3 labels for a model with 4 classes"});
  expect_rejected(with_metadata(c, "labels", R"(["a","b","c","a"])"), {"label 'a' appears twice"});
  expect_rejected(with_metadata(c, "labels", R"({"a":1})"), {"'labels' is not a JSON array"});
  expect_rejected(with_metadata(c, "labels", R"(["a","b","c",4])"), {"non-string"});
  expect_rejected(with_metadata(c, "frontend", "{\"name\": seed}"), {"'frontend'", "not valid JSON"});
  expect_rejected(with_metadata(c, "training", R"({"step":1,"step":2})"), {"'training'", "\"step\" twice"});
}

TEST(Checkpoint, DuplicateHeaderKeysAreRejected) {
  // nlohmann::json would keep the second entry; a Python reader might keep the first. Neither.
  const std::string data(8, '\0');
  const std::string entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  expect_rejected(raw_file("{\"w\":" + entry + ",\"w\":" + entry + "}", data), {"\"w\" twice"});
  expect_rejected(raw_file(R"({"__metadata__":{"format":"genrenet-checkpoint","format":"x"},"w":)" + entry + "}", data),
                  {"\"format\" twice"});
}

TEST(Checkpoint, ImpossibleDimensionsAreRejected) {
  // 2^32 x 4 x 2^32 = 2^66 elements: a product check in 64 bits wraps to 0 and would accept
  // zero data bytes for it; the reader must reject the shape before allocating anything.
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4,4294967296],"data_offsets":[0,0]}})", ""),
                  {"'w'", "impossible dimensions"});
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", ""), {"invalid dimension"});
  expect_rejected(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}})", std::string(8, '\0')),
                  {"outside the file"});
  expect_rejected(raw_file(R"({"w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
                  {"dtype I32"});
  expect_rejected(raw_file(std::string(100, '[') + std::string(100, ']'), ""), {"nests deeper"});
}

TEST(Checkpoint, NonFiniteValuesAreRejected) {
  const ModelConfig config = ModelConfig::tiny();
  const ParameterStore store = make_store(config, 6);
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    Checkpoint c = make_checkpoint(config, store, false);
    std::map<std::string, Tensor> tensors = c.tensors;
    Tensor t = tensors.at("rnn.lstm1.bwd.bias").clone();
    t.at(5) = bad;
    tensors["rnn.lstm1.bwd.bias"] = t;
    // Written by hand (the writer refuses), then read.
    const SafeTensorsFile good = parse_safetensors(serialize_checkpoint(c), "x");
    expect_rejected(serialize_safetensors(tensors, good.metadata), {"rnn.lstm1.bwd.bias", "non-finite", "index 5"});
    // The writer refuses too, and leaves an existing checkpoint alone.
    const std::string path = test::temp_dir("ckpt-nan") + "/last.safetensors";
    save_checkpoint(path, c);
    c.tensors = tensors;
    try {
      save_checkpoint(path, c);
      ADD_FAILURE() << "saved a non-finite checkpoint";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not saving"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(load_checkpoint(path));
  }
}

TEST(Checkpoint, LoadIntoStoreNamesEveryMismatch) {
  const ModelConfig config = ModelConfig::tiny();
  const ParameterStore source = make_store(config, 7);
  const Checkpoint good = make_checkpoint(config, source, true);
  ParameterStore store = make_store(config, 8);
  const std::vector<float> before = store.params().to_vector();
  auto expect_mismatch = [&](const Checkpoint& c, const std::vector<std::string>& parts) {
    try {
      load_into_store(c, store);
      ADD_FAILURE() << "loaded; expected an error mentioning " << parts.front();
    } catch (const Error& e) {
      for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
    EXPECT_EQ(store.params().to_vector(), before) << "a failed load changed the store";
  };

  Checkpoint c = good;
  c.tensors["cnn.conv2.kernel"] = Tensor::zeros(Shape{2, 3, 4, 6});  // kernel 2x2 in the model
  expect_mismatch(c, {"'cnn.conv2.kernel'", "(2, 3, 4, 6)", "(2, 2, 4, 6)"});
  c = good;
  c.tensors.erase("cnn.bn3.moving_var");
  expect_mismatch(c, {"'cnn.bn3.moving_var'", "missing"});
  c = good;
  c.tensors["cnn.conv9.kernel"] = Tensor::zeros(Shape{1});
  expect_mismatch(c, {"'cnn.conv9.kernel'", "not part of this model"});
  c = good;
  c.tensors[kOptimizerV] = Tensor::zeros(Shape{3});
  expect_mismatch(c, {"optimizer.v", "(3)", "flat parameter buffer"});
  c = good;
  c.tensors.erase(kOptimizerV);
  expect_mismatch(c, {"optimizer.m and optimizer.v"});

  load_into_store(good, store);
  EXPECT_EQ(store.params().to_vector(), source.params().to_vector());
}

TEST(Checkpoint, SaveRejectsInconsistentCheckpoints) {
  const ModelConfig config = ModelConfig::tiny();
  const Checkpoint good = make_checkpoint(config, make_store(config, 9), false);
  const std::string path = test::temp_dir("ckpt-bad") + "/x.safetensors";
  Checkpoint c = good;
  c.labels.pop_back();
  EXPECT_THROW(save_checkpoint(path, c), Error);
  c = good;
  c.extra["labels"] = "[]";
  EXPECT_THROW(save_checkpoint(path, c), Error);
  c = good;
  c.clip_scheme_json = "reference";
  EXPECT_THROW(save_checkpoint(path, c), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace gn
