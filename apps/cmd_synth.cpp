// `genrenet synth`: writes the synthetic GTZAN data set (data/synth.h).
#include <iostream>

#include "apps/args.h"
#include "apps/command.h"
#include "data/synth.h"

namespace gn::app {
namespace {

int run_synth(const std::vector<std::string>& argv) {
  Args args("synth", argv, {"out", "songs-per-genre", "seed", "seconds"}, {"help", "quiet"});
  if (args.flag("help")) {
    std::cout << "usage: genrenet synth --out DIR [--songs-per-genre N] [--seed S] [--seconds T] [--quiet]\n"
                 "  Writes a GTZAN-layout folder DIR/<genre>/<genre>.NNNNN.wav of 22050 Hz 16-bit mono songs in\n"
                 "  10 genre-like classes (blues classical country disco hiphop jazz metal pop reggae rock).\n"
                 "  Deterministic: the same seed gives the same bytes.\n"
                 "  --songs-per-genre N  songs per class (default 10)\n"
                 "  --seed S             random seed (default 1)\n"
                 "  --seconds T          song length in seconds (default 30; 1..600)\n";
    return 0;
  }
  SynthOptions o;
  const auto out = args.opt("out");
  if (!out) {
    std::cerr << "genrenet synth: --out DIR is required (see genrenet synth --help)\n";
    return 2;
  }
  o.out_dir = *out;
  o.songs_per_genre = static_cast<int>(args.integer("songs-per-genre", 10, 1, 100000));
  o.seed = static_cast<std::uint64_t>(args.integer("seed", 1, 0, INT64_MAX));
  o.seconds = args.number("seconds", 30.0, 1.0, 600.0);
  o.progress = !args.flag("quiet");
  const int n = write_synth_dataset(o);
  std::cout << "wrote " << n << " songs (" << o.songs_per_genre << " per genre, " << o.seconds << " s, seed "
            << o.seed << ") to " << o.out_dir << "\n";
  return 0;
}

}  // namespace
GN_COMMAND("synth", "write the synthetic GTZAN data set (10 genre-like classes of WAV songs)", run_synth);
}  // namespace gn::app
