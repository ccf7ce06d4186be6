// genrenet._genrenet: the C++ engine as a Python extension (nanobind). The same Predictor and
// front-ends `genrenet predict` uses; python/genrenet/__init__.py is the documented API on top.
//
// Threads: every call that computes releases the GIL, so other Python threads run meanwhile.
// A Model's Predictor keeps scratch tensors, so calls on one Model are serialised by a mutex;
// two Models predict truly in parallel.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/error.h"
#include "engine/threads.h"
#include "engine/version.h"
#include "layers/frontend.h"
#include "data/audio.h"
#include "serve/predictor.h"

namespace nb = nanobind;

namespace {

using FloatArray = nb::ndarray<nb::numpy, float>;

// A NumPy array that owns `values` (moved into a capsule): no copy on the way out.
template <class T>
nb::ndarray<nb::numpy, T> to_numpy(std::vector<T>&& values, std::vector<std::size_t> shape) {
  auto* owner = new std::vector<T>(std::move(values));
  nb::capsule free_owner(owner, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owner->data(), shape.size(), shape.data(), free_owner);
}

std::string shape_str(const nb::ndarray<>& a) {
  std::string s = "(";
  for (std::size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string dtype_str(const nb::ndarray<>& a) {
  const nb::dlpack::dtype d = a.dtype();
  const char* kind = d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Float) ? "float"
                     : d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Int) ? "int"
                     : d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::UInt) ? "uint"
                     : d.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Bool) ? "bool"
                                                                                           : "complex";
  return std::string(kind) + std::to_string(d.bits);
}

// Refuses what the engine cannot take as audio, with a message that says how to fix it.
void check_audio_array(const nb::ndarray<>& a, const char* what, std::size_t max_ndim) {
  if (a.dtype() != nb::dtype<float>())
    throw nb::type_error((std::string(what) + ": expected a float32 array, got " + dtype_str(a) +
                          " (convert with .astype(numpy.float32))").c_str());
  if (a.ndim() < 1 || a.ndim() > max_ndim)
    throw nb::value_error((std::string(what) + ": expected " +
                           (max_ndim == 1 ? "a 1-D mono signal (samples,)"
                                          : "a 1-D clip (samples,) or a 2-D batch of clips (clips, samples)") +
                           ", got shape " + shape_str(a) + (max_ndim == 1 ? " (mix channels down first)" : ""))
                              .c_str());
  if (a.device_type() != nb::device::cpu::value)
    throw nb::value_error((std::string(what) + ": expected an array in host memory").c_str());
  std::int64_t stride = 1;  // C-contiguous, in elements
  for (std::size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) > 1 && a.stride(i) != stride)
      throw nb::value_error((std::string(what) + ": expected a C-contiguous array (use numpy.ascontiguousarray)").c_str());
    stride *= static_cast<std::int64_t>(a.shape(i));
  }
  if (a.size() == 0) throw nb::value_error((std::string(what) + ": the array is empty").c_str());
}

// `samples` (mono) at `rate` -> 22050 Hz, the rate every front-end assumes.
std::vector<float> at_22050(const float* samples, std::size_t n, int rate, const std::string& source) {
  std::vector<float> v(samples, samples + n);
  return rate == gn::kSampleRate ? v : gn::to_mono_22050(v, 1, rate, source);
}

class Model {
 public:
  Model(const std::string& path, const std::string& device) {
    nb::gil_scoped_release released;
    std::string checkpoint = path;
    if (std::filesystem::is_directory(path)) {  // a run folder from `genrenet train` / `demo`
      checkpoint = (std::filesystem::path(path) / "best.safetensors").string();
      GN_REQUIRE(std::filesystem::exists(checkpoint), path, " is a folder without best.safetensors: give a ",
                 "checkpoint file or the folder of a finished training run");
    }
    int ordinal = 0;
    const gn::Device d = gn::select_device(gn::parse_device_request(device, &ordinal), ordinal);
    predictor_ = std::make_unique<gn::Predictor>(checkpoint, d);
  }

  std::vector<std::string> labels() const { return predictor_->labels(); }
  std::string device() const { return predictor_->device().str(); }
  std::string checkpoint() const { return predictor_->checkpoint(); }
  std::string frontend() const { return predictor_->frontend().to_json().dump(); }
  std::string clip_scheme() const { return predictor_->clip_scheme().to_json().dump(); }

