# ML-KIZUNA: kizuna's Behler-Parrinello neural-network potentials compiled into LAMMPS
# (pair_style kizuna, compute kizuna/deviation). Goes to <lammps>/cmake/Modules/Packages/;
# kizuna's lammps_plugin/install_lammps_package.py puts it there, copies the package into
# <lammps>/src/ML-KIZUNA and adds ML-KIZUNA to the package lists of <lammps>/cmake/CMakeLists.txt.
#
# LAMMPS's own package loop compiles src/ML-KIZUNA/*.cpp (the adapter) and registers its styles
# (pair_kizuna_style.h, compute_kizuna_deviation_style.h); this file adds the kizuna core
# (src/ML-KIZUNA/kizuna: the C++ core, CPU only) to the lammps target, with C++17 and OpenMP.
# KIZUNA_ARCH=native tunes the core for the build machine's CPU (default: the compiler's).

set(KIZUNA_CORE_DIR ${LAMMPS_SOURCE_DIR}/ML-KIZUNA/kizuna)
if(NOT EXISTS ${KIZUNA_CORE_DIR}/include/kizuna/potential.hpp)
  message(FATAL_ERROR "ML-KIZUNA: ${KIZUNA_CORE_DIR} has no kizuna core; install the package with "
                      "python3 <kizuna>/lammps_plugin/install_lammps_package.py <lammps>")
endif()
set(KIZUNA_ARCH "" CACHE STRING "ML-KIZUNA: -march of the kizuna core (empty: compiler default)")
file(GLOB KIZUNA_CORE_SOURCES CONFIGURE_DEPENDS ${KIZUNA_CORE_DIR}/src/*.cpp)
target_sources(lammps PRIVATE ${KIZUNA_CORE_SOURCES})
target_include_directories(lammps PRIVATE ${KIZUNA_CORE_DIR}/include)
target_compile_features(lammps PRIVATE cxx_std_17)
set(_kizuna_options -O3 -fno-math-errno)
if(KIZUNA_ARCH)
  list(APPEND _kizuna_options -march=${KIZUNA_ARCH})
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang|Intel")
  set_source_files_properties(${KIZUNA_CORE_SOURCES} PROPERTIES COMPILE_OPTIONS "${_kizuna_options}")
endif()
# the core parallelises over atoms with OpenMP (`threads` keyword); LAMMPS links OpenMP itself
# when BUILD_OMP is on, otherwise the core runs one thread per MPI rank
find_package(OpenMP COMPONENTS CXX QUIET)
if(OpenMP_CXX_FOUND)
  target_link_libraries(lammps PRIVATE OpenMP::OpenMP_CXX)
endif()
