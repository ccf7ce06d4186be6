#include "layers/init.h"

#include <cmath>
#include <vector>

#include "engine/error.h"
#include "kernels/philox.h"

namespace gn::init {
namespace {
void upload(Tensor& w, const std::vector<float>& host) {
  w.copy_from(Tensor::external(const_cast<float*>(host.data()), w.shape(), Device::cpu()));
}
}  // namespace

double philox_normal(std::uint64_t seed, std::uint32_t stream, std::int64_t i) {
  // Box-Muller on two uniforms of one Philox block; (0, 1] for the log.
  const Philox4x32 r = philox_block(seed, 0, stream, static_cast<std::uint64_t>(i));
  const double u1 = (static_cast<double>(r.v[0]) + 1.0) / 4294967296.0;
  const double u2 = static_cast<double>(r.v[1]) / 4294967296.0;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

void glorot_uniform(Tensor& w, std::uint64_t seed, std::uint32_t stream) {
  GN_REQUIRE(w.rank() >= 2, "glorot_uniform needs a kernel of rank >= 2, got ", w.shape().str());
  std::int64_t rf = 1;
  for (int a = 0; a < w.rank() - 2; ++a) rf *= w.dim(a);
  const double fan_in = static_cast<double>(rf * w.dim(-2)), fan_out = static_cast<double>(rf * w.dim(-1));
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  std::vector<float> host(static_cast<std::size_t>(w.numel()));
  for (std::int64_t i = 0; i < w.numel(); ++i)
    host[i] = static_cast<float>(-limit + 2.0 * limit * philox_uniform(seed, 0, stream, i));
  upload(w, host);
}

void orthogonal(Tensor& w, std::uint64_t seed, std::uint32_t stream) {
  GN_REQUIRE(w.rank() == 2, "orthogonal needs a matrix, got ", w.shape().str());
  const std::int64_t rows = w.dim(0), cols = w.dim(1);
  const std::int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  // a (m, n) normal, column-major in `q` (column j at q[j*m .. j*m + m)).
  std::vector<double> q(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m * n; ++i) q[i] = philox_normal(seed, stream, i);
  // Modified Gram-Schmidt = thin QR; diag(R) > 0 by construction, which is exactly Keras's
  // sign fix q *= sign(diag(r)).
  for (std::int64_t j = 0; j < n; ++j) {
    double* qj = &q[j * m];
    for (std::int64_t k = 0; k < j; ++k) {
      const double* qk = &q[k * m];
      double dot = 0;
      for (std::int64_t i = 0; i < m; ++i) dot += qk[i] * qj[i];
      for (std::int64_t i = 0; i < m; ++i) qj[i] -= dot * qk[i];
    }
    double norm = 0;
    for (std::int64_t i = 0; i < m; ++i) norm += qj[i] * qj[i];
    norm = std::sqrt(norm);
    GN_REQUIRE(norm > 1e-12, "orthogonal: degenerate random matrix");
    for (std::int64_t i = 0; i < m; ++i) qj[i] /= norm;
  }
  // Q is (m, n) with orthonormal columns. rows >= cols: w = Q; else w = Q^T (n = rows).
  std::vector<float> host(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      host[r * cols + c] = static_cast<float>(rows >= cols ? q[c * m + r] : q[r * m + c]);
  upload(w, host);
}

void constant(Tensor& w, float value) {
  std::vector<float> host(static_cast<std::size_t>(w.numel()), value);
  upload(w, host);
}

void declared(ParameterStore& store, std::uint64_t seed) {
  const auto& entries = store.entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ParameterStore::Entry& e = entries[i];
    const std::uint32_t stream = static_cast<std::uint32_t>(i) + 1000;  // one stream per tensor
    const ParameterStore::Handle h = store.handle(e.name);
    Tensor t = e.kind == ParameterStore::Kind::Parameter ? store.param(h) : store.buffer(h);
    switch (e.init) {
      case Init::Zeros: constant(t, 0.0f); break;
      case Init::Ones: constant(t, 1.0f); break;
      case Init::GlorotUniform: glorot_uniform(t, seed, stream); break;
      case Init::Orthogonal: orthogonal(t, seed, stream); break;
      case Init::UnitForgetBias: {
        // Keras's unit_forget_bias: zeros, with the forget gate's slice [U, 2U) of (4U) set to 1.
        GN_REQUIRE(t.rank() == 1 && t.numel() % 4 == 0, e.name, ": a unit-forget bias must be (4U), got ",
                   t.shape().str());
        const std::int64_t u = t.numel() / 4;
        std::vector<float> host(static_cast<std::size_t>(t.numel()), 0.0f);
        for (std::int64_t j = u; j < 2 * u; ++j) host[static_cast<std::size_t>(j)] = 1.0f;
        upload(t, host);
        break;
      }
    }
  }
}

}  // namespace gn::init
