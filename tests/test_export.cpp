// `genrenet export`: the ONNX graph's structure from a small model, and every bad input of the
// command. Numerical parity with onnxruntime is tests/onnx/test_onnx_parity.py.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "engine/error.h"
#include "export/onnx_export.h"
#include "layers/conv2d.h"
#include "layers/rcnn.h"
#include "model/checkpoint.h"
#include "support.h"

namespace gn {
namespace {

Checkpoint tiny_checkpoint() {
  const ModelConfig config = ModelConfig::tiny();
  RCNN model(config);
  model.init(7);
  std::vector<std::string> labels;
  for (int c = 0; c < config.classes; ++c) labels.push_back("genre" + std::to_string(c));
  Checkpoint ck = checkpoint_from_store(model.store(), config, labels);
  ck.frontend_json = R"({"name":"logstft"})";
  ck.clip_scheme_json = R"({"kind":"fixed","seconds":3,"overlap":0.5})";
  return ck;
}

TEST(Export, GraphHasTheModelsOperatorsPaddingAndMetadata) {
  const Checkpoint ck = tiny_checkpoint();
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(export_onnx(ck, "tiny")));
  ASSERT_EQ(model.opset_import_size(), 1);
  EXPECT_EQ(model.opset_import(0).version(), kOnnxOpset);
  std::map<std::string, int> ops;
  for (const auto& n : model.graph().node()) {
    ++ops[n.op_type()];
    if (n.op_type() != "LSTM") continue;
    for (const auto& a : n.attribute()) {
      if (a.name() == "direction") {
        EXPECT_EQ(a.s(), "bidirectional");
      }
    }
  }
  const int blocks = static_cast<int>(ck.config.conv.size());
  EXPECT_EQ(ops["Conv"], blocks);
  EXPECT_EQ(ops["BatchNormalization"], blocks);
  EXPECT_EQ(ops["LSTM"], ck.config.lstm_layers);
  EXPECT_EQ(ops["Gemm"], 1);
  EXPECT_EQ(ops["Softmax"], 1);
  EXPECT_EQ(ops["Dropout"], 0);  // the identity at inference

  // The first Conv carries TF's 'same' padding of the input, explicitly.
  const ConvBlock& b = ck.config.conv[0];
  const Pad1D ph = conv_padding("c", ck.config.time_frames, b.kernel, b.stride, Padding::Same);
  const Pad1D pw = conv_padding("c", ck.config.freq_bins, b.kernel, b.stride, Padding::Same);
  for (const auto& n : model.graph().node())
    if (n.op_type() == "Conv") {
      for (const auto& a : n.attribute()) {
        if (a.name() == "pads") {
          EXPECT_EQ(std::vector<std::int64_t>(a.ints().begin(), a.ints().end()),
                    (std::vector<std::int64_t>{ph.before, pw.before, ph.after, pw.after}));
        }
      }
      break;
    }
  std::map<std::string, std::string> meta;
  for (const auto& e : model.metadata_props()) meta[e.key()] = e.value();
  EXPECT_EQ(meta["genrenet.labels"], nlohmann::json(ck.labels).dump());
  EXPECT_EQ(meta["genrenet.frontend"], ck.frontend_json);
  EXPECT_EQ(meta["genrenet.clip_scheme"], ck.clip_scheme_json);
}

TEST(Export, RefusesACheckpointWithoutFrontEndOrWithAMissingTensor) {
  Checkpoint ck = tiny_checkpoint();
  ck.frontend_json.clear();
  EXPECT_THROW(export_onnx(ck, "tiny"), Error);
  ck = tiny_checkpoint();
  ck.tensors.erase("rnn.lstm1.fwd.kernel");
  try {
    export_onnx(ck, "tiny");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rnn.lstm1.fwd.kernel is missing"), std::string::npos) << e.what();
  }
}

TEST(ExportCli, BadInputsGiveOneClearErrorAndWriteNothing) {
  const std::string dir = test::temp_dir("export_cli");
  const std::string ckpt = dir + "/tiny.safetensors", out = dir + "/out.onnx";
  save_checkpoint(ckpt, tiny_checkpoint());
  const std::string garbage = dir + "/garbage.safetensors";
  std::ofstream(garbage) << "not a checkpoint";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"export", "--model", ckpt}, "-o OUT.onnx is required"},
      {{"export", "--model", ckpt, "--format", "tflite", "-o", out}, "unknown --format 'tflite'"},
      {{"export", "--model", dir + "/missing.safetensors", "-o", out}, "missing.safetensors"},
      {{"export", "--model", garbage, "-o", out}, "garbage.safetensors"},
      {{"export", "--model", ckpt, "-o", dir + "/no/such/folder/out.onnx"}, "no/such/folder"},
      {{"export", ckpt, "-o", out}, "unexpected argument"},
  };
  for (const Case& c : cases) {
    const auto r = test::run_genrenet(c.args, 120);
    EXPECT_NE(r.exit_code, 0) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "expected '" << c.message << "' in: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.message;
  }
  const auto ok = test::run_genrenet({"export", "--model", ckpt, "-o", out}, 120);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace gn
