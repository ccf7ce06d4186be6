# Third-party libraries, all from Debian's -dev packages (scripts/install-deps.sh installs them). All are under
# licences compatible with GenreNet's MIT licence: OpenBLAS (BSD-3), libsndfile (LGPL-2.1,
# linked dynamically), libsamplerate (BSD-2), KissFFT (BSD-3), HDF5 (BSD-style),
# nlohmann-json (MIT), GoogleTest / Google Benchmark (BSD-3 / Apache-2.0, tests only).
find_package(PkgConfig REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SAMPLERATE REQUIRED IMPORTED_TARGET samplerate)
pkg_check_modules(KISSFFT REQUIRED IMPORTED_TARGET kissfft-float)
find_package(nlohmann_json 3 REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)

add_library(genrenet_deps_engine INTERFACE)
target_link_libraries(genrenet_deps_engine INTERFACE
  OpenMP::OpenMP_CXX Threads::Threads PkgConfig::OPENBLAS nlohmann_json::nlohmann_json)

add_library(genrenet_deps_layers INTERFACE)
target_link_libraries(genrenet_deps_layers INTERFACE PkgConfig::KISSFFT)

# Audio decoding and resampling: the data library only.
add_library(genrenet_deps_audio INTERFACE)
target_link_libraries(genrenet_deps_audio INTERFACE PkgConfig::SNDFILE PkgConfig::SAMPLERATE)

# HDF5: only the Keras importer reads it (genrenet_keras).
add_library(genrenet_deps_hdf5 INTERFACE)
target_link_libraries(genrenet_deps_hdf5 INTERFACE hdf5::hdf5)

# cpp-httplib (MIT) for `genrenet serve`. Debian ships it compiled (libcpp-httplib.so, built with
# OpenSSL/zlib/brotli support, so the header must see the same defines: pkg-config gives them).
# Upstream's single header (header-only) found on the include path is the fallback.
add_library(genrenet_deps_http INTERFACE)
pkg_check_modules(HTTPLIB IMPORTED_TARGET cpp-httplib)
if(HTTPLIB_FOUND)
  target_link_libraries(genrenet_deps_http INTERFACE PkgConfig::HTTPLIB)
else()
  find_path(HTTPLIB_INCLUDE_DIR httplib.h)
  if(NOT HTTPLIB_INCLUDE_DIR)
    message(FATAL_ERROR "cpp-httplib not found: install libcpp-httplib-dev (scripts/install-deps.sh)")
  endif()
  target_include_directories(genrenet_deps_http INTERFACE ${HTTPLIB_INCLUDE_DIR})
endif()
