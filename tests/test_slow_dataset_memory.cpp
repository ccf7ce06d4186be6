// The spectrogram cache keeps the resident set bounded: gathering every clip of a data set
// whose cache is several times DatasetOptions::resident_limit_bytes grows the process's RSS by
// about that limit, not by the data set's size (the property that lets the full GTZAN's ~5 GB
// of spectrograms train in 4 GiB of RAM).
#include <gtest/gtest.h>

#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>

#include "data/dataset.h"
#include "data/synth.h"
#include "tests/support.h"

namespace gn {
namespace {

std::int64_t rss_bytes() {  // current resident set from /proc/self/statm
  std::ifstream in("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * 4096;
}

TEST(DatasetMemory, GatherKeepsResidentSetBounded) {
  const std::string root = test::temp_dir("mem_dataset"), cache = test::temp_dir("mem_cache");
  SynthOptions o;
  o.out_dir = root;
  o.songs_per_genre = 4;
  o.seconds = 30.0;  // 40 songs x 19 clips x 128 x 513 floats = 200 MB of cache
  o.progress = false;
  write_synth_dataset(o);
  Context ctx;
  DatasetOptions opt;
  opt.cache_dir = cache;
  opt.progress = false;
  opt.resident_limit_bytes = 16 << 20;
  std::ostringstream log;
  const Dataset d = Dataset::build(ctx, scan_dataset(root), ClipScheme::fixed(3.0, 0.5), FrontendConfig::logstft(), opt);
  ASSERT_EQ(d.num_clips(), 760);
  std::vector<std::int64_t> order(d.num_clips());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(1));
  Tensor x = Tensor::empty(Shape{32, 128, 513, 1});
  std::vector<int> labels;
  const std::int64_t before = rss_bytes();
  std::int64_t peak = before;
  for (int epoch = 0; epoch < 2; ++epoch)
    for (std::size_t b = 0; b + 32 <= order.size(); b += 32) {
      d.gather(x, labels, order, b, 32);
      peak = std::max(peak, rss_bytes());
    }
  const double grown_mb = (peak - before) / 1048576.0;
  const double cache_mb = d.num_clips() * 128.0 * 513 * 4 / 1048576.0;
  std::printf("  gathered 2 x %.0f MB of spectrograms: RSS grew by %.1f MB (limit 16 MB + one batch of 8 MB)\n",
              cache_mb, grown_mb);
  // Without trimming RSS grows by the whole cache (~190 MB); with it, by the limit plus one
  // batch plus slack for allocator noise.
  EXPECT_LT(grown_mb, 60.0);
}

}  // namespace
}  // namespace gn
