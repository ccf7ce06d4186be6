// The flat parameter store and safetensors round trips.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/error.h"
#include "engine/params.h"
#include "engine/safetensors.h"
#include "tests/support.h"

namespace gn {
namespace {

TEST(ParameterStore, NamedViewsShareOneFlatBuffer) {
  ParameterStore store;
  store.declare("conv.kernel", Shape{2, 2, 1, 16});
  store.declare("conv.bias", Shape{16});
  store.declare("bn.moving_mean", Shape{16}, ParameterStore::Kind::Buffer);
  EXPECT_THROW(store.declare("conv.bias", Shape{3}), Error);
  store.allocate(Device::cpu());
  EXPECT_THROW(store.declare("late", Shape{1}), Error);
  EXPECT_EQ(store.entry("conv.bias").offset % 16, 0);  // 64-byte aligned slices
  EXPECT_GE(store.num_params(), 64 + 16);

  Tensor k = store.param("conv.kernel");
  Tensor b = store.param("conv.bias");
  b.at(3) = 2.5f;
  EXPECT_EQ(store.params().at(store.entry("conv.bias").offset + 3), 2.5f);
  store.grad("conv.kernel").at(0) = -1.0f;
  EXPECT_EQ(store.grads().at(0), -1.0f);
  EXPECT_EQ(k.shape(), (Shape{2, 2, 1, 16}));
  EXPECT_THROW(store.grad("bn.moving_mean"), Error);
  EXPECT_THROW(store.param("nope"), Error);
  EXPECT_EQ(store.buffer("bn.moving_mean").numel(), 16);
}

TEST(ParameterStore, HandlesAreBoundOnceAndRefuseAnotherStore) {
  ParameterStore store;
  const ParameterStore::Handle k = store.declare("conv.kernel", Shape{2, 2, 1, 16}, ParameterStore::Kind::Parameter,
                                                 Init::GlorotUniform);
  const ParameterStore::Handle m = store.declare("bn.moving_var", Shape{16}, ParameterStore::Kind::Buffer, Init::Ones);
  EXPECT_EQ(store.entry("conv.kernel").init, Init::GlorotUniform);
  EXPECT_EQ(store.entry("bn.moving_var").init, Init::Ones);
  EXPECT_EQ(k.offset, store.entry("conv.kernel").offset);
  EXPECT_EQ(k.shape, (Shape{2, 2, 1, 16}));
  store.allocate(Device::cpu());
  // A handle's view is the named view, and follows the store to a new buffer.
  store.param(k).at(5) = 4.0f;
  EXPECT_EQ(store.param("conv.kernel").at(5), 4.0f);
  store.grad(k).at(1) = -2.0f;
  EXPECT_EQ(store.grad("conv.kernel").at(1), -2.0f);
  EXPECT_EQ(store.buffer(m).data(), store.buffer("bn.moving_var").data());
  // Wrong kind, never declared, declared in another store with another layout: clear errors.
  EXPECT_THROW(store.buffer(k), Error);
  EXPECT_THROW(store.grad(m), Error);
  EXPECT_THROW(store.param(ParameterStore::Handle{}), Error);
  ParameterStore other;
  other.declare("x", Shape{3});
  const ParameterStore::Handle foreign = other.declare("conv.kernel", Shape{2, 2, 1, 8});
  EXPECT_THROW(store.param(foreign), Error);
}

TEST(SafeTensors, RoundTripsTensorsAndMetadata) {
  std::map<std::string, Tensor> tensors{{"a", test::random_tensor(Shape{3, 4}, 1)},
                                        {"b.c", test::random_tensor(Shape{5}, 2)}};
  const std::string bytes = serialize_safetensors(tensors, {{"labels", "x,y"}});
  const SafeTensorsFile f = parse_safetensors(bytes, "mem");
  EXPECT_EQ(f.metadata.at("labels"), "x,y");
  EXPECT_EQ(f.get("a").shape(), (Shape{3, 4}));
  EXPECT_EQ(f.get("a").to_vector(), tensors["a"].to_vector());
  EXPECT_EQ(f.get("b.c").to_vector(), tensors["b.c"].to_vector());
  EXPECT_THROW(f.get("missing"), Error);
}

TEST(SafeTensors, RejectsEveryTruncation) {
  const std::string bytes = serialize_safetensors({{"w", test::random_tensor(Shape{7, 3}, 3)}}, {});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(parse_safetensors(bytes.substr(0, n), "cut"), Error) << "prefix of " << n << " bytes";
  }
}

TEST(SafeTensors, RejectsLiesInTheHeader) {
  auto make = [](const std::string& json, std::size_t data_bytes) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
    return out + json + std::string(data_bytes, '\0');
  };
  const std::string cases[] = {
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})",           // past the end
      R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",            // size mismatch
      R"({"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})",            // wrong dtype
      R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})",           // negative dim
      R"({"w":{"dtype":"F32","shape":[1,1,1,1,2],"data_offsets":[0,8]}})",    // rank 5
      R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",  // overflow
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",            // reversed
      R"({"w":{"dtype":"F32","shape":[2]}})",                                 // no offsets
      R"([1,2,3])",                                                           // not an object
      R"({"w":)",                                                             // not JSON
  };
  for (const std::string& c : cases) EXPECT_THROW(parse_safetensors(make(c, 8), "bad"), Error) << c;
  // A header length far beyond the file.
  std::string huge(8, '\xff');
  EXPECT_THROW(parse_safetensors(huge + "{}", "huge"), Error);
}

TEST(SafeTensors, AtomicWriteLeavesNoTemporaryBehind) {
  const std::string dir = test::temp_dir("st");
  const std::string path = dir + "/x.safetensors";
  write_file_atomically(path, "first");
  write_file_atomically(path, "second");
  EXPECT_EQ(read_file(path), "second");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++files;
  EXPECT_EQ(files, 1);
  EXPECT_THROW(write_file_atomically(dir + "/no/such/folder/x", "y"), Error);
  EXPECT_THROW(read_file(dir + "/missing"), Error);
}

}  // namespace
}  // namespace gn
