# trainrt_add_plugin(NAME SOURCES a.cpp b.cu ... [REQUIRE_CUDA] [OUTPUT_DIR dir] [NO_INSTALL])
# builds a dlopen'able plugin module trt-NAME.so and installs it into
# lib/trainrt/plugins. In trainrt's own tree it lands in the build tree's plugin
# folder; out of tree (find_package(trainrt)) in the current binary dir.
#
# A plugin links only trainrt::plugin_abi (the headers plugin_abi.h and
# plugin_sdk.h), never libtrainrt. CUDA sources (.cu) are compiled when a CUDA
# compiler is found; otherwise they are left out with one status line and the
# plugin is built from its other sources alone. Every source sees
# TRT_PLUGIN_WITH_CUDA=1 when the .cu files are compiled and 0 when not, so the
# plugin registers its CUDA kernels only when they exist. REQUIRE_CUDA turns a
# missing CUDA compiler into a configure error instead.
#
# CUDA: the runtime is linked statically (never libcudart.so, never the driver
# stub), so the plugin loads on a machine without a GPU driver; the
# architectures default to 80-real;90 (SASS for A100 and H100, PTX of 90 for
# newer GPUs) unless CMAKE_CUDA_ARCHITECTURES or CUDAARCHS says otherwise.
#
# trainrt_add_plugin is a macro because enable_language(CUDA) must run at file
# scope: call it at the file scope of a CMakeLists.txt. Inside a function it
# works only where CUDA is enabled already (and says so otherwise).
include_guard(GLOBAL)
include(CheckLanguage)

if(NOT TRAINRT_PLUGIN_INSTALL_DIR)
  set(TRAINRT_PLUGIN_INSTALL_DIR lib/trainrt/plugins)
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90" CACHE STRING
    "CUDA architectures of trainrt plugins (default: SASS for sm_80, SASS and PTX for sm_90)")
endif()

# trainrt_find_cuda(<found-var> [<reason-var>]): whether .cu files can be
# compiled. check_language(CUDA) tries a test project once and caches
# CMAKE_CUDA_COMPILER (a path, or NOTFOUND); it does nothing when
# CMAKE_CUDA_COMPILER is already set, so a path that does not exist is caught here.
function(trainrt_find_cuda found_var)
  check_language(CUDA)
  set(found OFF)
  if(NOT CMAKE_CUDA_COMPILER)
    set(reason "no CUDA compiler: nvcc is not on PATH (nor named by CUDACXX or CMAKE_CUDA_COMPILER)")
  elseif(IS_ABSOLUTE "${CMAKE_CUDA_COMPILER}" AND NOT EXISTS "${CMAKE_CUDA_COMPILER}")
    set(reason "CMAKE_CUDA_COMPILER=${CMAKE_CUDA_COMPILER} does not exist")
  else()
    set(found ON)
    set(reason "CUDA compiler ${CMAKE_CUDA_COMPILER}")
  endif()
  set(${found_var} ${found} PARENT_SCOPE)
  if(ARGC GREATER 1)
    set(${ARGV1} "${reason}" PARENT_SCOPE)
  endif()
endfunction()