  // items: file paths (str) and mono float32 arrays at `sample_rate`. Returns one tuple per song:
  // (source, seconds, genre, majority, probabilities (classes), clip probabilities (clips, classes),
  //  clip starts (clips), clip seconds).
  nb::list predict(const nb::list& items, int sample_rate, int batch) {
    GN_REQUIRE(sample_rate > 0, "sample_rate must be positive, got ", sample_rate);
    GN_REQUIRE(batch > 0, "batch must be positive, got ", batch);
    // Arrays are copied while the GIL protects them; files are decoded without it.
    std::vector<gn::Audio> songs(items.size());
    std::vector<std::string> paths(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      nb::handle item = items[i];
      if (nb::isinstance<nb::str>(item)) {
        paths[i] = nb::cast<std::string>(item);
        continue;
      }
      nb::ndarray<> a;
      if (!nb::try_cast(item, a))
        throw nb::type_error(("predict: item " + std::to_string(i) + " is neither a file path nor a NumPy array").c_str());
      const std::string name = "array " + std::to_string(i);
      check_audio_array(a, name.c_str(), 1);
      songs[i].source = name;
      songs[i].source_rate = sample_rate;
      songs[i].source_channels = 1;
      songs[i].samples.assign(static_cast<const float*>(a.data()), static_cast<const float*>(a.data()) + a.size());
    }
    std::vector<gn::SongPrediction> out;
    {
      nb::gil_scoped_release released;
      for (std::size_t i = 0; i < songs.size(); ++i) {
        if (!paths[i].empty()) {
          songs[i] = gn::decode_audio(paths[i]);
        } else if (sample_rate != gn::kSampleRate) {
          songs[i].samples = at_22050(songs[i].samples.data(), songs[i].samples.size(), sample_rate, songs[i].source);
        }
        // The message `genrenet predict` gives for a song shorter than one clip.
        GN_REQUIRE(predictor_->clip_count(songs[i]) > 0, songs[i].source, ": the song (", songs[i].seconds(),
                   " s) is shorter than one clip of ", predictor_->clip_scheme().str());
      }
      std::lock_guard<std::mutex> lock(mutex_);
      out = predictor_->predict(songs, batch);
    }
    nb::list result;
    const std::size_t classes = predictor_->labels().size();
    for (gn::SongPrediction& s : out) {
      const std::size_t clips = s.clip_probabilities.size();
      std::vector<float> clip_probs;
      clip_probs.reserve(clips * classes);
      for (const auto& row : s.clip_probabilities) clip_probs.insert(clip_probs.end(), row.begin(), row.end());
      result.append(nb::make_tuple(s.source, s.seconds, s.genre, s.majority,
                                   to_numpy(std::move(s.probabilities), {classes}),
                                   to_numpy(std::move(clip_probs), {clips, classes}),
                                   to_numpy(std::move(s.clip_starts), {clips}), s.clip_seconds));
    }
    return result;
  }

 private:
  std::unique_ptr<gn::Predictor> predictor_;
  std::mutex mutex_;
};

// audio: (samples,) one clip or (clips, samples), float32 at `sample_rate`. Returns (frames, bins)
// or (clips, frames, bins): the front-end's values before any standardisation (statistics belong
// to a trained model). At 22050 Hz the input is read in place, without a copy.
nb::ndarray<nb::numpy, float> spectrogram(nb::ndarray<> audio, int sample_rate, const std::string& frontend) {
  check_audio_array(audio, "spectrogram", 2);
  GN_REQUIRE(sample_rate > 0, "sample_rate must be positive, got ", sample_rate);
  GN_REQUIRE(frontend == "seed" || frontend == "logstft", "unknown front-end '", frontend,
             "': expected seed or logstft");
  const gn::FrontendConfig config = frontend == "seed" ? gn::FrontendConfig::seed() : gn::FrontendConfig::logstft();
  const std::int64_t clips = audio.ndim() == 2 ? static_cast<std::int64_t>(audio.shape(0)) : 1;
  const std::int64_t length = static_cast<std::int64_t>(audio.size()) / clips;
  auto* out = new gn::Tensor(gn::Tensor::empty(config.output_shape(clips)));
  nb::capsule free_out(out, [](void* p) noexcept { delete static_cast<gn::Tensor*>(p); });
  {
    nb::gil_scoped_release released;
    std::vector<float> resampled;
    gn::Tensor in;
    if (sample_rate == gn::kSampleRate) {
      in = gn::Tensor::external(static_cast<float*>(audio.data()), gn::Shape{clips, length}, gn::Device::cpu());
    } else {
      for (std::int64_t c = 0; c < clips; ++c) {
        const auto v = at_22050(static_cast<const float*>(audio.data()) + c * length, static_cast<std::size_t>(length),
                                sample_rate, "spectrogram");
        resampled.insert(resampled.end(), v.begin(), v.end());
      }
      in = gn::Tensor::external(resampled.data(), gn::Shape{clips, static_cast<std::int64_t>(resampled.size()) / clips},
                                gn::Device::cpu());
    }
    gn::Context ctx(gn::Device::cpu());
    gn::compute_spectrograms(ctx, *out, in, config, false);
  }
  std::vector<std::size_t> shape = {static_cast<std::size_t>(config.frames), static_cast<std::size_t>(config.bins())};
  if (audio.ndim() == 2) shape.insert(shape.begin(), static_cast<std::size_t>(clips));
  return nb::ndarray<nb::numpy, float>(out->data(), shape.size(), shape.data(), free_out);
}

}  // namespace

NB_MODULE(_genrenet, m) {
  m.doc() = "GenreNet's C++ engine (use the genrenet package, not this module)";
  gn::prefer_single_threaded_blas();  // the command line's thread policy (engine/threads.h)
  nb::exception<gn::Error>(m, "GenreNetError", PyExc_RuntimeError);
  nb::class_<Model>(m, "Model")
      .def(nb::init<const std::string&, const std::string&>(), nb::arg("path"), nb::arg("device") = "auto")
      .def_prop_ro("labels", &Model::labels)
      .def_prop_ro("device", &Model::device)
      .def_prop_ro("checkpoint", &Model::checkpoint)
      .def_prop_ro("frontend_json", &Model::frontend)
      .def_prop_ro("clip_scheme_json", &Model::clip_scheme)
      .def("predict", &Model::predict, nb::arg("items"), nb::arg("sample_rate"), nb::arg("batch"));
  m.def("spectrogram", &spectrogram, nb::arg("audio"), nb::arg("sample_rate"), nb::arg("frontend"));
  m.attr("version") = gn::version_string();
}
