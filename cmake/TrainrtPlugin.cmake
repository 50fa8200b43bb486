# trainrt_add_plugin(NAME SOURCES...): builds a dlopen'able plugin module into the
# plugin folder of the build tree (lib/trainrt/plugins) and installs it beside
# libtrainrt. A plugin needs only <trainrt/plugin_abi.h>; it never links libtrainrt.
function(trainrt_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIR" "SOURCES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/runtime/include)
  set(out ${TRAINRT_PLUGIN_OUTPUT_DIR})
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
