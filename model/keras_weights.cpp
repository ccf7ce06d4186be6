// HDF5 weights -> engine tensors, through the HDF5 C API on an in-memory file image, parsed in a
// child process (see read_keras_weights below for why).
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "model/keras_import.h"

namespace gn {

namespace {

// Silences HDF5's automatic error printing for the importer's lifetime and turns its error stack
// into one line for our messages.
class Hdf5Errors {
 public:
  Hdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~Hdf5Errors() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }
  Hdf5Errors(const Hdf5Errors&) = delete;
  Hdf5Errors& operator=(const Hdf5Errors&) = delete;

  // The innermost HDF5 error description ("" when the stack is empty); clears the stack.
  static std::string take() {
    std::string message;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_DOWNWARD,
        [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
          auto& m = *static_cast<std::string*>(out);
          if (e && e->desc && *e->desc) m = std::string(e->desc) + (e->func_name ? std::string(" in ") + e->func_name : "");
          return 0;
        },
        &message);
    H5Eclear2(H5E_DEFAULT);
    return message;
  }

 private:
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

// An HDF5 identifier closed by its matching close function.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  void reset(hid_t id) {
    if (id_ >= 0) close_(id_);
    id_ = id;
  }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

class WeightsReader {
 public:
  WeightsReader(const std::string& bytes, std::string source) : source_(std::move(source)) {
    GN_REQUIRE(!bytes.empty(), source_, ": the HDF5 weights file is empty");
    // HDF5's signature sits at offset 0 or at a power-of-two user-block offset (512, 1024, ...).
    static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    bool signed_ = false;
    for (std::size_t at = 0; at + 8 <= bytes.size(); at = at ? 2 * at : 512)
      if (std::memcmp(bytes.data() + at, kSignature, 8) == 0) {
        signed_ = true;
        break;
      }
    GN_REQUIRE(signed_, source_, ": not an HDF5 file (no HDF5 signature)");
    // Open the bytes as an in-memory file image (core driver, no backing file): the file on disk
    // is read once by us, and the fuzzer drives exactly this code path.
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    check(fapl.ok() && H5Pset_fapl_core(fapl.get(), 1 << 20, 0) >= 0 &&
              H5Pset_file_image(fapl.get(), const_cast<char*>(bytes.data()), bytes.size()) >= 0,
          "cannot set up an in-memory HDF5 file");
    // The name only labels the image; it must not exist on disk (the core driver refuses to
    // shadow a real file), and nothing can exist below /dev/null.
    file_.reset(H5Fopen("/dev/null/genrenet-in-memory.h5", H5F_ACC_RDONLY, fapl.get()));
    check(file_.ok(), "cannot open as HDF5 (corrupt or truncated file?)");
    // `model.save()` files keep the weights under /model_weights; `save_weights()` files at the root.
    const char* root = H5Lexists(file_.get(), "model_weights", H5P_DEFAULT) > 0 ? "model_weights" : "/";
    H5Eclear2(H5E_DEFAULT);
    root_.reset(H5Gopen2(file_.get(), root, H5P_DEFAULT));
    check(root_.ok(), std::string("cannot open the group '") + root + "'");
  }
  WeightsReader(const WeightsReader&) = delete;
  WeightsReader& operator=(const WeightsReader&) = delete;

