// Strict JSON parsing for untrusted headers and configuration files. nlohmann::json silently
// keeps the last of duplicate object keys, so a crafted safetensors header could name a tensor
// twice and have the reader and a Python reader disagree about which one is meant; a crafted
// model.json could hide a layer setting behind a second key. This parser rejects duplicate keys
// at any depth and nesting deeper than a sane limit, each as one gn::Error naming `what`.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gn {

inline constexpr int kMaxJsonDepth = 64;

nlohmann::json parse_json_strict(std::string_view text, const std::string& what);

}  // namespace gn
