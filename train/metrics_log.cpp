#include "train/metrics_log.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace gn {
namespace {

// The shortest text that reads back to the same double (std::to_chars: 0.005, not %.17g's
// 0.0050000000000000001), empty for NaN.
std::string number_text(double v) {
  if (std::isnan(v)) return "";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

nlohmann::json number_json(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double json_number(const nlohmann::json& j, const char* key, const std::string& source, std::size_t index) {
  GN_REQUIRE(j.contains(key), source, ": epoch entry ", index, " has no \"", key, "\"");
  const nlohmann::json& v = j.at(key);
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  GN_REQUIRE(v.is_number(), source, ": epoch entry ", index, " has a non-numeric \"", key, "\"");
  return v.get<double>();
}

nlohmann::json scores_json(const ConfusionMatrix& cm, const std::vector<std::string>& labels) {
  const ClassificationScores s = score(cm);
  nlohmann::json j;
  j["accuracy"] = s.accuracy;
  j["macro_precision"] = s.macro_precision;
  j["macro_recall"] = s.macro_recall;
  j["macro_f1"] = s.macro_f1;
  nlohmann::json rows = nlohmann::json::array(), per = nlohmann::json::array();
  for (int t = 0; t < cm.classes(); ++t) {
    nlohmann::json row = nlohmann::json::array();
    for (int p = 0; p < cm.classes(); ++p) row.push_back(cm.at(t, p));
    rows.push_back(row);
    const ClassScores& c = s.per_class[t];
    per.push_back({{"label", labels[t]}, {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                   {"support", c.support}});
  }
  j["confusion"] = rows;  // rows = truth, columns = prediction
  j["per_class"] = per;
  return j;
}

}  // namespace

std::string metrics_csv(const std::vector<EpochMetrics>& epochs) {
  std::string out = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,clips_per_second\n";
  for (const EpochMetrics& e : epochs) {
    out += std::to_string(e.epoch);
    for (double v : {e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.lr, e.seconds,
                     e.clips_per_second}) {
      out += ',';
      out += number_text(v);
    }
    out += "\n";
  }
  return out;
}

std::string metrics_json(const std::vector<EpochMetrics>& epochs) {
  nlohmann::json list = nlohmann::json::array();
  for (const EpochMetrics& e : epochs)
    list.push_back({{"epoch", e.epoch},
                    {"train_loss", number_json(e.train_loss)},
                    {"train_accuracy", number_json(e.train_accuracy)},
                    {"val_loss", number_json(e.val_loss)},
                    {"val_accuracy", number_json(e.val_accuracy)},
                    {"lr", number_json(e.lr)},
                    {"seconds", number_json(e.seconds)},
                    {"clips_per_second", number_json(e.clips_per_second)}});
  return nlohmann::json{{"epochs", list}}.dump(1) + "\n";
}

std::vector<EpochMetrics> parse_metrics_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    GN_FAIL(source, ": not valid JSON (", e.what(), ")");
  }
  GN_REQUIRE(j.is_object() && j.contains("epochs") && j.at("epochs").is_array(), source,
             ": expected an object with an \"epochs\" array");
  std::vector<EpochMetrics> out;
  std::size_t i = 0;
  for (const nlohmann::json& e : j.at("epochs")) {
    GN_REQUIRE(e.is_object() && e.contains("epoch") && e.at("epoch").is_number_integer(), source,
               ": epoch entry ", i, " has no integer \"epoch\"");
    EpochMetrics m;
    m.epoch = e.at("epoch").get<int>();
    m.train_loss = json_number(e, "train_loss", source, i);
    m.train_accuracy = json_number(e, "train_accuracy", source, i);
    m.val_loss = json_number(e, "val_loss", source, i);
    m.val_accuracy = json_number(e, "val_accuracy", source, i);
    m.lr = json_number(e, "lr", source, i);
    m.seconds = json_number(e, "seconds", source, i);
    m.clips_per_second = json_number(e, "clips_per_second", source, i);
    out.push_back(m);
    ++i;
  }
  return out;
}

void write_metrics_files(const std::string& dir, const std::vector<EpochMetrics>& epochs) {
  const std::filesystem::path d(dir);
  write_file_atomically((d / "metrics.csv").string(), metrics_csv(epochs));
  write_file_atomically((d / "metrics.json").string(), metrics_json(epochs));
}

TestResults evaluate_predictions(const std::vector<std::string>& labels, const std::vector<float>& probs,
                                 const std::vector<int>& clip_labels,
                                 const std::vector<std::int64_t>& clip_songs, double loss) {
  const int classes = static_cast<int>(labels.size());
  TestResults r;
  r.labels = labels;
  r.clips = static_cast<std::int64_t>(clip_labels.size());
  r.loss = loss;
  r.clip_confusion = clip_confusion(probs, classes, clip_labels);
  const SongPredictions sp = aggregate_songs(probs, classes, clip_labels, clip_songs);
  r.songs = static_cast<std::int64_t>(sp.songs.size());
  r.song_confusion = confusion_of(sp.truth, sp.mean_pred, classes);
  r.song_vote_confusion = confusion_of(sp.truth, sp.vote_pred, classes);
  return r;
}

std::string test_results_json(const TestResults& r) {
  nlohmann::json j;
  j["clips"] = r.clips;
  j["songs"] = r.songs;
  j["loss"] = number_json(r.loss);
  j["clip_accuracy"] = r.clip_accuracy();
  j["song_accuracy"] = r.song_accuracy();
  j["song_vote_accuracy"] = r.song_vote_accuracy();
  j["labels"] = r.labels;
  j["clip"] = scores_json(r.clip_confusion, r.labels);
  j["song"] = scores_json(r.song_confusion, r.labels);
  j["song_vote"] = scores_json(r.song_vote_confusion, r.labels);
  return j.dump(1) + "\n";
}

}  // namespace gn