  std::map<std::string, Tensor> read(const KerasArchitecture& arch) {
    std::map<std::string, Shape> expected;
    for (const TensorSpec& s : rcnn_tensor_specs(arch.config)) expected.emplace(s.name, s.shape);

    // Keras loads weights layer by layer in order; require the file's weighted layers to be
    // exactly the architecture's, in the same order, so no weight is silently dropped.
    std::vector<std::string> file_layers;
    for (const std::string& name : string_attribute(root_.get(), "layer_names", "the weights file")) {
      H5Handle group(H5Gopen2(root_.get(), name.c_str(), H5P_DEFAULT), H5Gclose);
      check(group.ok(), "layer '" + name + "' is listed in layer_names but has no group");
      if (!string_attribute(group.get(), "weight_names", "layer '" + name + "'").empty()) file_layers.push_back(name);
    }
    const std::vector<std::string>& order = arch.keras_load_order;
    for (std::size_t i = 0; i < std::max(file_layers.size(), order.size()); ++i) {
      const std::string in_file = i < file_layers.size() ? "'" + file_layers[i] + "'" : "nothing";
      const std::string in_json = i < order.size() ? "'" + order[i] + "'" : "nothing";
      GN_REQUIRE(in_file == in_json, source_, ": weighted layer ", i + 1, " is ", in_file,
                 " in the weights but ", in_json, " in the architecture (weights of another model?)");
    }

    std::map<std::string, Tensor> out;
    for (const auto& [prefix, layer] : arch.weighted_layers) {
      std::vector<std::pair<std::string, std::string>> slots;  // (engine name, Keras weight name)
      if (prefix.rfind("cnn.conv", 0) == 0 || prefix == "head.dense") {
        slots = {{prefix + ".kernel", "kernel"}, {prefix + ".bias", "bias"}};
      } else if (prefix.rfind("cnn.bn", 0) == 0) {
        slots = {{prefix + ".gamma", "gamma"},
                 {prefix + ".beta", "beta"},
                 {prefix + ".moving_mean", "moving_mean"},
                 {prefix + ".moving_var", "moving_variance"}};
      } else {
        for (const char* dir : {"fwd", "bwd"})
          for (const char* w : {"kernel", "recurrent_kernel", "bias"})
            slots.push_back({prefix + "." + dir + "." + w, w});
      }
      read_layer(layer, slots, expected, out);
    }
    return out;
  }

 private:
  void check(bool ok, const std::string& what) const {
    if (ok) return;
    const std::string why = Hdf5Errors::take();
    GN_FAIL(source_, ": ", what, why.empty() ? "" : " (HDF5: " + why + ")");
  }

  // A 1-D string attribute (fixed-length or variable-length strings, as h5py writes them).
  std::vector<std::string> string_attribute(hid_t object, const char* name, const std::string& owner) const {
    const htri_t exists = H5Aexists(object, name);
    check(exists >= 0, "cannot query attribute '" + std::string(name) + "' of " + owner);
    GN_REQUIRE(exists > 0, source_, ": ", owner, " has no '", name, "' attribute (not a Keras weights file?)");
    H5Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    check(attr.ok(), "cannot open attribute '" + std::string(name) + "' of " + owner);
    H5Handle type(H5Aget_type(attr.get()), H5Tclose);
    H5Handle space(H5Aget_space(attr.get()), H5Sclose);
    check(type.ok() && space.ok(), "cannot read attribute '" + std::string(name) + "' of " + owner);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    check(rank >= 0 && count >= 0, "cannot read the size of attribute '" + std::string(name) + "'");
    // h5py writes an empty list as an empty float64 array: no strings.
    if (count == 0) return {};
    GN_REQUIRE(rank <= 1 && count <= 4096, source_, ": attribute '", name, "' of ", owner,
               " is not a list of strings (rank ", rank, ", ", count, " elements)");
    GN_REQUIRE(H5Tget_class(type.get()) == H5T_STRING, source_, ": attribute '", name, "' of ", owner,
               " does not hold strings");
    // Keras (h5py from NumPy byte arrays) writes fixed-length strings. Variable-length ones are
    // refused rather than read: their bytes live in HDF5's global heap, whose reader in libhdf5
    // 1.10 trusts the stored lengths (fuzzing found a memcpy of size -1 in H5HG_read).
    const htri_t variable = H5Tis_variable_str(type.get());
    check(variable >= 0, "cannot read the string type of attribute '" + std::string(name) + "'");
    GN_REQUIRE(!variable, source_, ": attribute '", name, "' of ", owner,
               " holds variable-length strings; Keras writes fixed-length ones");
    const std::size_t size = H5Tget_size(type.get());
    GN_REQUIRE(size > 0 && size <= 4096, source_, ": attribute '", name, "' of ", owner, " has strings of ", size,
               " bytes");
    H5Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
    check(memtype.ok() && H5Tset_size(memtype.get(), size) >= 0 && H5Tset_strpad(memtype.get(), H5T_STR_NULLPAD) >= 0,
          "cannot make a string type");
    std::vector<char> buffer(size * static_cast<std::size_t>(count), '\0');
    check(H5Aread(attr.get(), memtype.get(), buffer.data()) >= 0,
          "cannot read attribute '" + std::string(name) + "' of " + owner);
    std::vector<std::string> values;
    for (hssize_t i = 0; i < count; ++i) {
      const char* p = buffer.data() + static_cast<std::size_t>(i) * size;
      values.emplace_back(p, strnlen(p, size));
    }
    return values;
  }

