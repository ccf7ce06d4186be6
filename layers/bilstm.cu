// BiLSTM, CUDA twin of bilstm.cpp: cuDNN 9's RNN v8 API (CUDNN_LSTM, CUDNN_BIDIRECTIONAL,
// one layer, strict FP32 via CUDNN_FMA_MATH, padded batch-major I/O).
//
// Weights: the engine keeps Keras's layouts (kernel (In, 4U), recurrent_kernel (U, 4U),
// bias (4U), gates i, f, c, o). cuDNN's weight space holds, per direction (pseudo-layer 0 =
// forward, 1 = backward) and per linear id (0-3 input matrices, 4-7 recurrent, gate order
// i, f, c(g), o like Keras), a (U, rows) row-major matrix: the transpose of the gate's Keras
// column block. Every forward packs the current parameters in (fn::LstmGateToCudnn); backward
// unpacks the weight gradients (fn::LstmGateFromCudnn). Both functors are tested on the CPU.
//
// Bias: cuDNN's DOUBLE_BIAS mode has an input bias (ids 0-3) and a recurrent one (ids 4-7);
// Keras's single bias goes in the input one and the recurrent one stays zero. Both enter z
// with coefficient 1, so each one's gradient is sum(dz): the Keras bias gradient is the input
// bias's gradient alone (adding both would double it).
//
// Output: cuDNN writes y (N, T, 2U), [fwd | bwd] with the backward direction already aligned
// to original time, which is Keras's return_sequences output. Last state: fwd at t = T-1 and
// bwd at t = 0 of that sequence (fn::BiLastStateGather; backward scatters with its adjoint).
#include <cstring>
#include <vector>

#include "engine/cuda_context.h"
#include "engine/error.h"
#include "engine/launch_cuda.cuh"
#include "kernels/lstm.h"
#include "layers/bilstm.h"
#include "layers/cudnn_util.h"
#include "layers/scratch.h"