macro(trainrt_add_plugin _trt_name)
  # Only what must happen in the caller's scope is here (enable_language); the
  # target is made by _trainrt_add_plugin. Variables are _trt_-prefixed and unset.
  set(_trt_args ${ARGN})
  set(_trt_cuda_sources "")
  foreach(_trt_arg IN LISTS _trt_args)
    if(_trt_arg MATCHES "\\.cu$")
      list(APPEND _trt_cuda_sources "${_trt_arg}")
    endif()
  endforeach()
  set(_trt_with_cuda OFF)
  if(_trt_cuda_sources)
    trainrt_find_cuda(_trt_with_cuda _trt_cuda_reason)
    if(NOT _trt_with_cuda AND "REQUIRE_CUDA" IN_LIST _trt_args)
      list(JOIN _trt_cuda_sources " " _trt_cuda_sources)
      message(FATAL_ERROR "trainrt plugin ${_trt_name} is REQUIRE_CUDA but cannot compile ${_trt_cuda_sources}: "
        "${_trt_cuda_reason}. Pass -DCMAKE_CUDA_COMPILER=/path/to/nvcc, or put nvcc on PATH and "
        "configure a fresh build directory (the search result is cached).")
    endif()
    # Enabled already in this directory (the caller did it at file scope): done.
    if(_trt_with_cuda AND NOT DEFINED CMAKE_CUDA_COMPILE_OBJECT)
      if(CMAKE_CURRENT_FUNCTION)
        message(FATAL_ERROR "trainrt_add_plugin(${_trt_name}) has CUDA sources and was called inside function "
          "${CMAKE_CURRENT_FUNCTION}(), but enable_language(CUDA) only works at file scope: call "
          "trainrt_add_plugin at the top level of a CMakeLists.txt, or enable_language(CUDA) there first.")
      endif()
      enable_language(CUDA)
    endif()
    # CMake 3.25 does not know how to ask nvcc for C++20; nvcc 12+ takes -std=c++20.
    if(_trt_with_cuda AND NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
  elseif("REQUIRE_CUDA" IN_LIST _trt_args)
    message(FATAL_ERROR "trainrt plugin ${_trt_name} is REQUIRE_CUDA but has no .cu sources")
  endif()
  _trainrt_add_plugin(${_trt_name} ${_trt_with_cuda} "${_trt_cuda_reason}" ${ARGN})
  unset(_trt_args)
  unset(_trt_arg)
  unset(_trt_cuda_sources)
  unset(_trt_with_cuda)
  unset(_trt_cuda_reason)
endmacro()

function(_trainrt_add_plugin name with_cuda cuda_reason)
  cmake_parse_arguments(ARG "NO_INSTALL;REQUIRE_CUDA" "OUTPUT_DIR" "SOURCES" ${ARGN})
  set(sources "")
  set(cuda_sources "")
  foreach(src IN LISTS ARG_SOURCES ARG_UNPARSED_ARGUMENTS)
    if(src MATCHES "\\.cu$")
      list(APPEND cuda_sources "${src}")
    else()
      list(APPEND sources "${src}")
    endif()
  endforeach()
  if(cuda_sources AND NOT with_cuda)
    list(JOIN cuda_sources " " shown)
    message(STATUS "trainrt plugin ${name}: ${cuda_reason}; building it without ${shown} "
      "(TRT_PLUGIN_WITH_CUDA=0: CPU layers only)")
    set(cuda_sources "")
  endif()
  add_library(${name} MODULE ${sources} ${cuda_sources})
  target_link_libraries(${name} PRIVATE trainrt::plugin_abi)
  set(out ${CMAKE_CURRENT_BINARY_DIR})
  if(TRAINRT_PLUGIN_OUTPUT_DIR)
    set(out ${TRAINRT_PLUGIN_OUTPUT_DIR})
  endif()
  if(ARG_OUTPUT_DIR)
    set(out ${ARG_OUTPUT_DIR})
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX "" OUTPUT_NAME "trt-${name}"
    LIBRARY_OUTPUT_DIRECTORY ${out}
    CXX_VISIBILITY_PRESET hidden C_VISIBILITY_PRESET hidden)
  if(cuda_sources)
    target_compile_definitions(${name} PRIVATE TRT_PLUGIN_WITH_CUDA=1)
    # Static cudart: it dlopens libcuda.so.1 on first use, so the module loads
    # (and its CPU layers run) where no driver is installed.
    set_target_properties(${name} PROPERTIES
      CUDA_RUNTIME_LIBRARY Static CUDA_VISIBILITY_PRESET hidden CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
  else()
    target_compile_definitions(${name} PRIVATE TRT_PLUGIN_WITH_CUDA=0)
  endif()
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(NOT ARG_NO_INSTALL)
    set_property(GLOBAL APPEND PROPERTY TRAINRT_PLUGIN_TARGETS ${name})
    install(TARGETS ${name} LIBRARY DESTINATION ${TRAINRT_PLUGIN_INSTALL_DIR})
  endif()
endfunction()