  // "conv2d/kernel:0" -> "kernel"; "bidirectional/forward_lstm/lstm_cell_1/bias:0" -> "bias".
  static std::string short_name(const std::string& weight_name) {
    std::string s = weight_name.substr(weight_name.rfind('/') + 1);
    const std::size_t colon = s.rfind(':');
    return colon == std::string::npos ? s : s.substr(0, colon);
  }

  void read_layer(const std::string& layer, const std::vector<std::pair<std::string, std::string>>& slots,
                  const std::map<std::string, Shape>& expected, std::map<std::string, Tensor>& out) const {
    H5Handle group(H5Gopen2(root_.get(), layer.c_str(), H5P_DEFAULT), H5Gclose);
    check(group.ok(), "the weights have no group for layer '" + layer + "'");
    const std::vector<std::string> names = string_attribute(group.get(), "weight_names", "layer '" + layer + "'");
    GN_REQUIRE(names.size() == slots.size(), source_, ": layer '", layer, "' has ", names.size(),
               " weights, the engine expects ", slots.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const auto& [engine_name, keras_name] = slots[i];
      const std::string& weight = names[i];
      GN_REQUIRE(short_name(weight) == keras_name, source_, ": layer '", layer, "' weight ", i + 1, " is '", weight,
                 "', expected its ", keras_name);
      // Bidirectional: the first three weights are the forward LSTM's, the last three the backward's.
      if (slots.size() == 6) {
        const char* dir = i < 3 ? "forward" : "backward";
        GN_REQUIRE(weight.find(dir) != std::string::npos, source_, ": layer '", layer, "' weight ", i + 1, " is '",
                   weight, "', expected the ", dir, " LSTM's ", keras_name);
      }
      out[engine_name] = read_dataset(group.get(), layer, weight, expected.at(engine_name));
    }
  }

