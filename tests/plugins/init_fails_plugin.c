/* A plugin whose init fails with its own message, after registering a kernel
 * that therefore must not be kept. */
#include <stdio.h>
#include <string.h>

#include "trainrt/plugin_abi.h"

static trt_status never_called(const trt_kernel_args* a) { (void)a; return TRT_ERR_INTERNAL; }

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  info->name = "test-init-fails";
  info->version = "0.0.1";
  trt_kernel_def k;
  memset(&k, 0, sizeof k);
  k.struct_size = sizeof k;
  k.abi_version = TRT_PLUGIN_ABI_VERSION;
  k.op = "test_init_fails_kernel";
  k.device_type = TRT_DEVICE_CPU;
  k.fn = never_called;
  host->register_kernel(host->host, &k);
  snprintf(error, cap, "license file /etc/test-plugin.lic not found");
  return TRT_ERR_IO;
}

TRT_PLUGIN_EXPORT(init)
