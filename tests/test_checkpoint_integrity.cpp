// Checkpoints that lie, seen through the real binary: `genrenet predict` on a tiny checkpoint
// whose bytes were damaged after writing (a flipped bit in any tensor, bytes appended), whose
// tensors overlap, or whose metadata numbers do not fit their fields. Each must be one clear
// error naming the file, never a prediction; a file without a checksum loads with a warning.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/audio.h"
#include "data/clips.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/frontend.h"
#include "model/checkpoint.h"
#include "model/keras_import.h"
#include "tests/support.h"
#include "tests/tiny_checkpoint.h"

namespace gn::test {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

class CheckpointIntegrity : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("ckpt-integrity");
    model_ = dir_ + "/tiny.safetensors";
    write_tiny_checkpoint(model_);
    // 3 s of noise at 22050 Hz: five 1 s clips for the tiny model.
    song_ = dir_ + "/noise.wav";
    spit(song_, encode_wav16(random_values(3 * kSampleRate, 5, -0.5f, 0.5f), kSampleRate));
  }
  CommandResult predict(const std::string& model) const {
    return run_genrenet({"predict", "--device", "cpu", "--model", model, song_}, 120);
  }
  // `genrenet predict` with `model` fails, its message names the file and holds every part.
  void expect_refused(const std::string& model, const std::vector<std::string>& parts) const {
    const CommandResult r = predict(model);
    EXPECT_NE(r.exit_code, 0) << "a prediction from a bad checkpoint: " << r.out;
    EXPECT_EQ(r.out.find("blues"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find(model), std::string::npos) << r.err;
    for (const std::string& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << p << " not in: " << r.err;
  }
  // The checkpoint with one metadata text replaced (the tensor data and its checksum unchanged).
  std::string with_metadata(const std::string& key, const std::string& value, const std::string& name) const {
    const SafeTensorsFile file = read_safetensors(model_);
    std::map<std::string, std::string> metadata = file.metadata;
    metadata[key] = value;
    const std::string path = dir_ + "/" + name;
    spit(path, serialize_safetensors(file.tensors, metadata));
    return path;
  }
  std::string dir_, model_, song_;
};

TEST_F(CheckpointIntegrity, IntactCheckpointPredictsWithoutWarning) {
  const CommandResult r = predict(model_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("noise.wav"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
}

// One flipped bit in the data of any tensor is an error: checked in-process for every tensor
// and every bit position class (sign, exponent, mantissa), through the binary for three.
TEST_F(CheckpointIntegrity, FlippedBitInAnyTensorIsAnError) {
  const std::string bytes = slurp(model_);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_len));
  std::vector<std::pair<std::string, std::uint64_t>> starts;  // tensor, first data byte in the file
  for (const auto& [name, info] : header.items())
    if (name != "__metadata__") starts.emplace_back(name, 8 + header_len + info["data_offsets"][0].get<std::uint64_t>());
  ASSERT_GT(starts.size(), 10u);
  for (const auto& [name, start] : starts)
    for (const int bit : {31, 30, 23, 0}) {  // sign, exponent top and bottom, mantissa lsb
      std::string bad = bytes;
      bad[start + bit / 8] = static_cast<char>(bad[start + bit / 8] ^ (1 << (bit % 8)));
      EXPECT_THROW(parse_checkpoint(bad, "x"), Error) << name << " bit " << bit;
    }
  for (const std::size_t pick : {std::size_t{0}, starts.size() / 2, starts.size() - 1}) {
    std::string bad = bytes;
    bad[starts[pick].second] ^= 0x01;  // mantissa lsb: a finite value, only the checksum can tell
    const std::string path = dir_ + "/flipped" + std::to_string(pick) + ".safetensors";
    spit(path, bad);
    expect_refused(path, {"corrupt", "checksum"});
  }
}

TEST_F(CheckpointIntegrity, MissingChecksumLoadsWithWarning) {
  const SafeTensorsFile file = read_safetensors(model_);
  std::map<std::string, std::string> metadata = file.metadata;
  ASSERT_EQ(metadata.erase(kChecksumKey), 1u);
  const std::string path = dir_ + "/old.safetensors";
  spit(path, serialize_safetensors(file.tensors, metadata));
  const CommandResult r = predict(path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("noise.wav"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("warning: " + path + " records no checksum"), std::string::npos) << r.err;
}

TEST_F(CheckpointIntegrity, TrailingBytesAreRejected) {
  const std::string path = dir_ + "/appended.safetensors";
  spit(path, slurp(model_) + std::string(16, '\0'));
  expect_refused(path, {"16 trailing bytes"});
}

TEST_F(CheckpointIntegrity, OverlappingAndNonContiguousOffsetsAreRejected) {
  auto file = [](const std::string& header, std::size_t data_bytes) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return out + header + std::string(data_bytes, '\0');
  };
  const std::string overlap = dir_ + "/overlap.safetensors", gap = dir_ + "/gap.safetensors";
  spit(overlap, file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12));
  spit(gap, file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})", 20));
  expect_refused(overlap, {"'b'", "overlaps"});
  expect_refused(gap, {"4 unclaimed bytes", "'b'"});
}

// Numbers that do not fit their field: read with a range check, never narrowed or overflowed.
TEST_F(CheckpointIntegrity, MetadataNumbersAreRangeChecked) {
  const SafeTensorsFile file = read_safetensors(model_);
  nlohmann::json frontend = nlohmann::json::parse(file.metadata.at("frontend"));
  frontend["frames"] = (std::uint64_t{1} << 32) + 128;  // was read as 128
  expect_refused(with_metadata("frontend", frontend.dump(), "frames.safetensors"),
                 {"'frames' is 4294967424, outside"});
  frontend = nlohmann::json::parse(file.metadata.at("frontend"));
  frontend["fft_size"] = std::uint64_t{1} << 32;  // was read as 0
  expect_refused(with_metadata("frontend", frontend.dump(), "fft.safetensors"), {"'fft_size' is 4294967296"});
  frontend = nlohmann::json::parse(file.metadata.at("frontend"));
  frontend["n_fft"] = "70";
  expect_refused(with_metadata("frontend", frontend.dump(), "nfft.safetensors"), {"'n_fft' must be an integer"});

  nlohmann::json config = nlohmann::json::parse(file.metadata.at("model_config"));
  config["classes"] = 3567587328u;  // was read as -727379968
  expect_refused(with_metadata("model_config", config.dump(), "classes.safetensors"),
                 {"'classes' is 3567587328, outside"});
  config = nlohmann::json::parse(file.metadata.at("model_config"));
  config["lstm_units"] = 2147483647;  // 2 x units overflowed int
  expect_refused(with_metadata("model_config", config.dump(), "units.safetensors"), {"'lstm_units' is 2147483647"});
  config = nlohmann::json::parse(file.metadata.at("model_config"));
  config["time_frames"] = -16;
  expect_refused(with_metadata("model_config", config.dump(), "frames_neg.safetensors"), {"'time_frames' is -16"});
  config = nlohmann::json::parse(file.metadata.at("model_config"));
  config["conv"][0]["stride"] = 1e300;
  expect_refused(with_metadata("model_config", config.dump(), "stride.safetensors"), {"'stride' must be an integer"});
}

}  // namespace
}  // namespace gn::test
