// `genrenet version` and `genrenet devices`: what this binary is and what it can run on.
#include <iostream>

#include "apps/args.h"
#include "apps/command.h"
#include "engine/context.h"
#include "engine/version.h"

namespace gn::app {
namespace {

int run_version(const std::vector<std::string>& argv) {
  Args args("version", argv, {}, {"help"});
  if (args.flag("help")) {
    std::cout << "usage: genrenet version\n  Prints the version and how this binary was built.\n";
    return 0;
  }
  std::cout << "genrenet " << version_string() << " (" << build_description() << ")\n";
  return 0;
}

int run_devices(const std::vector<std::string>& argv) {
  Args args("devices", argv, {"device"}, {"help"});
  if (args.flag("help")) {
    std::cout << "usage: genrenet devices [--device D]\n"
                 "  Lists the devices GenreNet can use, why CUDA is not usable when it is not, and which\n"
                 "  one --device selects.\n"
                 "  --device D   auto (default), cpu, cuda or cuda:N\n";
    return 0;
  }
  const CudaProbe probe = probe_cuda();
  std::cout << "cpu: available (" << cpu_description() << ")\n";
  if (probe.count > 0) {
    for (int i = 0; i < probe.count; ++i) std::cout << "cuda:" << i << ": " << cuda_device_name(i) << "\n";
  } else {
    std::cout << "cuda: unavailable (" << probe.reason << ")\n";
  }
  int ordinal = 0;
  const DeviceRequest request = parse_device_request(args.str("device", "auto"), &ordinal);
  const Device device = select_device(request, ordinal, nullptr);  // the reason is printed above
  std::cout << "selected: " << device.str() << "\n";
  return 0;
}

}  // namespace
GN_COMMAND("version", "print the version and build configuration", run_version);
GN_COMMAND("devices", "list usable devices and show what --device selects", run_devices);
}  // namespace gn::app
