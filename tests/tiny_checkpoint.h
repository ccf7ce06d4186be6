// A checkpoint of ModelConfig::tiny() for tests of the command line that need a model but not
// a trained one. A header of its own (not support.cpp): the test support library links the
// engine only, and a test that includes this names the libraries it needs by its includes.
#pragma once

#include <cstdint>
#include <string>

#include "data/clips.h"
#include "layers/frontend.h"
#include "model/checkpoint.h"
#include "model/keras_import.h"
#include "tests/support.h"

namespace gn::test {

// Random weights from `seed`, 4 genres, a logstft front-end of 16 x 36, fixed 1 s clips:
// `genrenet predict` / `serve` run it in milliseconds.
inline void write_tiny_checkpoint(const std::string& path, std::uint32_t seed = 1) {
  const ModelConfig config = ModelConfig::tiny();
  ParameterStore store;
  for (const TensorSpec& s : rcnn_tensor_specs(config))
    store.declare(s.name, s.shape, s.buffer ? ParameterStore::Kind::Buffer : ParameterStore::Kind::Parameter);
  store.allocate(Device::cpu());
  for (const ParameterStore::Entry& e : store.entries()) {
    const bool buffer = e.kind == ParameterStore::Kind::Buffer;  // BatchNorm variances must stay positive
    Tensor dst = buffer ? store.buffer(e.name) : store.param(e.name);
    dst.copy_from(random_tensor(e.shape, seed++, Device::cpu(), buffer ? 0.1f : -1.0f, 2.0f));
  }
  Checkpoint c = checkpoint_from_store(store, config, {"blues", "classical", "metal", "pop"});
  FrontendConfig frontend = FrontendConfig::logstft();
  frontend.n_fft = 70;  // 36 bins
  frontend.frames = 16;
  c.frontend_json = frontend.to_json().dump();
  c.clip_scheme_json = ClipScheme::fixed(1.0, 0.5).to_json().dump();
  save_checkpoint(path, c);
}

}  // namespace gn::test
