/* A plugin that registers a name someone already has, built once per kind
 * (tests/plugins/CMakeLists.txt): DUP_KERNEL registers the cpu kernel "add"
 * (ops-cpu's), DUP_LOADER the loader "csv" (loader-csv's), DUP_LAYER the layer
 * "test_double" (test-layer-name's), DUP_COLLECTIVE the backend "gloo"
 * (coll-gloo's), DUP_SELF the kernel "test_twice" twice in its own init. The
 * host must refuse each, naming both plugins, and keep the first one's entry. */
#include <string.h>

#include "trainrt/plugin_abi.h"

/* Each variant uses only some of the pieces below. */
#define UNUSED __attribute__((unused))

UNUSED static trt_status kernel(const trt_kernel_args* a) {
  (void)a;
  return TRT_OK;
}

UNUSED static int dummy;
UNUSED static trt_status create(const trt_comm_options* options, void** comm, char* error, size_t capacity) {
  (void)options; (void)error; (void)capacity;
  *comm = &dummy;
  return TRT_OK;
}
UNUSED static trt_status work_wait(void* work, int64_t timeout_ms, char* error, size_t capacity) {
  (void)work; (void)timeout_ms; (void)error; (void)capacity;
  return TRT_OK;
}
UNUSED static trt_status work_test(void* work, int32_t* done, char* error, size_t capacity) {
  (void)work; (void)error; (void)capacity;
  *done = 1;
  return TRT_OK;
}
UNUSED static void work_free(void* work) { (void)work; }
UNUSED static void abort_comm(void* comm) { (void)comm; }
UNUSED static void destroy(void* comm) { (void)comm; }
UNUSED static trt_collective_backend backend = {sizeof(trt_collective_backend), TRT_PLUGIN_ABI_VERSION, create, NULL, NULL,
                                         NULL, NULL, NULL, work_wait, work_test, work_free, abort_comm, destroy};

UNUSED static trt_status infer(const trt_tensor_view* in, int32_t n, const double* attrs, int32_t n_attrs, int64_t* sizes,
                        int32_t* ndim, int32_t* dtype, char* error, size_t cap) {
  (void)in; (void)n; (void)attrs; (void)n_attrs; (void)sizes; (void)error; (void)cap;
  *ndim = 0;
  *dtype = TRT_FLOAT32;
  return TRT_OK;
}

UNUSED static trt_status open_fn(const char* options, void** handle, char* error, size_t cap) {
  (void)options; (void)error; (void)cap;
  *handle = &dummy;
  return TRT_OK;
}
UNUSED static int64_t length(void* h) { (void)h; return 0; }
UNUSED static int32_t fields(void* h) { (void)h; return 1; }
UNUSED static trt_status spec(void* h, int32_t field, trt_sample_spec* s) { (void)h; (void)field; (void)s; return TRT_OK; }
UNUSED static trt_status read_fn(void* h, int64_t i, int32_t f, void* dst, char* error, size_t cap) {
  (void)h; (void)i; (void)f; (void)dst; (void)error; (void)cap;
  return TRT_OK;
}
UNUSED static void close_fn(void* h) { (void)h; }

UNUSED static trt_status register_kernel(const trt_host_api* host, const char* op) {
  trt_kernel_def k;
  memset(&k, 0, sizeof k);
  k.struct_size = sizeof k;
  k.abi_version = TRT_PLUGIN_ABI_VERSION;
  k.op = op;
  k.device_type = TRT_DEVICE_CPU;
  k.fn = kernel;
  return host->register_kernel(host->host, &k);
}

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  (void)error; (void)cap;
  info->name = TEST_PLUGIN_NAME;
  info->version = "1.0.0";
  info->description = "registers a name that is taken";
#if defined(DUP_KERNEL)
  return register_kernel(host, "add");
#elif defined(DUP_SELF)
  trt_status s = register_kernel(host, "test_twice");
  return s != TRT_OK ? s : register_kernel(host, "test_twice");
#elif defined(DUP_LOADER)
  trt_loader_def l;
  memset(&l, 0, sizeof l);
  l.struct_size = sizeof l;
  l.abi_version = TRT_PLUGIN_ABI_VERSION;
  l.name = "csv";
  l.open = open_fn;
  l.length = length;
  l.num_fields = fields;
  l.field_spec = spec;
  l.read = read_fn;
  l.close = close_fn;
  return host->register_loader(host->host, &l);
#elif defined(DUP_LAYER)
  trt_layer_def d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.abi_version = TRT_PLUGIN_ABI_VERSION;
  d.name = "test_double";
  d.device_type = TRT_DEVICE_CPU;
  d.n_inputs = 1;
  d.infer = infer;
  d.forward = kernel;
  return host->register_layer(host->host, &d);
#elif defined(DUP_COLLECTIVE)
  trt_collective_def def = {sizeof(trt_collective_def), TRT_PLUGIN_ABI_VERSION, "gloo", TRT_DEVICE_CPU, &backend};
  return host->register_collective(host->host, &def);
#else
#error "define one of DUP_KERNEL, DUP_SELF, DUP_LOADER, DUP_LAYER, DUP_COLLECTIVE"
#endif
}

TRT_PLUGIN_EXPORT(init)
