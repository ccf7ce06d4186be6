// BiLSTM, CPU reference (the CUDA twin is bilstm.cu). See bilstm.h for the contract.
//
// Internal buffers are time-major (T, N, .) and indexed by ORIGINAL time for both directions,
// so one step's rows are contiguous, the backward direction needs no reversal copies (it just
// walks t = T-1 .. 0), and its outputs land re-reversed for free. Per direction d:
//   gates (T, N, 4U)  preactivations, then the activations i, f, g, o (kept for backward)
//   c, h  (T, N, U)   cell and hidden states
//   dz    (T, N, 4U)  preactivation gradients (backward)
// Costs per direction: one (T*N, In) x (In, 4U) input GEMM, T (N, U) x (U, 4U) recurrent GEMMs;
// backward T (N, 4U) x (4U, U) GEMMs, then dW, dU, dx as one GEMM each over all steps.
#include "layers/bilstm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "kernels/lstm.h"
#include "layers/scratch.h"

namespace gn {

namespace {
const char* const kDirections[2] = {"fwd", "bwd"};

std::string param_name(const std::string& layer, int d, const char* what) {
  return layer + "." + kDirections[d] + "." + what;
}

// One direction's parameters (W (In, 4U), R (U, 4U), b (4U)) and their gradients.
struct Weights {
  const float *W, *R, *b;
};
struct Gradients {
  float *W, *R, *b;
};
// Looks the parameters up and checks their shapes against the layer's (In, U).
Weights weights(const ParameterStore& store, const std::string& layer, int d, index_t in, index_t units) {
  const Tensor W = store.param(param_name(layer, d, "kernel"));
  const Tensor R = store.param(param_name(layer, d, "recurrent_kernel"));
  const Tensor b = store.param(param_name(layer, d, "bias"));
  check_shape(layer, param_name(layer, d, "kernel"), W.shape(), Shape{in, 4 * units});
  check_shape(layer, param_name(layer, d, "recurrent_kernel"), R.shape(), Shape{units, 4 * units});
  check_shape(layer, param_name(layer, d, "bias"), b.shape(), Shape{4 * units});
  return {W.data(), R.data(), b.data()};
}
Gradients gradients(ParameterStore& store, const std::string& layer, int d) {
  return {store.grad(param_name(layer, d, "kernel")).data(),
          store.grad(param_name(layer, d, "recurrent_kernel")).data(),
          store.grad(param_name(layer, d, "bias")).data()};
}

// Runs body(0) and body(1) (the two directions) on two threads when the machine has two,
// with OpenBLAS single-threaded inside each (its own pool would fight the two threads for the
// same cores, and these GEMMs are too small to split well). The BLAS thread count is global
// state of OpenBLAS: restored afterwards for the rest of the engine.
template <class F>
void for_both_directions(F body) {
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
  const bool parallel = omp_get_max_threads() >= 2;
#pragma omp parallel for num_threads(2) schedule(static, 1) if (parallel)
  for (int d = 0; d < 2; ++d) body(d);
  openblas_set_num_threads(blas_threads);
}

// C (M, Nc) = alpha op(A) op(B) + beta C, row-major (a thin spelling of cblas_sgemm).
void gemm(bool ta, bool tb, index_t m, index_t n, index_t k, const float* a, index_t lda,
          const float* b, index_t ldb, float beta, float* c, index_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

// One time step's cell math over rows x U, unit loop vectorised. Cloned per ISA (chosen once
// at load time): the gate math is O(N T U) but transcendental, and at 4-wide SSE2 it costs
// as much as the recurrent GEMM. Each clone computes every element with the same formula, so
// results do not depend on the vector width... except through FMA contraction, which ISO C++
// mode (-std=c++20, -ffp-contract=off) does not do.
__attribute__((target_clones("avx512f", "avx2", "default"))) void cell_forward(const fn::LstmCellForward& cell,
                                                                                index_t rows) {
  for (index_t r = 0; r < rows; ++r) {
#pragma omp simd
    for (index_t j = 0; j < cell.units; ++j) cell.apply(r, j);
  }
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void cell_backward(const fn::LstmCellBackward& cell,
                                                                                 index_t rows) {
  for (index_t r = 0; r < rows; ++r) {
#pragma omp simd
    for (index_t j = 0; j < cell.units; ++j) cell.apply(r, j);
  }
}

}  // namespace

struct BiLSTM::CpuState {
  index_t n = 0, steps = 0;
  bool trained = false;  // forward ran in Train mode: backward may follow
  Tensor xt;             // (T, N, In) the input, time-major
  struct Direction {
    Tensor gates, c, h, dz, dxt;  // see the top of this file; dxt (T, N, In)
    Tensor dh, dc;                // (N, U) backward carries
    Tensor zeros;                 // (N, U) the zero initial cell state
  } dir[2];
};

#if !GENRENET_WITH_CUDA
void BiLSTM::CudaStateDeleter::operator()(CudaState*) const {}  // never holds one
#endif

BiLSTM::BiLSTM(std::string name, std::int64_t input_size, std::int64_t units, bool return_sequences)
    : name_(std::move(name)), input_(input_size), units_(units), return_sequences_(return_sequences) {
  GN_REQUIRE(input_size > 0 && units > 0, name_, ": input size (", input_size, ") and units (",
             units, ") must be positive");
}
BiLSTM::~BiLSTM() = default;
BiLSTM::BiLSTM(BiLSTM&&) noexcept = default;
BiLSTM& BiLSTM::operator=(BiLSTM&&) noexcept = default;

void BiLSTM::declare(ParameterStore& store) const {
  for (int d = 0; d < 2; ++d) {
    store.declare(param_name(name_, d, "kernel"), Shape{input_, 4 * units_});
    store.declare(param_name(name_, d, "recurrent_kernel"), Shape{units_, 4 * units_});
    store.declare(param_name(name_, d, "bias"), Shape{4 * units_});
  }
}

void BiLSTM::check_input(const Shape& x) const {
  GN_REQUIRE(x.rank() == 3 && x[2] == input_ && x[0] > 0 && x[1] > 0, name_, ": input has shape ",
             x.str(), ", expected (N, T, ", input_, ") with N, T > 0");
}

Shape BiLSTM::output_shape(const Shape& x) const {
  check_input(x);
  return return_sequences_ ? Shape{x[0], x[1], 2 * units_} : Shape{x[0], 2 * units_};
}

void BiLSTM::forward(Context& ctx, const ParameterStore& store, const Tensor& x, Tensor& y, Mode mode) {
  const Shape out_shape = output_shape(x.shape());
  GN_REQUIRE(x.device() == ctx.device() && store.device() == ctx.device(), name_, ": input on ",
             x.device().str(), " and parameters on ", store.device().str(), " with a ",
             ctx.device().str(), " context");
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::forward(*this, cuda_, ctx, store, x, y, mode);
#endif
  if (!cpu_) cpu_ = std::make_unique<CpuState>();
  CpuState& s = *cpu_;
  const index_t N = x.dim(0), T = x.dim(1), In = input_, U = units_, G = 4 * U;
  s.n = N;
  s.steps = T;
  s.trained = false;
  ensure_tensor(y, out_shape, ctx.device());

  // x (N, T, In) -> xt (T, N, In): makes every step's rows one contiguous block.
  ensure_tensor(s.xt, Shape{T, N, In}, Device::cpu());
  for (index_t n = 0; n < N; ++n)
    for (index_t t = 0; t < T; ++t)
      std::memcpy(s.xt.data() + (t * N + n) * In, x.data() + (n * T + t) * In, In * sizeof(float));
  for (auto& dir : s.dir) {
    ensure_tensor(dir.gates, Shape{T, N, G}, Device::cpu());
    ensure_tensor(dir.c, Shape{T, N, U}, Device::cpu());
    ensure_tensor(dir.h, Shape{T, N, U}, Device::cpu());
    if (!dir.zeros.defined() || dir.zeros.shape() != Shape{N, U}) dir.zeros = Tensor::zeros(Shape{N, U});
  }
  const float* xt = s.xt.data();
  float* yp = y.data();
  const bool seq = return_sequences_;
  // Parameter look-ups may throw (a store without this layer): never inside the threads.
  const Weights w[2] = {weights(store, name_, 0, In, U), weights(store, name_, 1, In, U)};

  for_both_directions([&](int d) {
    CpuState::Direction& dir = s.dir[d];
    const float* W = w[d].W;
    const float* R = w[d].R;
    const float* b = w[d].b;
    float* gates = dir.gates.data();
    float* c = dir.c.data();
    float* h = dir.h.data();
    // Preactivations of every step at once: gates = b + xt W.
    for (index_t r = 0; r < T * N; ++r) std::memcpy(gates + r * G, b, G * sizeof(float));
    gemm(false, false, T * N, G, In, xt, In, W, G, 1.0f, gates, G);
    // The recurrence: fwd walks t = 0 .. T-1, bwd walks t = T-1 .. 0 (its "previous" is t+1).
    for (index_t s_ = 0; s_ < T; ++s_) {
      const index_t t = d == 0 ? s_ : T - 1 - s_;
      const index_t p = d == 0 ? t - 1 : t + 1;
      float* z = gates + t * N * G;
      if (s_ > 0) gemm(false, false, N, G, U, h + p * N * U, U, R, G, 1.0f, z, G);
      // Last-state mode has no per-step output: the cell writes h twice instead of branching.
      const fn::LstmCellForward cell{z, s_ > 0 ? c + p * N * U : dir.zeros.data(), c + t * N * U, h + t * N * U,
                                     seq ? yp + t * 2 * U + d * U : h + t * N * U, U, G, U, U, seq ? T * 2 * U : U};
      cell_forward(cell, N);
    }
    if (!seq) {  // last state: fwd at t = T-1, bwd at t = 0
      const float* hl = h + (d == 0 ? T - 1 : 0) * N * U;
      for (index_t n = 0; n < N; ++n) std::memcpy(yp + n * 2 * U + d * U, hl + n * U, U * sizeof(float));
    }
  });
  s.trained = mode == Mode::Train;
}

void BiLSTM::backward(Context& ctx, ParameterStore& store, const Tensor& x, const Tensor& dy, Tensor* dx) {
  const Shape out_shape = output_shape(x.shape());
  check_shape(name_, "output gradient", dy.shape(), out_shape);
  GN_REQUIRE(x.device() == ctx.device() && dy.device() == ctx.device() && store.device() == ctx.device(),
             name_, ": backward tensors must be on the context's device (", ctx.device().str(), ")");
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::backward(*this, cuda_, ctx, store, x, dy, dx);
#endif
  GN_REQUIRE(cpu_ && cpu_->trained, name_, ": backward needs a forward in Train mode first");
  CpuState& s = *cpu_;
  const index_t N = x.dim(0), T = x.dim(1), In = input_, U = units_, G = 4 * U;
  GN_REQUIRE(N == s.n && T == s.steps, name_, ": backward input has shape ", x.shape().str(),
             " but forward saw ", Shape{s.n, s.steps, In}.str());
  for (auto& dir : s.dir) {
    ensure_tensor(dir.dz, Shape{T, N, G}, Device::cpu());
    ensure_tensor(dir.dh, Shape{N, U}, Device::cpu());
    ensure_tensor(dir.dc, Shape{N, U}, Device::cpu());
    if (dx) ensure_tensor(dir.dxt, Shape{T, N, In}, Device::cpu());
  }
  const float* xt = s.xt.data();
  const float* dyp = dy.data();
  const bool seq = return_sequences_;
  const Weights w[2] = {weights(store, name_, 0, In, U), weights(store, name_, 1, In, U)};
  const Gradients g[2] = {gradients(store, name_, 0), gradients(store, name_, 1)};

  for_both_directions([&](int d) {
    CpuState::Direction& dir = s.dir[d];
    const float* W = w[d].W;
    const float* R = w[d].R;
    float* dW = g[d].W;
    float* dR = g[d].R;
    float* db = g[d].b;
    const float* gates = dir.gates.data();
    const float* c = dir.c.data();
    const float* h = dir.h.data();
    float* dz = dir.dz.data();
    float* dh = dir.dh.data();
    float* dc = dir.dc.data();
    std::fill_n(dc, N * U, 0.0f);
    // Reverse of the forward walk: fwd t = T-1 .. 0, bwd t = 0 .. T-1.
    for (index_t s_ = T - 1; s_ >= 0; --s_) {
      const index_t t = d == 0 ? s_ : T - 1 - s_;
      const index_t p = d == 0 ? t - 1 : t + 1;     // previous step (forward order)
      const index_t nx = d == 0 ? t + 1 : t - 1;    // next step, already done here
      // dh = the output's gradient at t + dz_next R^T (the recurrence into step next).
      if (seq) {
        for (index_t n = 0; n < N; ++n)
          std::memcpy(dh + n * U, dyp + (n * T + t) * 2 * U + d * U, U * sizeof(float));
      } else if (s_ == T - 1) {
        for (index_t n = 0; n < N; ++n) std::memcpy(dh + n * U, dyp + n * 2 * U + d * U, U * sizeof(float));
      } else {
        std::fill_n(dh, N * U, 0.0f);
      }
      if (s_ < T - 1) gemm(false, true, N, U, G, dz + nx * N * G, G, R, G, 1.0f, dh, U);
      const fn::LstmCellBackward cell{dz + t * N * G, dc, dh, gates + t * N * G, c + t * N * U,
                                      s_ > 0 ? c + p * N * U : dir.zeros.data(), U, G, U, U};
      cell_backward(cell, N);
    }
    // Weight gradients over all steps at once.
    gemm(true, false, In, G, T * N, xt, In, dz, G, 0.0f, dW, G);  // dW = xt^T dz
    // dR = sum over steps with a previous step of h_prev^T dz_t: in time-major order the
    // pairs are two contiguous blocks, (h[0..T-2], dz[1..T-1]) for fwd, shifted for bwd.
    if (T > 1) {
      const float* hp = d == 0 ? h : h + N * U;
      const float* dzt = d == 0 ? dz + N * G : dz;
      gemm(true, false, U, G, (T - 1) * N, hp, U, dzt, G, 0.0f, dR, G);
    } else {
      std::fill_n(dR, U * G, 0.0f);
    }
    std::fill_n(db, G, 0.0f);
    for (index_t r = 0; r < T * N; ++r)
      for (index_t j = 0; j < G; ++j) db[j] += dz[r * G + j];
    if (dx) gemm(false, true, T * N, In, G, dz, G, W, G, 0.0f, dir.dxt.data(), In);  // dz W^T
  });

  if (dx) {  // dx (N, T, In) = sum of both directions' time-major contributions
    ensure_tensor(*dx, x.shape(), ctx.device());
    const float* a = s.dir[0].dxt.data();
    const float* b = s.dir[1].dxt.data();
    float* out = dx->data();
    for (index_t n = 0; n < N; ++n)
      for (index_t t = 0; t < T; ++t) {
        const index_t src = (t * N + n) * In, dst = (n * T + t) * In;
        for (index_t k = 0; k < In; ++k) out[dst + k] = a[src + k] + b[src + k];
      }
  }
}

}  // namespace gn
