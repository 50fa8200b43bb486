/* A collective backend that only creates communicators and barriers: the host
 * must say "partial does not support all_reduce" (and the like) by name. */
#include <stdlib.h>

#include "trainrt/plugin_abi.h"

static int dummy;

static trt_status create(const trt_comm_options* options, void** comm, char* error, size_t capacity) {
  (void)options; (void)error; (void)capacity;
  *comm = &dummy;
  return TRT_OK;
}
static trt_status barrier(void* comm, void** work, char* error, size_t capacity) {
  (void)comm; (void)error; (void)capacity;
  *work = &dummy;
  return TRT_OK;
}
static trt_status work_wait(void* work, int64_t timeout_ms, char* error, size_t capacity) {
  (void)work; (void)timeout_ms; (void)error; (void)capacity;
  return TRT_OK;
}
static trt_status work_test(void* work, int32_t* done, char* error, size_t capacity) {
  (void)work; (void)error; (void)capacity;
  *done = 1;
  return TRT_OK;
}
static void work_free(void* work) { (void)work; }
static void abort_comm(void* comm) { (void)comm; }
static void destroy(void* comm) { (void)comm; }

static trt_collective_backend backend = {sizeof(trt_collective_backend), TRT_PLUGIN_ABI_VERSION, create, NULL, NULL,
                                         NULL, NULL, barrier, work_wait, work_test, work_free, abort_comm, destroy};

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t capacity) {
  (void)error; (void)capacity;
  info->name = "test-partial-collective";
  trt_collective_def def = {sizeof(trt_collective_def), TRT_PLUGIN_ABI_VERSION, "partial", TRT_DEVICE_CPU, &backend};
  return host->register_collective(host->host, &def);
}

TRT_PLUGIN_EXPORT(init)
