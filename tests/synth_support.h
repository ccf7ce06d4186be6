// A small synthetic data set shared by the command-line tests: 10 genres x 10 songs x 2 s,
// written once per test binary, enough for a run of the tiny model in a few seconds.
#pragma once

#include <string>

#include "data/synth.h"
#include "tests/support.h"

namespace gn::test {

inline const std::string& small_synth_data_set() {
  static const std::string dir = [] {
    const std::string d = temp_dir("synth-data") + "/synth";
    SynthOptions o;
    o.out_dir = d;
    o.songs_per_genre = 10;
    o.seconds = 2.0;
    o.progress = false;
    write_synth_dataset(o);
    return d;
  }();
  return dir;
}

}  // namespace gn::test
