// Bidirectional LSTM with Keras semantics: Bidirectional(LSTM(units, return_sequences=...),
// merge_mode="concat"). Gates i, f, c, o; sigmoid gates, tanh candidate, tanh on the cell
// before the output gate; zero initial states; z_t = x_t W + h_{t-1} U + b.
//
// Parameters (Keras layouts, so checkpoints read like the HDF5), for d in {fwd, bwd}:
//   <name>.d.kernel (In, 4U)   <name>.d.recurrent_kernel (U, 4U)   <name>.d.bias (4U)
// The backward direction runs over the reversed sequence; with return_sequences its outputs
// are re-reversed, so y[:, t] = concat(h_fwd[t], h_bwd[t]). Without, y = concat(h_fwd at
// t = T-1, h_bwd after the whole reversed sequence, i.e. at original t = 0).
//
//   x (N, T, In)  ->  y (N, T, 2U) with return_sequences, else (N, 2U)
//
// CPU (bilstm.cpp): the input projection of all steps is one GEMM per direction, then one
// recurrent GEMM per step with the gate math fused after it (kernels/lstm.h); the two
// directions run on two cores with single-threaded OpenBLAS inside each. Backward is
// backpropagation through time over what forward saved (gate activations, cells, hiddens).
// CUDA (bilstm.cu): cuDNN's RNN v8 API, the Keras weights packed into cuDNN's weight space.
//
// A layer instance keeps what forward saved for backward, so one instance serves one
// position in a model (the two layers of the RCNN are two instances). Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/context.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/layer.h"

namespace gn {

class BiLSTM {
 public:
  // name: the parameter prefix and the name in error messages ("rnn.lstm1").
  BiLSTM(std::string name, std::int64_t input_size, std::int64_t units, bool return_sequences);
  ~BiLSTM();
  BiLSTM(BiLSTM&&) noexcept;
  BiLSTM& operator=(BiLSTM&&) noexcept;

  const std::string& name() const { return name_; }
  std::int64_t input_size() const { return input_; }
  std::int64_t units() const { return units_; }
  bool return_sequences() const { return return_sequences_; }

  // Declares the six parameters (see above) in `store`.
  void declare(ParameterStore& store) const;
  // (N, T, In) -> (N, T, 2U) or (N, 2U); throws naming the layer for a wrong input shape.
  Shape output_shape(const Shape& input) const;

  // y: written in place when it already has the output shape on ctx's device, else replaced
  // by a new tensor. Train mode keeps what backward needs; Infer mode may discard it.
  void forward(Context& ctx, const ParameterStore& store, const Tensor& x, Tensor& y,
               Mode mode = Mode::Train);
  // After forward(..., Mode::Train) with the same x: dy has the output's shape. Overwrites the
  // six parameter gradients in `store`, and dx (N, T, In) when dx is not null (written in
  // place when it has the right shape, else replaced).
  void backward(Context& ctx, ParameterStore& store, const Tensor& x, const Tensor& dy, Tensor* dx);

  // Saved state of the CPU or CUDA path (defined in bilstm.cpp / bilstm.cu).
  struct CpuState;
  struct CudaState;
  struct CudaStateDeleter {
    void operator()(CudaState* state) const;  // defined beside CudaState
  };
  using CudaStatePtr = std::unique_ptr<CudaState, CudaStateDeleter>;

 private:
  void check_input(const Shape& x) const;

  std::string name_;
  std::int64_t input_, units_;
  bool return_sequences_;
  std::unique_ptr<CpuState> cpu_;
  CudaStatePtr cuda_;
};

#if GENRENET_WITH_CUDA
// The CUDA twins, defined in layers/bilstm.cu.
namespace cuda {
void forward(const BiLSTM& layer, BiLSTM::CudaStatePtr& state, Context& ctx,
             const ParameterStore& store, const Tensor& x, Tensor& y, Mode mode);
void backward(const BiLSTM& layer, BiLSTM::CudaStatePtr& state, Context& ctx,
              ParameterStore& store, const Tensor& x, const Tensor& dy, Tensor* dx);
}  // namespace cuda
#endif

}  // namespace gn
