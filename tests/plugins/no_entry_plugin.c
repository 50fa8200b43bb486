/* A shared object that forgot TRT_PLUGIN_EXPORT: no trt_plugin_init_v1 symbol. */
#include "trainrt/plugin_abi.h"

__attribute__((visibility("default"))) int trt_plugin_something_else(void) { return 42; }