  Tensor read_dataset(hid_t group, const std::string& layer, const std::string& weight, const Shape& shape) const {
    const std::string what = "weight '" + weight + "' of layer '" + layer + "'";
    H5Handle ds(H5Dopen2(group, weight.c_str(), H5P_DEFAULT), H5Dclose);
    check(ds.ok(), what + " is missing");
    H5Handle type(H5Dget_type(ds.get()), H5Tclose);
    H5Handle space(H5Dget_space(ds.get()), H5Sclose);
    check(type.ok() && space.ok(), "cannot read the type of " + what);
    GN_REQUIRE(H5Tget_class(type.get()) == H5T_FLOAT, source_, ": ", what,
               " is not floating point (the engine reads float32 weights)");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    check(rank >= 0, "cannot read the shape of " + what);
    GN_REQUIRE(H5Sget_simple_extent_type(space.get()) == H5S_SIMPLE || rank == 0, source_, ": ", what,
               " has no simple shape");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0) check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) == rank, "cannot read the shape of " + what);
    bool same = rank == shape.rank();
    for (int d = 0; same && d < rank; ++d) same = dims[d] == static_cast<hsize_t>(shape[d]);
    if (!same) {
      std::string found = "(";
      for (int d = 0; d < rank; ++d) found += (d ? ", " : "") + std::to_string(dims[d]);
      GN_FAIL(source_, ": ", what, " has shape ", found, rank == 1 ? ",)" : ")", " but the architecture needs ",
              shape.str());
    }
    // The only allocation is the expected shape's, never a size taken from the file.
    Tensor t = Tensor::empty(shape);
    check(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()) >= 0, "cannot read " + what);
    const float* p = t.data();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      GN_REQUIRE(std::isfinite(p[i]), source_, ": ", what, " holds a non-finite value at flat index ", i);
    return t;
  }

  std::string source_;
  // Members, so a constructor that throws half-way still closes what it opened.
  H5Handle file_{-1, H5Fclose};
  H5Handle root_{-1, H5Gclose};
};

}  // namespace

namespace {

void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the parent went away; nothing left to tell
    done += static_cast<std::size_t>(w);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buffer, sizeof buffer);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(r));
  }
}

}  // namespace

// libhdf5 1.10 (Debian 12's) is not hardened against hostile files: fuzzing finds heap
// over-reads inside its object-header and global-heap decoders within seconds, which GenreNet
// cannot fix. So the HDF5 parsing runs in a forked child process: a crash or sanitizer abort
// there becomes one clear error here, and whatever the library read out of bounds stays in the
// child. The child sends back either "T" + safetensors bytes or "E" + the error message, and
// the parent checks the tensors' names and shapes again before using them.
std::map<std::string, Tensor> read_keras_weights(const std::string& h5_bytes, const KerasArchitecture& arch,
                                                 const std::string& source) {
  int fds[2];
  GN_REQUIRE(::pipe(fds) == 0, source, ": cannot create a pipe (", std::strerror(errno), ")");
  std::fflush(nullptr);  // no buffered output duplicated into the child
  const pid_t pid = ::fork();
  if (pid < 0) {
    const std::string why = std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    GN_FAIL(source, ": cannot start the HDF5 reader process (", why, ")");
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::string reply;
    try {
      Hdf5Errors quiet;
      WeightsReader reader(h5_bytes, source);
      reply = "T" + serialize_safetensors(reader.read(arch), {});
    } catch (const Error& e) {
      reply = std::string("E") + e.what();
    } catch (const std::exception& e) {
      reply = "E" + source + ": reading the weights failed (" + e.what() + ")";
    }
    write_all(fds[1], reply);
    ::close(fds[1]);
    ::_exit(0);  // no atexit handlers, no destructors of the parent's state
  }
  ::close(fds[1]);
  const std::string reply = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || reply.empty())
    GN_FAIL(source, ": the HDF5 library failed while reading this file (",
            WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status)) : "exit status " + std::to_string(WEXITSTATUS(status)),
            "): the file is corrupt");
  if (reply[0] == 'E') throw Error(reply.substr(1));
  GN_REQUIRE(reply[0] == 'T', source, ": the HDF5 reader process answered nonsense");
  std::map<std::string, Tensor> tensors = parse_safetensors(reply.substr(1), source).tensors;
  const std::vector<TensorSpec> specs = rcnn_tensor_specs(arch.config);
  GN_REQUIRE(tensors.size() == specs.size(), source, ": the HDF5 reader returned ", tensors.size(), " tensors, expected ",
             specs.size());
  for (const TensorSpec& spec : specs)
    GN_REQUIRE(tensors.count(spec.name) && tensors.at(spec.name).shape() == spec.shape, source,
               ": the HDF5 reader returned no ", spec.shape.str(), " tensor '", spec.name, "'");
  return tensors;
}

}  // namespace gn
