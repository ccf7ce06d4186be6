// The RCNN, assembled from the layers in the order of the model table in docs/design.md. Device-agnostic: each
// layer dispatches on the tensors' device, so this file is the whole model on CPU and CUDA.
#include "layers/rcnn.h"

#include <optional>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/ops.h"
#include "layers/batchnorm.h"
#include "layers/bilstm.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/init.h"
#include "layers/maxpool.h"
#include "layers/scratch.h"
#include "layers/softmax_xent.h"

namespace gn {
namespace {

// Philox streams of the model's dropout layers: distinct, stable across versions (a resumed
// run must draw the same masks).
constexpr std::uint32_t kCnnBlockDropoutStream = 100;  // + block index
constexpr std::uint32_t kCnnDropoutStream = 200;
constexpr std::uint32_t kRnnDropoutStream = 300;


struct CnnBlock {
  Conv2D conv;
  BatchNorm bn;
  std::optional<MaxPool2D> pool;
  std::optional<Dropout> dropout;
  // Activations saved by forward for backward (input of the block is the previous output).
  Tensor conv_out, bn_out, pool_out, out;  // out aliases bn_out / pool_out / dropout output
  Tensor drop_out;
  // Gradients.
  Tensor d_out, d_pool_in, d_conv_out, d_in;
};

}  // namespace

struct RCNN::Impl {
  ModelConfig config;
  ParameterStore store;

  std::vector<CnnBlock> blocks;
  Dropout cnn_dropout;
  MaxPool2D rnn_pool;                 // (1, 2), applied config.rnn_freq_pools times
  std::vector<BiLSTM> lstms;
  Dropout rnn_dropout;
  Dense dense;

  // Saved activations.
  Tensor input;                        // the x of the last forward (a handle, not a copy)
  std::vector<Tensor> rnn_pools;       // outputs of each (1, 2) pooling
  std::vector<Tensor> lstm_out;        // outputs of each BiLSTM
  Tensor cnn_flat_out, rnn_out, sum, logits;
  // Gradients.
  Tensor d_sum, d_cnn_flat, d_rnn, d_lstm_tmp;
  std::vector<Tensor> d_lstm;
  Mode last_mode = Mode::Infer;
  RandomStep last_rng;
  std::int64_t last_batch = -1;

  explicit Impl(const ModelConfig& c)
      : config(c),
        cnn_dropout("cnn.dropout", c.cnn_dropout, kCnnDropoutStream),
        rnn_pool("rnn.pool", 1, 2),
        rnn_dropout("rnn.dropout", c.rnn_dropout, kRnnDropoutStream),
        dense("head.dense", 2 * c.lstm_units, c.classes) {
    config.validate();
    int in_channels = 1;
    for (std::size_t i = 0; i < c.conv.size(); ++i) {
      const ConvBlock& b = c.conv[i];
      const std::string n = std::to_string(i + 1);
      CnnBlock block;
      block.conv = Conv2D("cnn.conv" + n, in_channels, b.filters, b.kernel, b.stride, Padding::Same, true);
      block.bn = BatchNorm("cnn.bn" + n, b.filters, c.bn_momentum, c.bn_epsilon);
      if (b.pool) block.pool = MaxPool2D("cnn.pool" + n, 2, 2);
      if (b.dropout > 0) block.dropout = Dropout("cnn.dropout" + n, b.dropout, kCnnBlockDropoutStream + i);
      blocks.push_back(std::move(block));
      in_channels = b.filters;
    }
    std::int64_t in = c.rnn_input_size();
    for (int l = 0; l < c.lstm_layers; ++l) {
      lstms.emplace_back("rnn.lstm" + std::to_string(l + 1), in, c.lstm_units, l + 1 < c.lstm_layers);
      in = 2 * c.lstm_units;
    }
    for (auto& b : blocks) {
      b.conv.declare(store);
      b.bn.declare(store);
    }
    for (auto& l : lstms) l.declare(store);
    dense.declare(store);
    rnn_pools.resize(static_cast<std::size_t>(c.rnn_freq_pools));
    lstm_out.resize(lstms.size());
    d_lstm.resize(lstms.size());
  }

  // Dropout in Train mode writes `scratch`; in Infer mode it is the identity and costs nothing.
  const Tensor& dropout_forward(Context& ctx, Dropout& d, Tensor& scratch, const Tensor& x, Mode mode,
                                RandomStep rng) {
    if (mode == Mode::Infer || d.rate == 0.0f) return x;
    d.forward(ctx, ensure_tensor(scratch, x.shape(), x.device()), x, mode, rng);
    return scratch;
  }

