// Tensors, views and device copies, typed over CPU and CUDA.
#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/tensor.h"
#include "tests/support.h"

namespace gn {
namespace {

TEST(Shape, RankNumelAndPrinting) {
  const Shape s{2, 128, 513, 1};
  EXPECT_EQ(s.rank(), 4);
  EXPECT_EQ(s.numel(), 2 * 128 * 513);
  EXPECT_EQ(s[-1], 1);
  EXPECT_EQ(s.str(), "(2, 128, 513, 1)");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_THROW((Shape{1, 2, 3, 4, 5}), Error);
  EXPECT_THROW((Shape{2, -1}), Error);
  EXPECT_THROW(s[4], Error);
}

class TensorOnDevice : public test::DeviceTest {};

TEST_P(TensorOnDevice, RoundTripsValuesThroughTheDevice) {
  const std::vector<float> values = test::random_values(1000, 7);
  const Tensor t = Tensor::from_vector(Shape{10, 100}, values, device());
  EXPECT_EQ(t.device(), device());
  EXPECT_EQ(t.to_vector(), values);
  const Tensor back = t.to(Device::cpu());
  EXPECT_EQ(back.to_vector(), values);
  EXPECT_FALSE(back.is_view());
}

TEST_P(TensorOnDevice, ZerosAreZero) {
  const Tensor t = Tensor::zeros(Shape{3, 5, 7}, device());
  for (float x : t.to_vector()) EXPECT_EQ(x, 0.0f);
}

TEST_P(TensorOnDevice, ViewsShareStorageAndOutliveTheirParentHandle) {
  Tensor view;
  {
    Tensor parent = Tensor::from_vector(Shape{4, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, device());
    view = parent.slice(1, 3);
    EXPECT_TRUE(view.is_view());
    EXPECT_EQ(view.shape(), (Shape{2, 3}));
    // Writing through the view changes the parent.
    view.copy_from(Tensor::from_vector(Shape{6}, {-1, -2, -3, -4, -5, -6}));
    EXPECT_EQ(parent.to_vector(), (std::vector<float>{0, 1, 2, -1, -2, -3, -4, -5, -6, 9, 10, 11}));
  }
  // The parent handle is gone; the view keeps the storage alive.
  EXPECT_EQ(view.to_vector(), (std::vector<float>{-1, -2, -3, -4, -5, -6}));
}

TEST_P(TensorOnDevice, ReshapeKeepsRowMajorOrder) {
  const Tensor t = Tensor::from_vector(Shape{1, 2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}, device());
  const Tensor flat = t.reshape(Shape{1, 8});
  EXPECT_EQ(flat.to_vector(), t.to_vector());
  EXPECT_THROW(t.reshape(Shape{3, 3}), Error);
  EXPECT_THROW(t.view(5, Shape{4}), Error);
}

TEST_P(TensorOnDevice, CopyBetweenDevicesBothWays) {
  const std::vector<float> values = test::random_values(4097, 11);
  Tensor host = Tensor::from_vector(Shape{4097}, values);
  Tensor dev = Tensor::empty(Shape{4097}, device());
  dev.copy_from(host);
  Tensor host2 = Tensor::zeros(Shape{4097});
  host2.copy_from(dev);
  EXPECT_EQ(host2.to_vector(), values);
  Tensor dev2 = Tensor::empty(Shape{4097}, device());
  dev2.copy_from(dev);  // device to device
  EXPECT_EQ(dev2.to_vector(), values);
  Tensor wrong = Tensor::empty(Shape{4096}, device());
  EXPECT_THROW(wrong.copy_from(dev), Error);
}

GN_INSTANTIATE_DEVICE_TEST(TensorOnDevice);

TEST(CheckShape, NamesTheLayerAndBothShapes) {
  try {
    check_shape("conv1", "input", Shape{2, 3}, Shape{2, 4});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "conv1: input has shape (2, 3), expected (2, 4)");
  }
}

}  // namespace
}  // namespace gn
