# Decide whether the CUDA path is built. AUTO builds it whenever nvcc and cuDNN are found and
# otherwise builds the CPU product without a word of complaint; ON makes their absence an error.
set(GENRENET_WITH_CUDA OFF)
if(NOT GENRENET_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc AND NOT DEFINED ENV{CUDACXX})
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "80-real;90")
    endif()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)  # one cudart (the shared one) in every binary
    enable_language(CUDA)
    # CMake 3.25 does not know that nvcc 12+ speaks C++20; teach it the flag.
    if(NOT "cuda_std_20" IN_LIST CMAKE_CUDA_COMPILE_FEATURES)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
      list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
    endif()
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib)
    if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY)
      set(GENRENET_WITH_CUDA ON)
      add_library(genrenet_cudnn UNKNOWN IMPORTED)
      set_target_properties(genrenet_cudnn PROPERTIES
        IMPORTED_LOCATION ${CUDNN_LIBRARY} INTERFACE_INCLUDE_DIRECTORIES ${CUDNN_INCLUDE_DIR})
    endif()
  endif()
endif()
if(GENRENET_CUDA STREQUAL "ON" AND NOT GENRENET_WITH_CUDA)
  message(FATAL_ERROR "GENRENET_CUDA=ON but nvcc or cuDNN was not found")
endif()

# The runtime API only: never libcuda, so the binaries load on machines without a driver.
add_library(genrenet_deps_cuda INTERFACE)
if(GENRENET_WITH_CUDA)
  # cuDNN first: its include folder then precedes the toolkit's, so the headers used are the
  # ones beside the library found (a wheel's cuDNN beside a toolkit that ships another).
  target_link_libraries(genrenet_deps_cuda INTERFACE
    genrenet_cudnn CUDA::cudart CUDA::cublas CUDA::cufft)
endif()
target_link_libraries(genrenet_deps_engine INTERFACE genrenet_deps_cuda)