  const Tensor& forward(Context& ctx, const Tensor& x, Mode mode, RandomStep rng) {
    GN_REQUIRE(x.rank() == 4, "rcnn: input has shape ", x.shape().str(), ", expected (N, ", config.time_frames,
               ", ", config.freq_bins, ", 1)");
    check_shape("rcnn", "input", x.shape(), config.input_shape(x.dim(0)));
    GN_REQUIRE(x.device() == store.device() && ctx.device() == store.device(), "rcnn: input on ",
               x.device().str(), " and context on ", ctx.device().str(), " but the model is on ",
               store.device().str());
    const Device dev = x.device();
    const std::int64_t n = x.dim(0);
    input = x;
    last_mode = mode;
    last_rng = rng;
    last_batch = n;

    // CNN branch.
    const Tensor* h = &x;
    for (CnnBlock& b : blocks) {
      b.conv.forward(ctx, store, ensure_tensor(b.conv_out, b.conv.output_shape(h->shape()), dev), *h);
      b.bn.forward(ctx, store, ensure_tensor(b.bn_out, b.conv_out.shape(), dev), b.conv_out, mode);
      const Tensor* cur = &b.bn_out;
      if (b.pool) {
        b.pool->forward(ctx, ensure_tensor(b.pool_out, b.pool->output_shape(cur->shape()), dev), *cur);
        cur = &b.pool_out;
      }
      b.out = b.dropout ? dropout_forward(ctx, *b.dropout, b.drop_out, *cur, mode, rng) : *cur;
      h = &b.out;
    }
    const Tensor flat = h->reshape(Shape{n, h->numel() / n});  // Keras Flatten: NHWC row-major
    cnn_flat_out = dropout_forward(ctx, cnn_dropout, cnn_flat_scratch, flat, mode, rng);

    // RNN branch: (N, T, F, 1) -> MaxPool (1, 2) x k -> (N, T, F / 2^k) -> BiLSTM stack.
    const Tensor* r = &x;
    for (Tensor& p : rnn_pools) {
      rnn_pool.forward(ctx, ensure_tensor(p, rnn_pool.output_shape(r->shape()), dev), *r);
      r = &p;
    }
    Tensor seq = rnn_input();
    for (std::size_t l = 0; l < lstms.size(); ++l) {
      lstms[l].forward(ctx, store, seq, ensure_tensor(lstm_out[l], lstms[l].output_shape(seq.shape()), dev), mode);
      seq = lstm_out[l];
    }
    rnn_out = dropout_forward(ctx, rnn_dropout, rnn_scratch, seq, mode, rng);

    // Head: Add -> Dense (softmax is applied by the loss or by predict()).
    ops::add(ctx, ensure_tensor(sum, cnn_flat_out.shape(), dev), cnn_flat_out, rnn_out);
    dense.forward(ctx, store, ensure_tensor(logits, Shape{n, config.classes}, dev), sum);
    return logits;
  }

