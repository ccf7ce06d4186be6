// Strict JSON parsing for untrusted headers and configuration files. nlohmann::json silently
// keeps the last of duplicate object keys, so a crafted safetensors header could name a tensor
// twice and have the reader and a Python reader disagree about which one is meant; a crafted
// model.json could hide a layer setting behind a second key. This parser rejects duplicate keys
// at any depth and nesting deeper than a sane limit, each as one gn::Error naming `what`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gn {

inline constexpr int kMaxJsonDepth = 64;

nlohmann::json parse_json_strict(std::string_view text, const std::string& what);

// Numbers of untrusted JSON read with their range checked before any narrowing: nlohmann's
// get<int>() turns 2^32 + 128 into 128 and 2^31 into a negative count. `j` must be an object;
// member `key` must be an integer (resp. a finite number) within [lo, hi], else one gn::Error
// "<what>: '<key>' ..." says what it is and what was expected. The *_or forms return `fallback`
// when `key` is absent.
std::int64_t json_int(const nlohmann::json& j, const char* key, std::int64_t lo, std::int64_t hi,
                      const std::string& what);
std::int64_t json_int_or(const nlohmann::json& j, const char* key, std::int64_t fallback, std::int64_t lo,
                         std::int64_t hi, const std::string& what);
double json_number(const nlohmann::json& j, const char* key, double lo, double hi, const std::string& what);
double json_number_or(const nlohmann::json& j, const char* key, double fallback, double lo, double hi,
                      const std::string& what);

}  // namespace gn
