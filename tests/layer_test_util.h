// Helpers for the layer tests: the golden fixture file (tests/fixtures/layers.safetensors,
// made by tests/fixtures/make_layer_fixtures.py with tf_keras) and error-message checks.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/params.h"
#include "engine/safetensors.h"
#include "layers/layer.h"
#include "tests/support.h"

namespace gn::test {

// The two passes layer tests run (no dropout key: the layers that use one get their own).
inline constexpr Pass kTrain{Mode::Train};
inline constexpr Pass kInfer{Mode::Infer};

// The store handed to layers without parameters (they declare nothing in it).
inline ParameterStore& no_params() {
  static ParameterStore store;
  return store;
}

inline const SafeTensorsFile& layer_fixtures() {
  static const SafeTensorsFile file = read_safetensors(fixture_path("layers.safetensors"));
  return file;
}

// The fixture tensor `name` on `device`.
inline Tensor golden(const std::string& name, Device device) { return layer_fixtures().get(name).to(device); }

// Copies fixture `fixture` into the store's parameter / buffer `store_name`.
inline void load_param(ParameterStore& store, const std::string& store_name, const std::string& fixture) {
  Tensor p = store.param(store_name);
  p.copy_from(layer_fixtures().get(fixture));
}
inline void load_buffer(ParameterStore& store, const std::string& store_name, const std::string& fixture) {
  Tensor p = store.buffer(store_name);
  p.copy_from(layer_fixtures().get(fixture));
}

// EXPECTs that f throws gn::Error and that its message contains every piece.
inline void expect_error_mentions(const std::function<void()>& f, const std::vector<std::string>& pieces) {
  try {
    f();
    ADD_FAILURE() << "expected a gn::Error mentioning " << (pieces.empty() ? "" : pieces[0]);
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : pieces) EXPECT_NE(msg.find(p), std::string::npos) << "message \"" << msg << "\" lacks \"" << p << "\"";
  }
}

// Bitwise equality of two tensors' values (determinism checks).
inline bool bit_identical(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  return va.size() == vb.size() && std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}

// Fills every parameter of `store` with U(lo, hi) from `seed` (host values, then copied).
inline void randomize_params(ParameterStore& store, std::uint32_t seed, float lo = -0.5f, float hi = 0.5f) {
  store.params().copy_from(random_tensor(store.params().shape(), seed, Device::cpu(), lo, hi));
}

}  // namespace gn::test
