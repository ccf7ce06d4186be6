// Data sets: scanning, decoding with corrupt / too-short files skipped and counted, the
// on-disk spectrogram cache (reuse, invalidation, torn files), gathering batches, and the
// three split kinds with their bad inputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data/audio.h"
#include "data/dataset.h"
#include "data/spectrogram_cache.h"
#include "data/split.h"
#include "data/synth.h"
#include "engine/error.h"
#include "tests/support.h"

namespace gn {
namespace {
namespace fs = std::filesystem;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// 10 genres x 2 songs of 6 s (3 clips of 3 s at 50% each), plus GTZAN's troubles: a corrupt
// jazz.00054, a too-short song and a stray text file.
struct Fixture {
  std::string root, cache;
  Fixture() {
    root = test::temp_dir("dataset");
    cache = test::temp_dir("dataset_cache");
    SynthOptions o;
    o.out_dir = root;
    o.songs_per_genre = 2;
    o.seconds = 6.0;
    o.seed = 9;
    o.progress = false;
    write_synth_dataset(o);
    write_bytes(root + "/jazz/jazz.00054.wav", std::string(5000, '\x7f'));
    write_bytes(root + "/rock/rock.00099.wav", encode_wav16(std::vector<float>(11025, 0.1f), 22050));
    write_bytes(root + "/rock/notes.txt", "not audio");
  }
};

const Fixture& fixture() {
  static Fixture f;
  return f;
}

Dataset build(Context& ctx, const DatasetScan& scan, std::ostream& log,
              const FrontendConfig& fe = FrontendConfig::logstft()) {
  DatasetOptions opt;
  opt.cache_dir = fixture().cache;
  opt.progress = false;
  opt.log = &log;
  return Dataset::build(ctx, scan, ClipScheme::fixed(3.0, 0.5), fe, opt);
}

std::map<std::string, fs::file_time_type> cache_files(const std::string& dir) {
  std::map<std::string, fs::file_time_type> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = e.last_write_time();
  return out;
}

TEST(Dataset, ScanBuildSkipCorruptAndCache) {
  const Fixture& f = fixture();
  const DatasetScan scan = scan_dataset(f.root);
  EXPECT_EQ(scan.labels, synth_genres());  // sorted folder names
  EXPECT_EQ(scan.songs.size(), 22u);       // 20 songs + the 2 bad ones; notes.txt is not audio
  EXPECT_EQ(scan.songs[0].relative, "blues/blues.00000.wav");

  Context ctx;
  std::ostringstream log;
  const Dataset d = build(ctx, scan, log);
  // The corrupt and the too-short file are skipped with a warning each and a count at the end.
  ASSERT_EQ(d.skipped().size(), 2u) << log.str();
  EXPECT_NE(log.str().find("jazz/jazz.00054.wav"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("too short"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("2 of 22 files could not be used"), std::string::npos) << log.str();
  EXPECT_EQ(d.songs().size(), 20u);
  EXPECT_EQ(d.num_clips(), 60);
  EXPECT_EQ(d.frames(), 128);
  EXPECT_EQ(d.bins(), 513);
  EXPECT_EQ(d.song_clip_count(0), 3);
  EXPECT_EQ(d.clip_label(59), 9);

  // A cached clip equals the front-end run directly on the decoded song.
  const Audio a = decode_audio(d.songs()[5].path);
  const Tensor clips = extract_clips(a.samples, ClipScheme::fixed(3.0, 0.5), "x");
  Tensor direct = Tensor::empty(FrontendConfig::logstft().output_shape(3));
  compute_spectrograms(ctx, direct, clips, FrontendConfig::logstft(), false);
  for (std::int64_t i = 0; i < 128 * 513; ++i)
    ASSERT_EQ(d.clip_data(d.song_first_clip(5) + 1)[i], direct.at(128 * 513 + i)) << i;

  // gather: shapes, labels, values.
  Tensor x = Tensor::empty(Shape{2, 128, 513, 1});
  std::vector<int> labels;
  d.gather(x, labels, {59, d.song_first_clip(5) + 1}, 0, 2);
  EXPECT_EQ(labels, (std::vector<int>{9, d.songs()[5].label}));
  EXPECT_EQ(x.at(128 * 513 + 7), direct.at(128 * 513 + 7));
  Tensor wrong = Tensor::empty(Shape{3, 128, 513, 1});
  EXPECT_THROW(d.gather(wrong, labels, {0, 1}, 0, 2), Error);
  EXPECT_THROW(d.gather(x, labels, {0, 1}, 1, 2), Error);

  // Normalisation statistics from a subset of clips.
  FrontendConfig fe = FrontendConfig::logstft();
  d.fit_normalization(fe, {0, 1, 2, 3});
  EXPECT_EQ(fe.mean.size(), 513u);
  EXPECT_TRUE(fe.normalized());

  // A second build reads every song from the cache: no cache file is rewritten.
  const auto before = cache_files(f.cache);
  EXPECT_EQ(before.size(), 20u);
  {
    std::ostringstream log2;
    const Dataset again = build(ctx, scan, log2);
    EXPECT_EQ(again.num_clips(), 60);
    EXPECT_EQ(cache_files(f.cache), before);
  }
  // A torn cache file (interrupted write by another tool, disk full) is recomputed, not trusted.
  // (Checked while every entry is current: after a song changes, its old entry is never read.)
  {
    const std::string victim = f.cache + "/" + before.begin()->first;
    const auto whole = fs::file_size(victim);  // headers hold the song's path: sizes differ per song
    fs::resize_file(victim, whole / 2);
    std::ostringstream log4;
    const Dataset again = build(ctx, scan, log4);
    EXPECT_EQ(again.num_clips(), 60);
    EXPECT_EQ(fs::file_size(victim), whole);
  }
  // Changing a song (its mtime) invalidates its entry: one new cache file.
  {
    std::ostringstream log3;
    fs::last_write_time(d.songs()[0].path, fs::file_time_type::clock::now() + std::chrono::seconds(5));
    const Dataset again = build(ctx, scan, log3);
    EXPECT_EQ(cache_files(f.cache).size(), 21u);
  }
}

TEST(Dataset, LabelListsAndBadFolders) {
  const Fixture& f = fixture();
  const DatasetScan scan = scan_dataset(f.root, {"rock", "blues"});
  EXPECT_EQ(scan.labels, (std::vector<std::string>{"rock", "blues"}));
  for (const SongEntry& s : scan.songs) EXPECT_EQ(s.label, s.relative.rfind("rock", 0) == 0 ? 0 : 1) << s.relative;
  EXPECT_THROW(scan_dataset(f.root, {"rock", "polka"}), Error);
  EXPECT_THROW(scan_dataset(f.root, {"rock", "rock"}), Error);
  EXPECT_THROW(scan_dataset(f.root + "/does-not-exist"), Error);
  EXPECT_THROW(scan_dataset(test::temp_dir("empty_dataset")), Error);
  // A folder in which nothing decodes is an error after the scan.
  const std::string bad = test::temp_dir("bad_dataset");
  fs::create_directories(bad + "/a");
  write_bytes(bad + "/a/x.wav", "garbage");
  Context ctx;
  std::ostringstream log;
  EXPECT_THROW(build(ctx, scan_dataset(bad), log), Error);
}

TEST(Split, SongLevelStratifiedIsDisjointAndSeeded) {
  std::vector<int> labels;
  for (int l = 0; l < 10; ++l)
    for (int s = 0; s < 10; ++s) labels.push_back(l);
  std::vector<std::int64_t> tr, va, te, tr2, va2, te2;
  split_songs_stratified(labels, 0.1, 0.1, 1, tr, va, te);
  EXPECT_EQ(tr.size(), 80u);
  EXPECT_EQ(va.size(), 10u);
  EXPECT_EQ(te.size(), 10u);
  std::set<std::int64_t> all(tr.begin(), tr.end());
  all.insert(va.begin(), va.end());
  all.insert(te.begin(), te.end());
  EXPECT_EQ(all.size(), 100u);  // no song on two sides, none lost
  std::set<int> test_labels;
  for (auto s : te) test_labels.insert(labels[s]);
  EXPECT_EQ(test_labels.size(), 10u);  // one test song per label
  split_songs_stratified(labels, 0.1, 0.1, 1, tr2, va2, te2);
  EXPECT_EQ(te, te2);
  split_songs_stratified(labels, 0.1, 0.1, 2, tr2, va2, te2);
  EXPECT_NE(te, te2);
  EXPECT_THROW(split_songs_stratified(labels, 0.6, 0.5, 1, tr, va, te), Error);
  EXPECT_THROW(split_songs_stratified(labels, -0.1, 0.1, 1, tr, va, te), Error);
}

TEST(Split, OnDatasetSongClipAndLists) {
  const Fixture& f = fixture();
  Context ctx;
  std::ostringstream log;
  const Dataset d = build(ctx, scan_dataset(f.root), log);

  SplitConfig song;
  song.val_fraction = 0.0;
  song.test_fraction = 0.5;  // 1 of 2 songs per genre
  const Split s = make_split(d, song, &log);
  EXPECT_EQ(s.test_songs.size(), 10u);
  EXPECT_EQ(s.train.size() + s.val.size() + s.test.size(), 60u);
  std::set<std::int64_t> train_songs;
  for (auto c : s.train) train_songs.insert(d.clip_song(c));
  for (auto c : s.test) EXPECT_EQ(train_songs.count(d.clip_song(c)), 0u) << "song on both sides";

  SplitConfig clip;
  clip.kind = SplitConfig::Kind::Clip;
  std::ostringstream warn;
  const Split c = make_split(d, clip, &warn);
  EXPECT_NE(warn.str().find("leaks songs"), std::string::npos);
  EXPECT_EQ(c.test.size(), 6u);  // 10% of 60
  EXPECT_EQ(c.val.size(), 5u);   // 10% of the remaining 54, rounded
  EXPECT_EQ(c.train.size(), 49u);

  const std::string dir = test::temp_dir("lists");
  write_bytes(dir + "/train.txt", "# GTZAN-style list\nblues/blues.00000.wav\n\nrock/rock.00000.au\r\njazz/jazz.00054.wav\n");
  write_bytes(dir + "/test.txt", "blues/blues.00001.wav\n");
  SplitConfig list;
  list.kind = SplitConfig::Kind::List;
  list.train_list = dir + "/train.txt";
  list.test_list = dir + "/test.txt";
  std::ostringstream warn2;
  const Split l = make_split(d, list, &warn2);
  EXPECT_EQ(l.train_songs.size(), 2u);  // .au entry matches the .wav; the corrupt jazz is a warning
  EXPECT_NE(warn2.str().find("jazz.00054"), std::string::npos) << warn2.str();
  EXPECT_EQ(l.train.size(), 6u);
  EXPECT_EQ(l.test.size(), 3u);
  EXPECT_TRUE(l.val.empty());

  auto expect_list_error = [&](const std::string& train_text, const std::string& test_text, const std::string& what) {
    write_bytes(dir + "/bad_train.txt", train_text);
    write_bytes(dir + "/bad_test.txt", test_text);
    SplitConfig bad = list;
    bad.train_list = dir + "/bad_train.txt";
    bad.test_list = dir + "/bad_test.txt";
    try {
      make_split(d, bad, &log);
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_list_error("blues/blues.00000.wav\npolka/polka.00001.wav\n", "", "bad_train.txt:2");
  expect_list_error("blues/blues.00000.wav\nblues/blues.00000.wav\n", "", "already listed on line 1");
  expect_list_error("blues/blues.00000.wav\n", "blues/blues.00000.wav\n", "is in both");
  expect_list_error("", "", "training side is empty");
  SplitConfig missing = list;
  missing.train_list = dir + "/nope.txt";
  EXPECT_THROW(make_split(d, missing, &log), Error);
  EXPECT_THROW(SplitConfig::parse_kind("random"), Error);
}

TEST(SpectrogramCache, RejectsOtherKeysAndTornFiles) {
  const std::string dir = test::temp_dir("cache_unit");
  const std::string song = dir + "/s.wav";
  write_bytes(song, encode_wav16(std::vector<float>(100, 0.0f), 22050));
  const CacheKey key = CacheKey::for_song(song, "clips", "frontend A");
  const CacheKey other = CacheKey::for_song(song, "clips", "frontend B");
  EXPECT_NE(key.hash, other.hash);
  std::vector<float> data(2 * 3 * 4);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = float(i);
  const std::string path = dir + "/" + key.file_name();
  auto c = SpectrogramCache::write(path, key, 2, 3, 4, data.data());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->clip(1)[0], 12.0f);
  EXPECT_THROW(c->clip(2), Error);
  c->trim();
  EXPECT_EQ(c->clip(1)[11], 23.0f);  // pages come back after trim()
  EXPECT_NE(SpectrogramCache::open(path, key), nullptr);
  EXPECT_EQ(SpectrogramCache::open(path, other), nullptr);
  EXPECT_EQ(SpectrogramCache::open(dir + "/absent.gnspec", key), nullptr);
  fs::resize_file(path, fs::file_size(path) - 4);
  EXPECT_EQ(SpectrogramCache::open(path, key), nullptr);
}

}  // namespace
}  // namespace gn
