// Device selection: --device auto|cpu|cuda, never a crash or a hang without a driver.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "engine/context.h"
#include "engine/error.h"
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
