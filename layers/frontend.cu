// The spectrogram front-end on CUDA: cuFFT for the transforms, the functors of
// kernels/frontend.h for everything between them (one fused kernel per step: pad/truncate,
// magnitude+mirror, framing+window, magnitude+log+standardise+layout). Clips and spectrograms
// stay on the device; everything runs on the context's stream.
#include <cufft.h>

#include <map>
#include <mutex>
#include <tuple>

#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "kernels/frontend.h"
#include "layers/frontend.h"

namespace gn::cuda {
namespace {

// Batched real-to-complex plans, made once per (device, stream, size, batch) and reused;
// destroyed with the cache (RAII). A plan owns a work area, so two streams never share one.
// Also holds each device's Hann window.
class PlanCache {
 public:
  ~PlanCache() {
    for (auto& [key, plan] : plans_) cufftDestroy(plan);  // at exit: errors are moot
  }
  cufftHandle plan(int device, cudaStream_t stream, int n, int batch) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto key = std::make_tuple(device, stream, n, batch);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      if (plans_.size() >= kMaxPlans) {  // bounded: odd batch sizes must not pile up plans
        for (auto& [k, p] : plans_) cufftDestroy(p);
        plans_.clear();
      }
      cufftHandle h = 0;
      GN_CHECK_CUFFT(cufftPlan1d(&h, n, CUFFT_R2C, batch));
      it = plans_.emplace(key, h).first;
    }
    GN_CHECK_CUFFT(cufftSetStream(it->second, stream));
    return it->second;
  }
  const Tensor& window(int device, int n) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto key = std::make_pair(device, n);
    auto it = windows_.find(key);
    if (it == windows_.end()) {
      // Periodic Hann computed in double on the host, exactly as the CPU path does.
      std::vector<float> w(n);
      for (int j = 0; j < n; ++j) w[j] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * M_PI * j / n));
      it = windows_.emplace(key, Tensor::from_vector(Shape{n}, w, Device::cuda(device))).first;
    }
    return it->second;
  }

 private:
  static constexpr std::size_t kMaxPlans = 32;
  std::mutex mutex_;
  std::map<std::tuple<int, cudaStream_t, int, int>, cufftHandle> plans_;
  std::map<std::pair<int, int>, Tensor> windows_;
};

PlanCache& cache() {
  static PlanCache* c = new PlanCache;  // leaked on purpose: outlives static tensors and the runtime
  return *c;
}

cufftComplex* as_complex(Tensor& t) { return reinterpret_cast<cufftComplex*>(t.data()); }

// |STFT| of signal (N, len) into out (N, frames, bins) in the model's layout.
void stft_image(Context& ctx, float* out, const float* signal, index_t N, index_t len, index_t hop,
                const FrontendConfig& c, const float* mean, const float* stddev) {
  const cudaStream_t stream = stream_of(ctx);
  const int device = ctx.device().index;
  const index_t T = c.frames, nfft = c.n_fft, bins = c.bins();
  Tensor frames = Tensor::empty(Shape{N * T, nfft}, ctx.device());
  Tensor spec = Tensor::empty(Shape{N * T, bins, 2}, ctx.device());
  const Tensor& window = cache().window(device, static_cast<int>(nfft));
  gn::cuda::for_each(stream, N * T * nfft, fn::FrameWindow{frames.data(), signal, window.data(), len, hop, T, nfft});
  cufftHandle plan = cache().plan(device, stream, static_cast<int>(nfft), static_cast<int>(N * T));
  GN_CHECK_CUFFT(cufftExecR2C(plan, frames.data(), as_complex(spec)));
  gn::cuda::for_each(stream, N * T * bins,
                     fn::SpectrumToImage{out, spec.data(), mean, stddev, T, bins, c.log_floor, c.name == "seed"});
}

}  // namespace

void compute(Context& ctx, Tensor& out, const Tensor& clips, const FrontendConfig& c, bool normalize) {
  const index_t N = clips.dim(0), len = clips.dim(1);
  if (N == 0) return;
  GN_REQUIRE(N * c.frames <= (index_t{1} << 30), "front-end: batch of ", N, " clips is too large for one cuFFT plan");
  if (c.name == "seed") {
    const cudaStream_t stream = stream_of(ctx);
    const index_t F = c.seed_fft_size;
    Tensor padded = Tensor::empty(Shape{N, F}, ctx.device());
    Tensor half = Tensor::empty(Shape{N, F / 2 + 1, 2}, ctx.device());
    Tensor magnitude = Tensor::empty(Shape{N, F}, ctx.device());
    gn::cuda::for_each(stream, N * F, fn::PadOrTruncate{padded.data(), clips.data(), len, F});
    cufftHandle plan = cache().plan(ctx.device().index, stream, static_cast<int>(F), static_cast<int>(N));
    GN_CHECK_CUFFT(cufftExecR2C(plan, padded.data(), as_complex(half)));
    gn::cuda::for_each(stream, N * F, fn::MirroredMagnitude{magnitude.data(), half.data(), F});
    stft_image(ctx, out.data(), magnitude.data(), N, F, c.seed_hop, c, nullptr, nullptr);
    return;
  }
  Tensor mean, stddev;
  if (normalize && c.normalized()) {
    mean = Tensor::from_vector(Shape{c.bins()}, c.mean, ctx.device());
    stddev = Tensor::from_vector(Shape{c.bins()}, c.stddev, ctx.device());
  }
  stft_image(ctx, out.data(), clips.data(), N, len, len / c.frames, c, mean.defined() ? mean.data() : nullptr,
             stddev.defined() ? stddev.data() : nullptr);
}

void normalize(Context& ctx, Tensor& x, const FrontendConfig& c) {
  const Tensor mean = Tensor::from_vector(Shape{c.bins()}, c.mean, ctx.device());
  const Tensor stddev = Tensor::from_vector(Shape{c.bins()}, c.stddev, ctx.device());
  gn::cuda::for_each(stream_of(ctx), x.numel(), fn::NormalizeBins{x.data(), mean.data(), stddev.data(), c.bins()});
}

}  // namespace gn::cuda