namespace gn {

namespace {
using cudnn::DropoutDesc;
using cudnn::RnnDataDesc;
using cudnn::RnnDesc;
using cudnn::TensorDesc;

const char* const kDirections[2] = {"fwd", "bwd"};

// A positive size for cuDNN, named after the layer in the error.
int to_int(std::int64_t v, const std::string& layer, const char* what) {
  return cudnn::to_int(v, layer + ": " + what, 1);
}

// A float tensor big enough for `bytes` (cuDNN's spaces are byte counts).
Tensor bytes_tensor(std::size_t bytes, Device device) {
  const std::int64_t floats = static_cast<std::int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
  return Tensor::zeros(Shape{floats > 0 ? floats : 1}, device);
}

}  // namespace

struct BiLSTM::CudaState {
  std::int64_t n = 0, steps = 0;
  bool trained = false;
  RnnDesc rnn;
  DropoutDesc dropout;
  RnnDataDesc x_desc, y_desc;
  TensorDesc h_desc, c_desc;
  std::size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;
  Tensor weights, dweights, reserve;  // cuDNN's weight space, its gradient, the reserve space
  Tensor seq_lengths;                 // (N) int32 bit patterns on the device: every length is T
  Tensor y_seq, dy_seq, dx_scratch;   // (N, T, 2U), (N, T, 2U), (N, T, In)
  // Offsets (in floats) into the weight space: [direction][linear id 0..7] matrix, and the
  // input biases [direction][gate].
  std::int64_t matrix[2][8] = {}, bias[2][4] = {};
};

void BiLSTM::CudaStateDeleter::operator()(CudaState* state) const { delete state; }

namespace cuda {
namespace {

// Builds (or rebuilds for a new N or T) the descriptors, spaces and weight offsets.
void prepare(const BiLSTM& layer, BiLSTM::CudaStatePtr& state, Context& ctx, std::int64_t N, std::int64_t T) {
  if (state && state->n == N && state->steps == T) return;
  const std::string& name = layer.name();
  const int in = to_int(layer.input_size(), name, "input size");
  const int units = to_int(layer.units(), name, "units");
  const int batch = to_int(N, name, "batch"), steps = to_int(T, name, "sequence length");
  cudnnHandle_t handle = cudnn_of(ctx);
  BiLSTM::CudaStatePtr s(new BiLSTM::CudaState);
  s->n = N;
  s->steps = T;

  // No dropout inside a one-layer RNN: a zero-rate descriptor needs no RNG state.
  GN_CHECK_CUDNN(cudnnSetDropoutDescriptor(s->dropout.get(), handle, 0.0f, nullptr, 0, 0));
  GN_CHECK_CUDNN(cudnnSetRNNDescriptor_v8(s->rnn.get(), CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                                          CUDNN_BIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                                          CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, in, units, units, 1,
                                          s->dropout.get(), CUDNN_RNN_PADDED_IO_ENABLED));
  const std::vector<int> lengths(static_cast<std::size_t>(batch), steps);
  float zero = 0.0f;
  GN_CHECK_CUDNN(cudnnSetRNNDataDescriptor(s->x_desc.get(), CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                           steps, batch, in, lengths.data(), &zero));
  GN_CHECK_CUDNN(cudnnSetRNNDataDescriptor(s->y_desc.get(), CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                           steps, batch, 2 * units, lengths.data(), &zero));
  // Initial / final states (unused: null pointers mean zero initial states): (2 directions, N, U).
  const int hdims[3] = {2, batch, units}, hstrides[3] = {batch * units, units, 1};
  GN_CHECK_CUDNN(cudnnSetTensorNdDescriptor(s->h_desc.get(), CUDNN_DATA_FLOAT, 3, hdims, hstrides));
  GN_CHECK_CUDNN(cudnnSetTensorNdDescriptor(s->c_desc.get(), CUDNN_DATA_FLOAT, 3, hdims, hstrides));

  GN_CHECK_CUDNN(cudnnGetRNNWeightSpaceSize(handle, s->rnn.get(), &s->weight_bytes));
  std::size_t work_train = 0, work_infer = 0, reserve_infer = 0;
  GN_CHECK_CUDNN(cudnnGetRNNTempSpaceSizes(handle, s->rnn.get(), CUDNN_FWD_MODE_TRAINING, s->x_desc.get(),
                                           &work_train, &s->reserve_bytes));
  GN_CHECK_CUDNN(cudnnGetRNNTempSpaceSizes(handle, s->rnn.get(), CUDNN_FWD_MODE_INFERENCE, s->x_desc.get(),
                                           &work_infer, &reserve_infer));
  s->work_bytes = std::max(work_train, work_infer);
  const Device device = ctx.device();
  s->weights = bytes_tensor(s->weight_bytes, device);  // zeros: the recurrent biases stay 0
  s->dweights = bytes_tensor(s->weight_bytes, device);
  s->reserve = bytes_tensor(s->reserve_bytes, device);
  s->seq_lengths = Tensor::empty(Shape{N}, device);
  static_assert(sizeof(int) == sizeof(float), "seq_lengths stores int32 in a float tensor");
  copy_bytes(s->seq_lengths.data(), device, lengths.data(), Device::cpu(), lengths.size() * sizeof(int));

  // Where each gate matrix and bias lives, checked against the (U, rows) layout we pack.
  TensorDesc m_desc, b_desc;
  const char* base = reinterpret_cast<const char*>(s->weights.data());
  for (int d = 0; d < 2; ++d)
    for (int id = 0; id < 8; ++id) {
      void* m_addr = nullptr;
      void* b_addr = nullptr;
      GN_CHECK_CUDNN(cudnnGetRNNWeightParams(handle, s->rnn.get(), d, s->weight_bytes, s->weights.data(), id,
                                             m_desc.get(), &m_addr, b_desc.get(), &b_addr));
      cudnnDataType_t type;
      int rank = 0, dims[3] = {}, strides[3] = {};
      GN_CHECK_CUDNN(cudnnGetTensorNdDescriptor(m_desc.get(), 3, &type, &rank, dims, strides));
      // Expect a packed (U, rows) matrix, however cuDNN pads the 3-D descriptor with 1s.
      const int rows = id < 4 ? in : units;
      std::vector<int> shape;
      std::int64_t numel = 1;
      for (int k = 0; k < rank; ++k) {
        numel *= dims[k];
        if (dims[k] != 1) shape.push_back(dims[k]);
      }
      const bool packed_u_by_rows = numel == std::int64_t{units} * rows &&
                                    (units == 1 || rows == 1 || shape == std::vector<int>{units, rows});
      GN_REQUIRE(rank == 3 && packed_u_by_rows, name, ": unexpected cuDNN LSTM weight layout for ", kDirections[d],
                 " linear id ", id, ": (", dims[0], ", ", dims[1], ", ", dims[2], "), expected (1, ", units, ", ",
                 rows, ")");
      s->matrix[d][id] = (reinterpret_cast<const char*>(m_addr) - base) / static_cast<std::int64_t>(sizeof(float));
      if (id < 4) s->bias[d][id] = (reinterpret_cast<const char*>(b_addr) - base) / static_cast<std::int64_t>(sizeof(float));
    }
  state = std::move(s);
}

std::string pname(const BiLSTM& layer, int d, const char* what) {
  return layer.name() + "." + kDirections[d] + "." + what;
}

}  // namespace

void forward(const BiLSTM& layer, BiLSTM::CudaStatePtr& state, Context& ctx, const ParameterStore& store,
             const Tensor& x, Tensor& y, Mode mode) {
  const std::int64_t N = x.dim(0), T = x.dim(1), In = layer.input_size(), U = layer.units();
  // Parameter shapes are the layer's (a store declared for another size is a clear error).
  for (int d = 0; d < 2; ++d) {
    check_shape(layer.name(), pname(layer, d, "kernel"), store.param(pname(layer, d, "kernel")).shape(), Shape{In, 4 * U});
    check_shape(layer.name(), pname(layer, d, "recurrent_kernel"),
                store.param(pname(layer, d, "recurrent_kernel")).shape(), Shape{U, 4 * U});
    check_shape(layer.name(), pname(layer, d, "bias"), store.param(pname(layer, d, "bias")).shape(), Shape{4 * U});
  }
  prepare(layer, state, ctx, N, T);
  BiLSTM::CudaState& s = *state;
  s.trained = false;
  cudaStream_t stream = stream_of(ctx);
  float* w = s.weights.data();
  for (int d = 0; d < 2; ++d) {
    const Tensor W = store.param(pname(layer, d, "kernel"));
    const Tensor R = store.param(pname(layer, d, "recurrent_kernel"));
    const Tensor b = store.param(pname(layer, d, "bias"));
    for (int g = 0; g < 4; ++g) {
      cuda::for_each(stream, U * In, fn::LstmGateToCudnn{w + s.matrix[d][g], W.data(), In, U, g});
      cuda::for_each(stream, U * U, fn::LstmGateToCudnn{w + s.matrix[d][4 + g], R.data(), U, U, g});
      GN_CHECK_CUDA(cudaMemcpyAsync(w + s.bias[d][g], b.data() + g * U, U * sizeof(float), cudaMemcpyDeviceToDevice,
                                    stream));
    }
  }
  ensure_tensor(s.y_seq, Shape{N, T, 2 * U}, ctx.device());
  void* work = ctx.workspace(s.work_bytes);
  const bool train = mode == Mode::Train;
  GN_CHECK_CUDNN(cudnnRNNForward(cudnn_of(ctx), s.rnn.get(), train ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                                 reinterpret_cast<const int32_t*>(s.seq_lengths.data()), s.x_desc.get(), x.data(),
                                 s.y_desc.get(), s.y_seq.data(), s.h_desc.get(), nullptr, nullptr, s.c_desc.get(),
                                 nullptr, nullptr, s.weight_bytes, w, s.work_bytes, work,
                                 train ? s.reserve_bytes : 0, train ? s.reserve.data() : nullptr));
  ensure_tensor(y, layer.output_shape(x.shape()), ctx.device());
  if (layer.return_sequences()) {
    GN_CHECK_CUDA(cudaMemcpyAsync(y.data(), s.y_seq.data(), s.y_seq.numel() * sizeof(float), cudaMemcpyDeviceToDevice,
                                  stream));
  } else {
    cuda::for_each(stream, y.numel(), fn::BiLastStateGather{y.data(), s.y_seq.data(), T, U});
  }
  s.trained = train;
}

void backward(const BiLSTM& layer, BiLSTM::CudaStatePtr& state, Context& ctx, ParameterStore& store,
              const Tensor& x, const Tensor& dy, Tensor* dx) {
  GN_REQUIRE(state && state->trained, layer.name(), ": backward needs a forward in Train mode first");
  BiLSTM::CudaState& s = *state;
  const std::int64_t N = x.dim(0), T = x.dim(1), In = layer.input_size(), U = layer.units();
  GN_REQUIRE(N == s.n && T == s.steps, layer.name(), ": backward input has shape ", x.shape().str(),
             " but forward saw ", Shape{s.n, s.steps, In}.str());
  cudaStream_t stream = stream_of(ctx);
  const float* dy_seq = dy.data();
  if (!layer.return_sequences()) {
    ensure_tensor(s.dy_seq, Shape{N, T, 2 * U}, ctx.device());
    cuda::for_each(stream, s.dy_seq.numel(), fn::BiLastStateScatter{s.dy_seq.data(), dy.data(), T, U});
    dy_seq = s.dy_seq.data();
  }
  Tensor* dx_out = dx;
  if (!dx_out) {
    ensure_tensor(s.dx_scratch, x.shape(), ctx.device());
    dx_out = &s.dx_scratch;
  } else {
    ensure_tensor(*dx_out, x.shape(), ctx.device());
  }
  void* work = ctx.workspace(s.work_bytes);
  const int32_t* lengths = reinterpret_cast<const int32_t*>(s.seq_lengths.data());
  GN_CHECK_CUDNN(cudnnRNNBackwardData_v8(cudnn_of(ctx), s.rnn.get(), lengths, s.y_desc.get(), s.y_seq.data(), dy_seq,
                                         s.x_desc.get(), dx_out->data(), s.h_desc.get(), nullptr, nullptr, nullptr,
                                         s.c_desc.get(), nullptr, nullptr, nullptr, s.weight_bytes, s.weights.data(),
                                         s.work_bytes, work, s.reserve_bytes, s.reserve.data()));
  // Weight gradients are ADDED into dweights by cuDNN: start from zero.
  GN_CHECK_CUDA(cudaMemsetAsync(s.dweights.data(), 0, s.weight_bytes, stream));
  GN_CHECK_CUDNN(cudnnRNNBackwardWeights_v8(cudnn_of(ctx), s.rnn.get(), CUDNN_WGRAD_MODE_ADD, lengths, s.x_desc.get(),
                                            x.data(), s.h_desc.get(), nullptr, s.y_desc.get(), s.y_seq.data(),
                                            s.weight_bytes, s.dweights.data(), s.work_bytes, work, s.reserve_bytes,
                                            s.reserve.data()));
  const float* dw = s.dweights.data();
  for (int d = 0; d < 2; ++d) {
    Tensor dW = store.grad(pname(layer, d, "kernel"));
    Tensor dR = store.grad(pname(layer, d, "recurrent_kernel"));
    Tensor db = store.grad(pname(layer, d, "bias"));
    for (int g = 0; g < 4; ++g) {
      cuda::for_each(stream, In * U, fn::LstmGateFromCudnn{dW.data(), dw + s.matrix[d][g], In, U, g});
      cuda::for_each(stream, U * U, fn::LstmGateFromCudnn{dR.data(), dw + s.matrix[d][4 + g], U, U, g});
      GN_CHECK_CUDA(cudaMemcpyAsync(db.data() + g * U, dw + s.bias[d][g], U * sizeof(float), cudaMemcpyDeviceToDevice,
                                    stream));
    }
  }
}

}  // namespace cuda
}  // namespace gn
