#include "engine/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"
#include "engine/strict_json.h"

namespace gn {
namespace {

constexpr std::uint64_t kMaxHeader = 100u << 20;  // the format's own limit is 100 MB

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      std::uint32_t m = mant;
      do { ++e; m <<= 1; } while ((m & 0x400) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

const Tensor& SafeTensorsFile::get(const std::string& name) const {
  const auto it = tensors.find(name);
  GN_REQUIRE(it != tensors.end(), source, ": tensor '", name, "' is missing");
  return it->second;
}

SafeTensorsFile parse_safetensors(const std::string& bytes, const std::string& source) {
  SafeTensorsFile file;
  file.source = source;
  GN_REQUIRE(bytes.size() >= 8, source, ": not a safetensors file (", bytes.size(), " bytes, too short for a header)");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  GN_REQUIRE(header_len <= kMaxHeader && header_len <= bytes.size() - 8, source,
             ": header length ", header_len, " points past the end of the file (", bytes.size(),
             " bytes): the file is truncated or not a safetensors file");
  // Strict: a tensor (or metadata key) named twice is rejected, not silently resolved.
  const nlohmann::json header = parse_json_strict(std::string_view(bytes).substr(8, header_len),
                                                  source + ": the safetensors header");
  GN_REQUIRE(header.is_object(), source, ": the safetensors header is not a JSON object");
  const std::uint64_t data_size = bytes.size() - 8 - header_len;
  const char* data = bytes.data() + 8 + header_len;
  file.data_fnv1a64 = fnv1a64(std::string_view(data, data_size));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;  // [begin, end) of every tensor
  std::vector<std::string> extent_names;

  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      GN_REQUIRE(info.is_object(), source, ": __metadata__ is not an object");
      for (const auto& [k, v] : info.items()) {
        GN_REQUIRE(v.is_string(), source, ": metadata '", k, "' is not a string");
        file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    GN_REQUIRE(info.is_object() && info.contains("dtype") && info.contains("shape") &&
                   info.contains("data_offsets") && info["dtype"].is_string() && info["shape"].is_array() &&
                   info["data_offsets"].is_array() && info["data_offsets"].size() == 2,
               source, ": tensor '", name, "' has a malformed entry");
    const std::string dtype = info["dtype"].get<std::string>();
    std::size_t element_size = 0;
    if (dtype == "F32") element_size = 4;
    else if (dtype == "F16") element_size = 2;
    else if (dtype == "F64") element_size = 8;
    else GN_FAIL(source, ": tensor '", name, "' has dtype ", dtype, "; only F32, F16 and F64 are supported");

    std::vector<std::int64_t> dims;
    std::uint64_t count = 1;
    for (const auto& d : info["shape"]) {
      GN_REQUIRE(d.is_number_unsigned() || (d.is_number_integer() && d.get<std::int64_t>() >= 0), source,
                 ": tensor '", name, "' has an invalid dimension");
      const std::uint64_t v = d.get<std::uint64_t>();
      // Divide rather than multiply: count * v can wrap around 2^64 and pass a product check.
      GN_REQUIRE(v <= (1ull << 32) && (v == 0 || count <= (1ull << 34) / v), source, ": tensor '", name,
                 "' has impossible dimensions");
      count *= v;
      dims.push_back(static_cast<std::int64_t>(v));
    }
    GN_REQUIRE(dims.size() <= static_cast<std::size_t>(Shape::kMaxRank), source, ": tensor '", name, "' has rank ",
               dims.size(), " (at most ", Shape::kMaxRank, " supported)");
    const auto& off = info["data_offsets"];
    GN_REQUIRE(off[0].is_number_unsigned() && off[1].is_number_unsigned(), source, ": tensor '", name,
               "' has invalid data_offsets");
    const std::uint64_t begin = off[0].get<std::uint64_t>(), end = off[1].get<std::uint64_t>();
    GN_REQUIRE(begin <= end && end <= data_size, source, ": tensor '", name, "' data [", begin, ", ", end,
               ") lies outside the file's ", data_size, " data bytes (truncated file?)");
    GN_REQUIRE(end - begin == count * element_size, source, ": tensor '", name, "' has ", end - begin,
               " bytes but its shape and dtype need ", count * element_size);

    extents.emplace_back(begin, end);
    extent_names.push_back(name);

    Tensor t = Tensor::empty(Shape(dims));
    float* out = t.data();
    const char* p = data + begin;
    for (std::uint64_t i = 0; i < count; ++i) {
      if (element_size == 4) {
        std::memcpy(out + i, p + 4 * i, 4);
      } else if (element_size == 8) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      } else {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = half_to_float(h);
      }
    }
    file.tensors.emplace(name, std::move(t));
  }
  // The tensors must tile the data block: two views of the same bytes, a hole or bytes after
  // the last tensor would let a file carry data no reader checks (or a second reading of it).
  std::vector<std::size_t> order(extents.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return extents[a] < extents[b]; });
  std::uint64_t expected = 0;
  for (const std::size_t i : order) {
    const auto [begin, end] = extents[i];
    GN_REQUIRE(begin >= expected, source, ": tensor '", extent_names[i], "' data [", begin, ", ", end,
               ") overlaps the tensor before it (which ends at ", expected, ")");
    GN_REQUIRE(begin == expected, source, ": ", begin - expected, " unclaimed bytes before tensor '",
               extent_names[i], "' (data offsets must be contiguous)");
    expected = end;
  }
  GN_REQUIRE(expected == data_size, source, ": ", data_size - expected,
             " trailing bytes after the last tensor's data (the file was appended to or is not what its header says)");
  return file;
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  GN_REQUIRE(std::filesystem::exists(path, ec), path, ": no such file");
  GN_REQUIRE(!std::filesystem::is_directory(path, ec), path, ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  GN_REQUIRE(in.good(), path, ": cannot open for reading");
  std::ostringstream os;
  os << in.rdbuf();
  GN_REQUIRE(!in.bad(), path, ": read error");
  return os.str();
}

SafeTensorsFile read_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata,
                                  const std::string& checksum_key) {
  std::string data;
  for (const auto& [name, t] : tensors) {
    const std::vector<float> v = t.to_vector();
    data.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  }
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty() || !checksum_key.empty()) header["__metadata__"] = metadata;
  if (!checksum_key.empty()) header["__metadata__"][checksum_key] = hex64(fnv1a64(data));
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    GN_REQUIRE(name != "__metadata__", "a tensor cannot be named __metadata__");
    const std::uint64_t size = static_cast<std::uint64_t>(t.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.shape().dims()}, {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // align the data block to 8 bytes
  std::string out(8, '\0');
  const std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += json;
  out += data;
  return out;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  GN_REQUIRE(fs::is_directory(dir, ec), path, ": folder ", dir.string(), " does not exist");
  const std::string tmp = (dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()))).string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  GN_REQUIRE(fd >= 0, path, ": cannot write into ", dir.string(), " (", std::strerror(errno), ")");
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      GN_FAIL(path, ": write failed (", why, ")");
    }
    written += static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    GN_FAIL(path, ": flush failed (", why, ")");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    GN_FAIL(path, ": rename failed (", why, ")");
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace gn