  void backward(Context& ctx, const Tensor& dlogits) {
    GN_REQUIRE(last_mode == Mode::Train && last_batch >= 0, "rcnn: backward needs a forward in Train mode first");
    check_shape("rcnn", "logits gradient", dlogits.shape(), logits.shape());
    const Device dev = dlogits.device();

    // Head. d(sum) flows unchanged into both branches of the Add.
    dense.backward(ctx, store, &ensure_tensor(d_sum, sum.shape(), dev), dlogits, sum);

    // RNN branch (its input, the spectrogram, needs no gradient).
    const Tensor* dseq = &d_sum;
    if (rnn_dropout.rate > 0) {
      rnn_dropout.backward(ctx, ensure_tensor(d_rnn, d_sum.shape(), dev), d_sum, last_mode, last_rng);
      dseq = &d_rnn;
    }
    for (std::size_t l = lstms.size(); l-- > 0;) {
      const Tensor lstm_in = l == 0 ? rnn_input() : lstm_out[l - 1];
      Tensor* dx = l == 0 ? nullptr : &ensure_tensor(d_lstm[l - 1], lstm_out[l - 1].shape(), dev);
      lstms[l].backward(ctx, store, lstm_in, *dseq, dx);
      if (dx) dseq = dx;
    }

    // CNN branch.
    const Tensor* dcur = &d_sum;
    if (cnn_dropout.rate > 0) {
      cnn_dropout.backward(ctx, ensure_tensor(d_cnn_flat, d_sum.shape(), dev), d_sum, last_mode, last_rng);
      dcur = &d_cnn_flat;
    }
    Tensor dblock = dcur->reshape(blocks.back().out.shape());
    for (std::size_t i = blocks.size(); i-- > 0;) {
      CnnBlock& b = blocks[i];
      if (b.dropout) {
        b.dropout->backward(ctx, ensure_tensor(b.d_out, dblock.shape(), dev), dblock, last_mode, last_rng);
        dblock = b.d_out;
      }
      if (b.pool) {
        b.pool->backward(ctx, ensure_tensor(b.d_pool_in, b.bn_out.shape(), dev), dblock, b.bn_out, b.pool_out);
        dblock = b.d_pool_in;
      }
      b.bn.backward(ctx, store, &ensure_tensor(b.d_conv_out, b.conv_out.shape(), dev), dblock, b.conv_out);
      const Tensor& block_in = i == 0 ? input : blocks[i - 1].out;
      Tensor* dx = i == 0 ? nullptr : &ensure_tensor(b.d_in, block_in.shape(), dev);
      b.conv.backward(ctx, store, dx, b.d_conv_out, block_in, b.conv_out);
      if (dx) dblock = *dx;
    }
  }

  // The BiLSTM stack's input: the pooled spectrogram viewed as (N, T, F / 2^k).
  Tensor rnn_input() const {
    const Tensor& pooled = rnn_pools.empty() ? input : rnn_pools.back();
    return pooled.reshape(Shape{pooled.dim(0), config.time_frames, config.rnn_input_size()});
  }

  Tensor cnn_flat_scratch, rnn_scratch;
};

RCNN::RCNN(const ModelConfig& config, Device device) : impl_(std::make_unique<Impl>(config)) {
  impl_->store.allocate(device);
  init(0);
}

RCNN::~RCNN() = default;

const ModelConfig& RCNN::config() const { return impl_->config; }
ParameterStore& RCNN::store() { return impl_->store; }
const ParameterStore& RCNN::store() const { return impl_->store; }
Device RCNN::device() const { return impl_->store.device(); }
void RCNN::to(Device device) { impl_->store.to(device); }

void RCNN::init(std::uint64_t seed) {
  ParameterStore& s = impl_->store;
  const auto& entries = s.entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::uint32_t stream = static_cast<std::uint32_t>(i) + 1000;  // one stream per tensor
    auto ends_with = [&](const char* suffix) {
      const std::string sfx(suffix);
      return e.name.size() >= sfx.size() && e.name.compare(e.name.size() - sfx.size(), sfx.size(), sfx) == 0;
    };
    Tensor t = e.kind == ParameterStore::Kind::Parameter ? s.param(e.name) : s.buffer(e.name);
    if (ends_with(".recurrent_kernel")) {
      init::orthogonal(t, seed, stream);
    } else if (ends_with(".kernel")) {
      init::glorot_uniform(t, seed, stream);
    } else if (ends_with(".gamma") || ends_with(".moving_var")) {
      init::constant(t, 1.0f);
    } else if (ends_with(".bias") && e.name.rfind("rnn.lstm", 0) == 0) {
      // unit_forget_bias: zeros, with the forget gate's slice [U, 2U) set to 1.
      const std::int64_t u = t.numel() / 4;
      std::vector<float> b(static_cast<std::size_t>(t.numel()), 0.0f);
      for (std::int64_t j = u; j < 2 * u; ++j) b[j] = 1.0f;
      t.copy_from(Tensor::from_vector(t.shape(), b));
    } else {
      init::constant(t, 0.0f);  // biases, beta, moving_mean
    }
  }
}

const Tensor& RCNN::forward(Context& ctx, const Tensor& x, Mode mode, RandomStep rng) {
  return impl_->forward(ctx, x, mode, rng);
}

void RCNN::backward(Context& ctx, const Tensor& dlogits) { impl_->backward(ctx, dlogits); }

Tensor RCNN::predict(Context& ctx, const Tensor& x) {
  const Tensor& logits = impl_->forward(ctx, x, Mode::Infer, {});
  Tensor probs = Tensor::empty(logits.shape(), logits.device());
  softmax(ctx, probs, logits);
  return probs;
}

}  // namespace gn
