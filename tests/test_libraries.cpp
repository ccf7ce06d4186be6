// The binary links only what every command needs: MPI is a module (libgenrenet_mpi.so) that
// `genrenet train` loads with dlopen when a launcher starts it, so genrenet starts, predicts and
// trains on machines without MPI. Checked on the real binary: its dynamic dependencies, and the
// one clear error of an MPI launch whose module cannot be loaded.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support.h"

namespace gn::test {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `ldd` of the binary: the shared libraries the loader maps before main().
std::string ldd_of(const std::string& binary, const std::string& log) {
  if (run_shell("command -v ldd > /dev/null 2>&1") != 0) return "";
  EXPECT_EQ(run_shell("ldd '" + binary + "' > '" + log + "' 2>&1"), 0) << slurp(log);
  return slurp(log);
}

TEST(Libraries, GenrenetDoesNotLinkMpi) {
  const std::string dir = temp_dir("ldd");
  const std::string deps = ldd_of(GENRENET_BINARY, dir + "/ldd.txt");
  if (deps.empty()) GTEST_SKIP() << "ldd is not installed";
  EXPECT_NE(deps.find("libc.so"), std::string::npos) << deps;  // the listing is real
  EXPECT_EQ(deps.find("libmpi"), std::string::npos) << "genrenet links MPI:\n" << deps;
  EXPECT_EQ(deps.find("libnccl"), std::string::npos) << "genrenet links NCCL:\n" << deps;
  EXPECT_EQ(deps.find("not found"), std::string::npos) << deps;
}

TEST(Libraries, TheMpiModuleIsTheOneThatLinksMpi) {
  const std::string module =
      (std::filesystem::path(GENRENET_BINARY).parent_path() / "libgenrenet_mpi.so").string();
  if (!std::filesystem::exists(module)) GTEST_SKIP() << "this build has no MPI module (MPI not found by CMake)";
  const std::string deps = ldd_of(module, temp_dir("ldd-mpi") + "/ldd.txt");
  if (deps.empty()) GTEST_SKIP() << "ldd is not installed";
  EXPECT_NE(deps.find("libmpi"), std::string::npos) << deps;
}

// An MPI launch with 2 ranks whose module is absent or not loadable: one clear line, non-zero
// exit, before anything is read or written.
void expect_mpi_refused(const std::string& module, const std::string& expected) {
  const std::string dir = temp_dir("mpi-refused");
  const std::string log = dir + "/log";
  const int code = run_shell("OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 GENRENET_MPI_MODULE='" + module + "' '" +
                             std::string(GENRENET_BINARY) + "' train --data '" + dir + "/absent' --out '" + dir +
                             "/run' > '" + log + "' 2>&1");
  const std::string text = slurp(log);
  EXPECT_NE(code, 0) << text;
  EXPECT_NE(text.find("launched by mpirun with 2 ranks"), std::string::npos) << text;
  EXPECT_NE(text.find(expected), std::string::npos) << text;
  EXPECT_FALSE(std::filesystem::exists(dir + "/run")) << "the refused run created its folder";
}

TEST(Libraries, MpiLaunchWithoutTheModuleIsAClearError) {
  expect_mpi_refused(temp_dir("no-module") + "/libgenrenet_mpi.so", "built without MPI");
}

TEST(Libraries, MpiLaunchWithAnUnloadableModuleIsAClearError) {
  // A file that is not a shared library stands for a module whose libmpi is missing: dlopen
  // fails either way, and the message carries the loader's reason.
  const std::string module = temp_dir("bad-module") + "/libgenrenet_mpi.so";
  std::ofstream(module) << "not an ELF file\n";
  expect_mpi_refused(module, "the MPI module cannot be loaded");
}

}  // namespace
}  // namespace gn::test
