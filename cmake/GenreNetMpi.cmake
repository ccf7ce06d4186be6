# Optional data-parallel training (train/distributed.h). Everything here is optional: without
# MPI the product builds and trains on one process exactly as before.
#   GENRENET_WITH_MPI   MPI found: the MPI module libgenrenet_mpi.so (train/mpi/) is built beside
#                       the genrenet binary. Only the module links libmpi; genrenet loads it with
#                       dlopen when a launcher starts it, so the binary runs where MPI is absent.
#   GENRENET_WITH_NCCL  MPI found, the CUDA path built and NCCL present (it ships with the CUDA
#                       toolkit): GPU gradients are all-reduced with NCCL, bootstrapped over MPI.
# Open MPI is BSD-3, NCCL BSD-3: both compatible with the MIT licence.
set(GENRENET_WITH_MPI OFF)
set(GENRENET_WITH_NCCL OFF)
add_library(genrenet_deps_mpi INTERFACE)         # what the MPI module links
add_library(genrenet_mpi_available INTERFACE)    # GENRENET_WITH_MPI=1 for code that asks
set(MPI_CXX_SKIP_MPICXX ON)  # the C API only; never the deprecated C++ bindings
find_package(MPI COMPONENTS CXX QUIET)
if(MPI_CXX_FOUND)
  set(GENRENET_WITH_MPI ON)
  target_link_libraries(genrenet_deps_mpi INTERFACE MPI::MPI_CXX)
  target_compile_definitions(genrenet_mpi_available INTERFACE GENRENET_WITH_MPI=1)
  if(GENRENET_WITH_CUDA)
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
    if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
      set(GENRENET_WITH_NCCL ON)
      add_library(genrenet_nccl UNKNOWN IMPORTED)
      set_target_properties(genrenet_nccl PROPERTIES
        IMPORTED_LOCATION ${NCCL_LIBRARY} INTERFACE_INCLUDE_DIRECTORIES ${NCCL_INCLUDE_DIR})
      target_link_libraries(genrenet_deps_mpi INTERFACE genrenet_nccl CUDA::cudart)
      target_compile_definitions(genrenet_deps_mpi INTERFACE GENRENET_WITH_NCCL=1)
    endif()
  endif()
endif()
# Tests find the launcher through this definition (an empty string: no MPI, the test skips).
set(GENRENET_MPIEXEC "")
if(GENRENET_WITH_MPI AND MPIEXEC_EXECUTABLE)
  set(GENRENET_MPIEXEC "${MPIEXEC_EXECUTABLE}")
endif()
message(STATUS "GenreNet distributed training: MPI ${GENRENET_WITH_MPI}, NCCL ${GENRENET_WITH_NCCL}")
