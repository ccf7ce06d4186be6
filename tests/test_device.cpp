// Device selection: --device auto|cpu|cuda, never a crash or a hang without a driver.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <thread>

#if GENRENET_WITH_CUDA
#include <cuda_runtime.h>
#endif

#include "engine/context.h"
#include "engine/error.h"
#include "engine/tensor.h"
#include "tests/support.h"

namespace gn {
namespace {

TEST(DeviceRequest, ParsesTheThreeSpellingsAndOrdinals) {
  int ordinal = -1;
  EXPECT_EQ(parse_device_request("auto"), DeviceRequest::Auto);
  EXPECT_EQ(parse_device_request("cpu"), DeviceRequest::CPU);
  EXPECT_EQ(parse_device_request("cuda", &ordinal), DeviceRequest::CUDA);
  EXPECT_EQ(ordinal, 0);
  EXPECT_EQ(parse_device_request("cuda:3", &ordinal), DeviceRequest::CUDA);
  EXPECT_EQ(ordinal, 3);
  for (const char* bad : {"gpu", "CUDA", "", "cuda:", "cuda:x", "cuda:-1"}) {
    EXPECT_THROW(parse_device_request(bad), Error) << bad;
  }
}

TEST(SelectDevice, CpuIsAlwaysAvailable) {
  EXPECT_EQ(select_device(DeviceRequest::CPU), Device::cpu());
  Context ctx(Device::cpu());
  EXPECT_FALSE(ctx.is_cuda());
  EXPECT_THROW(ctx.cuda(), Error);
}

TEST(SelectDevice, AutoFallsBackToTheCpuWithOneLine) {
  std::ostringstream log;
  const Device d = select_device(DeviceRequest::Auto, 0, &log);
  if (test::cuda_available()) {
    EXPECT_TRUE(d.is_cuda());
    EXPECT_EQ(log.str(), "");
  } else {
    const std::string line = log.str();
    EXPECT_TRUE(d.is_cpu());
    EXPECT_NE(line.find("using the CPU"), std::string::npos) << line;
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  }
}

TEST(SelectDevice, CudaWithoutADeviceIsAClearError) {
  if (test::cuda_available()) GTEST_SKIP() << "a CUDA device is present";
  try {
    select_device(DeviceRequest::CUDA);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device cuda was requested but"), std::string::npos) << e.what();
  }
}

TEST(SelectDevice, CudaOrdinalOutOfRange) {
  if (!test::cuda_available()) GTEST_SKIP() << "no CUDA device: " << test::cuda_unavailable_reason();
  EXPECT_THROW(select_device(DeviceRequest::CUDA, 999), Error);
}

// choose_device is pure: these cases run on any machine, with the probe of a machine that has
// `count` GPUs written out.
namespace {
CudaProbe gpus(int count) { return count > 0 ? CudaProbe{count, ""} : CudaProbe{0, "no CUDA device found"}; }
std::string choice_error(DeviceRequest r, int ordinal, int gpu_count, LocalRanks local) {
  try {
    choose_device(r, ordinal, gpus(gpu_count), local);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(ChooseDevice, EachRankOfAMachineTakesItsOwnGpu) {
  for (const DeviceRequest r : {DeviceRequest::Auto, DeviceRequest::CUDA})
    for (int rank = 0; rank < 4; ++rank)
      EXPECT_EQ(choose_device(r, -1, gpus(4), {rank, 4}), Device::cuda(rank)) << "rank " << rank;
  EXPECT_EQ(choose_device(DeviceRequest::Auto, -1, gpus(8), {1, 2}), Device::cuda(1));
  EXPECT_EQ(choose_device(DeviceRequest::Auto, -1, gpus(1), {}), Device::cuda(0));
}

TEST(ChooseDevice, MoreRanksThanGpusIsAClearError) {
  for (const DeviceRequest r : {DeviceRequest::Auto, DeviceRequest::CUDA}) {
    const std::string e = choice_error(r, -1, 1, {1, 2});
    EXPECT_NE(e.find("2 ranks run on this machine but only 1 CUDA device(s) exist"), std::string::npos) << e;
    EXPECT_NE(e.find("--device cpu"), std::string::npos) << e;
  }
}

TEST(ChooseDevice, ANamedGpuForSeveralRanksIsAnError) {
  EXPECT_EQ(choose_device(DeviceRequest::CUDA, 1, gpus(2), {}), Device::cuda(1));
  const std::string e = choice_error(DeviceRequest::CUDA, 0, 2, {0, 2});
  EXPECT_NE(e.find("names one GPU for all 2 ranks"), std::string::npos) << e;
  EXPECT_NE(choice_error(DeviceRequest::CUDA, 2, 2, {}).find("only 2 CUDA device(s)"), std::string::npos);
}

TEST(ChooseDevice, WithoutGpusAutoTakesTheCpuOnEveryRankAndCudaFails) {
  std::ostringstream log;
  EXPECT_EQ(choose_device(DeviceRequest::Auto, -1, gpus(0), {3, 4}, &log), Device::cpu());
  EXPECT_NE(log.str().find("no GPU found: using the CPU"), std::string::npos) << log.str();
  EXPECT_EQ(choose_device(DeviceRequest::CPU, -1, gpus(4), {3, 4}), Device::cpu());
  EXPECT_NE(choice_error(DeviceRequest::CUDA, -1, 0, {}).find("--device cuda was requested but no CUDA device"),
            std::string::npos);
  EXPECT_THROW(choose_device(DeviceRequest::Auto, -1, gpus(1), {2, 2}), Error);  // rank outside its count
}

TEST(CudaThreads, AContextUsedOnAnotherThreadMakesItsDeviceCurrent) {
  if (!test::cuda_available()) GTEST_SKIP() << "no CUDA device: " << test::cuda_unavailable_reason();
#if GENRENET_WITH_CUDA
  const int last = probe_cuda().count - 1;  // cuda:N with N > 0 where the machine has several
  Context ctx(Device::cuda(last));
  int seen = -1;
  std::thread worker([&] {
    cudaSetDevice(0);  // a fresh thread starts on device 0
    Tensor t = Tensor::zeros(Shape{4}, ctx.device());
    ctx.cuda();  // what every CUDA op of a layer calls first
    cudaGetDevice(&seen);
  });
  worker.join();
  EXPECT_EQ(seen, last);
#endif
}

TEST(CudaAllocator, AReleasedBlockComesBackOnceItsWorkIsDone) {
  if (!test::cuda_available()) GTEST_SKIP() << "no CUDA device: " << test::cuda_unavailable_reason();
  Context ctx(Device::cuda(0));
  const void* first = nullptr;
  {
    Tensor a = Tensor::zeros(Shape{1000}, ctx.device());
    first = a.data();
  }
  ctx.synchronize();  // the legacy-stream event recorded at release completes with it
#if GENRENET_WITH_CUDA
  cudaDeviceSynchronize();
#endif
  Tensor b = Tensor::empty(Shape{1000}, ctx.device());
  EXPECT_EQ(b.data(), first) << "a block whose release event completed is reused";
}

TEST(Cli, DevicesCommandReportsTheChoice) {
  const auto r = test::run_genrenet({"devices"}, 60);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cpu: available"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("selected: "), std::string::npos) << r.out;
}

TEST(Cli, DeviceCudaWithoutADeviceExitsNonZeroWithOneMessage) {
  if (test::cuda_available()) GTEST_SKIP() << "a CUDA device is present";
  const auto r = test::run_genrenet({"devices", "--device", "cuda"}, 60);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("error: --device cuda was requested but"), std::string::npos) << r.err;
}

TEST(Cli, BadFlagsAndCommandsAreErrors) {
  auto r = test::run_genrenet({"devices", "--device", "tpu"}, 60);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid --device 'tpu'"), std::string::npos) << r.err;
  r = test::run_genrenet({"devices", "--no-such-flag"}, 60);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option '--no-such-flag'"), std::string::npos) << r.err;
  r = test::run_genrenet({"frobnicate"}, 60);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = test::run_genrenet({"version"}, 60);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("genrenet 0."), std::string::npos) << r.out;
}

}  // namespace
}  // namespace gn
