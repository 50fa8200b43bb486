/* A plugin that registers a kernel without a function and ignores the error:
 * the host must refuse it and say why. */
#include <string.h>

#include "trainrt/plugin_abi.h"

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  (void)error; (void)cap;
  info->name = "test-bad-registration";
  trt_kernel_def k;
  memset(&k, 0, sizeof k);
  k.struct_size = sizeof k;
  k.abi_version = TRT_PLUGIN_ABI_VERSION;
  k.op = "test_null_kernel";
  k.device_type = TRT_DEVICE_CPU;
  k.fn = 0;
  (void)host->register_kernel(host->host, &k);
  return TRT_OK;
}

TRT_PLUGIN_EXPORT(init)
