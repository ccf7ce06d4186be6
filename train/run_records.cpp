#include "train/run_records.h"

#include <charconv>
#include <ctime>
#include <filesystem>
#include <map>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace gn {
namespace fs = std::filesystem;
namespace {

void fnv1a(std::uint64_t& h, const std::string& s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= 0xff;  // a separator no name holds, so "ab"+"c" differs from "a"+"bc"
  h *= 0x100000001b3ull;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string shortest(double v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

}  // namespace

std::string data_set_fingerprint(const DatasetScan& scan) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const std::string& l : scan.labels) fnv1a(h, l);
  for (const SongEntry& s : scan.songs) {
    std::error_code ec;
    const auto size = fs::file_size(s.path, ec);
    fnv1a(h, s.relative);
    fnv1a(h, std::to_string(s.label));
    fnv1a(h, ec ? "?" : std::to_string(size));
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void write_split_lists(const std::string& run_dir, const Dataset& data, const Split& split) {
  if (split.train_songs.empty()) return;  // the clip split
  const std::pair<const char*, const std::vector<std::int64_t>*> sides[] = {
      {"split_train.txt", &split.train_songs}, {"split_val.txt", &split.val_songs}, {"split_test.txt", &split.test_songs}};
  for (const auto& [name, songs] : sides) {
    std::string text;
    for (std::int64_t s : *songs) text += data.songs()[static_cast<std::size_t>(s)].relative + "\n";
    write_file_atomically((fs::path(run_dir) / name).string(), text);
  }
}

std::string test_predictions_csv(const Dataset& data, const std::vector<float>& probs,
                                 const std::vector<std::int64_t>& clip_songs) {
  const std::vector<std::string>& labels = data.labels();
  const std::size_t k = labels.size();
  GN_REQUIRE(probs.size() == clip_songs.size() * k, "test_predictions_csv: ", probs.size(), " probabilities for ",
             clip_songs.size(), " clips of ", k, " classes");
  // Song -> (sum of its clips' probabilities, clips), in song order.
  std::map<std::int64_t, std::pair<std::vector<double>, int>> songs;
  for (std::size_t c = 0; c < clip_songs.size(); ++c) {
    auto& [sum, n] = songs[clip_songs[c]];
    sum.resize(k, 0.0);
    for (std::size_t j = 0; j < k; ++j) sum[j] += probs[c * k + j];
    ++n;
  }
  std::string csv = "file,genre,predicted,probability,correct,clips";
  for (const std::string& l : labels) csv += "," + csv_field(l);
  csv += "\n";
  for (const auto& [song, entry] : songs) {
    const auto& [sum, n] = entry;
    std::size_t best = 0;
    for (std::size_t j = 1; j < k; ++j)
      if (sum[j] > sum[best]) best = j;
    const SongEntry& s = data.songs()[static_cast<std::size_t>(song)];
    csv += csv_field(s.relative) + "," + csv_field(labels[static_cast<std::size_t>(s.label)]) + "," +
           csv_field(labels[best]) + "," + shortest(sum[best] / n) + "," +
           (static_cast<int>(best) == s.label ? "1" : "0") + "," + std::to_string(n);
    for (std::size_t j = 0; j < k; ++j) csv += "," + shortest(sum[j] / n);
    csv += "\n";
  }
  return csv;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./,:=+@") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string command_line_text(const std::string& command, const std::vector<std::string>& args) {
  std::string line = "genrenet " + command;
  for (const std::string& a : args) line += " " + shell_quote(a);
  return line;
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace gn
