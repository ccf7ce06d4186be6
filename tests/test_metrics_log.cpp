// metrics.csv / metrics.json / test_results.json: formats, round trip, atomic files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/support.h"
#include "train/metrics_log.h"

namespace gn {
namespace {

std::vector<EpochMetrics> two_epochs() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {{1, 2.25, 0.125, 2.0, 0.25, 0.005, 12.5, 40.0}, {2, 1.0 / 3, 0.5, nan, nan, 0.005, 11.0, 44.75}};
}

TEST(MetricsLog, CsvHasAHeaderAndOneLinePerEpoch) {
  EXPECT_EQ(metrics_csv(two_epochs()),
            "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,clips_per_second\n"
            "1,2.25,0.125,2,0.25,0.005,12.5,40\n"
            "2,0.3333333333333333,0.5,,,0.005,11,44.75\n");
  // Shortest, and still exact: every number reads back to the same double.
  const std::vector<EpochMetrics> e = two_epochs();
  EXPECT_EQ(std::strtod("0.3333333333333333", nullptr), e[1].train_loss);
  EXPECT_EQ(std::strtod("0.005", nullptr), e[0].lr);
}

TEST(MetricsLog, JsonRoundTripsIncludingMissingValidation) {
  const std::vector<EpochMetrics> e = two_epochs();
  const std::string text = metrics_json(e);
  EXPECT_NE(text.find("\"val_loss\": null"), std::string::npos);
  const std::vector<EpochMetrics> back = parse_metrics_json(text, "metrics.json");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0], e[0]);
  EXPECT_EQ(back[1].train_loss, e[1].train_loss);  // %.17g-exact doubles
  EXPECT_TRUE(std::isnan(back[1].val_loss));
  EXPECT_TRUE(std::isnan(back[1].val_accuracy));
  EXPECT_EQ(back[1].clips_per_second, 44.75);
}

TEST(MetricsLog, MalformedJsonIsAClearError) {
  for (const char* bad : {"", "{", "[]", "{\"epochs\": 3}", "{\"epochs\": [{\"epoch\": 1}]}",
                          "{\"epochs\": [{\"epoch\": \"1\"}]}"}) {
    try {
      parse_metrics_json(bad, "run/metrics.json");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("run/metrics.json"), std::string::npos) << e.what();
    }
  }
}

TEST(MetricsLog, FilesAreWrittenAndReplaced) {
  const std::string dir = test::temp_dir("metrics");
  write_metrics_files(dir, {two_epochs()[0]});
  write_metrics_files(dir, two_epochs());
  EXPECT_EQ(read_file(dir + "/metrics.csv"), metrics_csv(two_epochs()));
  EXPECT_EQ(parse_metrics_json(read_file(dir + "/metrics.json"), "m").size(), 2u);
  // Nothing but the two files: no temporary left behind.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 2);
  EXPECT_THROW(write_metrics_files(dir + "/missing/folder", two_epochs()), Error);
}

TEST(MetricsLog, TestResultsJsonByHand) {
  // 2 classes; song 0 (label 0): clips predict 0, 1, 0 -> mean (0.6, 0.4) right, vote right;
  // song 1 (label 1): clips predict 0, 1 -> clip acc 3/5, song mean 0.45/0.55 -> right.
  const std::vector<float> probs = {0.9f, 0.1f, 0.2f, 0.8f, 0.7f, 0.3f, 0.6f, 0.4f, 0.3f, 0.7f};
  const TestResults r = evaluate_predictions({"a", "b"}, probs, {0, 0, 0, 1, 1}, {0, 0, 0, 1, 1}, 0.5);
  EXPECT_EQ(r.clips, 5);
  EXPECT_EQ(r.songs, 2);
  EXPECT_DOUBLE_EQ(r.clip_accuracy(), 3.0 / 5);
  EXPECT_DOUBLE_EQ(r.song_accuracy(), 1.0);
  // Song 1's votes tie 1-1; its summed probability favours class 1 (1.1 vs 0.9).
  EXPECT_DOUBLE_EQ(r.song_vote_accuracy(), 1.0);
  const nlohmann::json j = nlohmann::json::parse(test_results_json(r));
  EXPECT_EQ(j.at("clip").at("confusion"), nlohmann::json::parse("[[2, 1], [1, 1]]"));
  EXPECT_EQ(j.at("song").at("per_class").at(1).at("label"), "b");
  EXPECT_DOUBLE_EQ(j.at("clip").at("per_class").at(0).at("precision").get<double>(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(j.at("loss").get<double>(), 0.5);
}

}  // namespace
}  // namespace gn
