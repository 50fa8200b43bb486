# trainrt_add_plugin(NAME SOURCES... [OUTPUT_DIR dir] [NO_INSTALL]): builds a
# dlopen'able plugin module named trt-NAME.so and installs it into
# lib/trainrt/plugins. In trainrt's own tree it lands in the build tree's plugin
# folder; out of tree (find_package(trainrt)) in the current binary dir.
# A plugin needs only <trainrt/plugin_abi.h>; it never links libtrainrt.
if(NOT TRAINRT_PLUGIN_INSTALL_DIR)
  set(TRAINRT_PLUGIN_INSTALL_DIR lib/trainrt/plugins)
endif()
function(trainrt_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIR" "SOURCES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_include_directories(${name} PRIVATE ${TRAINRT_PLUGIN_INCLUDE_DIR})
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
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(NOT ARG_NO_INSTALL)
    set_property(GLOBAL APPEND PROPERTY TRAINRT_PLUGIN_TARGETS ${name})
    install(TARGETS ${name} LIBRARY DESTINATION ${TRAINRT_PLUGIN_INSTALL_DIR})
  endif()
endfunction()
