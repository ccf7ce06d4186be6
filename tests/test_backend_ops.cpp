// A table of ops, each run on the CPU and on CUDA and compared with a normalised error bound
// (ggml's test-backend-ops): max |cuda - cpu| / max |cpu| over every output and gradient.
// One line per op: a name, the op (a builder below taking the layer and its input shape) and
// the bound. Every op also runs twice on the CPU and must be bit-identical (determinism).
// The CUDA half skips without a device.
//
// Adding an op: write (or reuse) a builder returning an Op whose run() performs forward and
// backward on a given Context from inputs/parameters drawn from fixed seeds, returning every
// output and gradient; then add one line to ops_table().
#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/maxpool.h"
#include "layers/softmax_xent.h"
#include "tests/layer_test_util.h"

namespace gn {
namespace {

using Tensors = std::vector<Tensor>;

struct Op {
  std::string name;
  double tolerance = 0.0;                    // normalised error bound, CUDA vs CPU
  std::function<Tensors(Context&)> run;      // forward + backward; outputs and gradients
};

// Inputs and parameters come from fixed seeds on the host, then go to ctx's device, so both
// devices see the same numbers.
Tensor input(Context& ctx, const Shape& s, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  return test::random_tensor(s, seed, ctx.device(), lo, hi);
}
Tensor host(const Tensor& t) { return t.to(Device::cpu()); }

// ---- builders (one per layer kind) -----------------------------------------------------------
Op conv_op(const std::string& name, Shape xs, Conv2D conv, double tol) {
  return {name, tol, [=](Context& ctx) mutable {
            ParameterStore store;
            conv.declare(store);
            store.allocate(ctx.device());
            test::randomize_params(store, 1);
            const Tensor x = input(ctx, xs, 2);
            Tensor y = Tensor::empty(conv.output_shape(xs), ctx.device()), dx = Tensor::empty(xs, ctx.device());
            conv.forward(ctx, store, y, x);
            conv.backward(ctx, store, &dx, input(ctx, y.shape(), 3), x, y);
            return Tensors{host(y), host(dx), host(store.grads())};
          }};
}

Op batchnorm_op(const std::string& name, Shape xs, double tol) {
  return {name, tol, [=](Context& ctx) {
            BatchNorm bn("bn", static_cast<int>(xs[-1]));
            ParameterStore store;
            bn.declare(store);
            store.allocate(ctx.device());
            test::randomize_params(store, 1, 0.5f, 1.5f);
            store.buffers().copy_from(test::random_tensor(store.buffers().shape(), 4, Device::cpu(), 0.5f, 1.5f));
            const Tensor x = input(ctx, xs, 2, -2.0f, 3.0f);
            Tensor y = Tensor::empty(xs, ctx.device()), y_infer = Tensor::empty(xs, ctx.device());
            Tensor dx = Tensor::empty(xs, ctx.device());
            bn.forward(ctx, store, y_infer, x, Mode::Infer);
            bn.forward(ctx, store, y, x, Mode::Train);
            bn.backward(ctx, store, &dx, input(ctx, xs, 3), x);
            return Tensors{host(y_infer), host(y), host(dx), host(store.grads()), host(store.buffers())};
          }};
}

Op maxpool_op(const std::string& name, Shape xs, int ph, int pw) {
  return {name, 0.0, [=](Context& ctx) {
            MaxPool2D pool("pool", ph, pw);
            const Tensor x = input(ctx, xs, 2);
            Tensor y = Tensor::empty(pool.output_shape(xs), ctx.device()), dx = Tensor::empty(xs, ctx.device());
            pool.forward(ctx, y, x);
            pool.backward(ctx, dx, input(ctx, y.shape(), 3), x, y);
            return Tensors{host(y), host(dx)};
          }};
}

Op dropout_op(const std::string& name, Shape xs, float rate) {
  return {name, 0.0, [=](Context& ctx) {
            Dropout drop("drop", rate, 5);
            const RandomStep rng{77, 12};
            const Tensor x = input(ctx, xs, 2);
            Tensor y = Tensor::empty(xs, ctx.device()), dx = Tensor::empty(xs, ctx.device());
            drop.forward(ctx, y, x, Mode::Train, rng);
            drop.backward(ctx, dx, input(ctx, xs, 3), Mode::Train, rng);
            return Tensors{host(y), host(dx)};
          }};
}

Op dense_op(const std::string& name, int n, int in, int out, double tol) {
  return {name, tol, [=](Context& ctx) {
            Dense dense("dense", in, out);
            ParameterStore store;
            dense.declare(store);
            store.allocate(ctx.device());
            test::randomize_params(store, 1);
            const Tensor x = input(ctx, Shape{n, in}, 2);
            Tensor y = Tensor::empty(Shape{n, out}, ctx.device()), dx = Tensor::empty(x.shape(), ctx.device());
            dense.forward(ctx, store, y, x);
            dense.backward(ctx, store, &dx, input(ctx, y.shape(), 3), x);
            return Tensors{host(y), host(dx), host(store.grads())};
          }};
}

Op softmax_xent_op(const std::string& name, int n, int classes, double tol) {
  return {name, tol, [=](Context& ctx) {
            const Tensor logits = input(ctx, Shape{n, classes}, 2, -8.0f, 8.0f);
            std::vector<float> t(static_cast<std::size_t>(n) * classes, 0.0f);
            for (int r = 0; r < n; ++r) t[static_cast<std::size_t>(r) * classes + (r * 3) % classes] = 1.0f;
            const Tensor onehot = Tensor::from_vector(logits.shape(), t, ctx.device());
            Tensor probs = Tensor::empty(logits.shape(), ctx.device()), d = Tensor::empty(logits.shape(), ctx.device());
            Tensor p2 = Tensor::empty(logits.shape(), ctx.device());
            const double loss = softmax_cross_entropy(ctx, probs, d, logits, onehot);
            softmax(ctx, p2, logits);
            return Tensors{Tensor::from_vector(Shape{1}, {static_cast<float>(loss)}), host(probs), host(d), host(p2)};
          }};
}

Conv2D conv(int cin, int filters, int k, int s, Padding p, bool relu, int kw = 0, int sw = 0) {
  Conv2D c("conv", cin, filters, k, s, p, relu);
  if (kw) c.kernel_w = kw;
  if (sw) c.stride_w = sw;
  return c;
}

// Bounds: convolutions, BN and dense differ between devices only in summation order (cuDNN
// algorithms, FMA contraction): float32 sums of <= ~10^3 terms stay within ~1e-5 of the
// largest value. Pooling and dropout select / scale values with the same float operations on
// both devices: exact.
const std::vector<Op>& ops_table() {
  static const std::vector<Op> table = {
      conv_op("conv2d k2 s2 same relu (model conv1, pads 0/1)", Shape{2, 32, 65, 1}, conv(1, 16, 2, 2, Padding::Same, true), 1e-5),
      conv_op("conv2d k3 s2 same (asymmetric pads)", Shape{2, 16, 33, 16}, conv(16, 32, 3, 2, Padding::Same, true), 1e-5),
      conv_op("conv2d k4 s1 same (pads 1/2)", Shape{2, 4, 16, 8}, conv(8, 12, 4, 1, Padding::Same, false), 1e-5),
      conv_op("conv2d k3 s1 same (symmetric pads)", Shape{3, 7, 9, 4}, conv(4, 6, 3, 1, Padding::Same, true), 1e-5),
      conv_op("conv2d k3 s2 valid", Shape{2, 9, 11, 3}, conv(3, 5, 3, 2, Padding::Valid, false), 1e-5),
      conv_op("conv2d k2x3 s1x2 same", Shape{2, 6, 9, 2}, conv(2, 3, 2, 1, Padding::Same, true, 3, 2), 1e-5),
      batchnorm_op("batchnorm 4d", Shape{4, 8, 17, 16}, 1e-5),
      batchnorm_op("batchnorm 2d", Shape{32, 10}, 1e-5),
      maxpool_op("maxpool 2x2 odd", Shape{2, 9, 13, 8}, 2, 2),
      maxpool_op("maxpool 1x2", Shape{2, 16, 129, 1}, 1, 2),
      dropout_op("dropout 0.2", Shape{2, 16, 33, 16}, 0.2f),
      dropout_op("dropout 0.5", Shape{32, 256}, 0.5f),
      dense_op("dense 256->10", 32, 256, 10, 1e-5),
      dense_op("dense odd", 3, 7, 5, 1e-5),
      softmax_xent_op("softmax_xent 32x10", 32, 10, 1e-6),
      softmax_xent_op("softmax_xent 5x100", 5, 100, 1e-6),
  };
  return table;
}

std::string op_test_name(const ::testing::TestParamInfo<std::size_t>& info) {
  std::string s = ops_table()[info.param].name;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

class BackendOps : public ::testing::TestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(Table, BackendOps, ::testing::Range<std::size_t>(0, ops_table().size()), op_test_name);

TEST_P(BackendOps, CpuTwiceIsBitIdentical) {
  const Op& op = ops_table()[GetParam()];
  Context cpu;
  const Tensors a = op.run(cpu), b = op.run(cpu);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(test::bit_identical(a[i], b[i])) << op.name << ": output " << i;
    EXPECT_EQ(ops::count_non_finite(cpu, a[i]), 0) << op.name << ": output " << i;
  }
}

TEST_P(BackendOps, CudaMatchesCpu) {
  const Op& op = ops_table()[GetParam()];
  if (!test::cuda_available()) GTEST_SKIP() << "no CUDA device: " << test::cuda_unavailable_reason();
  Context cpu, gpu(Device::cuda(0));
  const Tensors want = op.run(cpu), got = op.run(gpu);
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double err = test::normalized_error(got[i], want[i]);
    EXPECT_LE(err, op.tolerance) << op.name << ": output " << i << " normalised error " << err;
    std::printf("    %-48s output %zu: normalised error %.2e (bound %.0e)\n", op.name.c_str(), i, err, op.tolerance);
  }
}

}  // namespace
}  // namespace gn
