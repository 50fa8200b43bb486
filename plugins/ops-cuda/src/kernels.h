// The ops-cuda plugin's kernel groups, one file each, named after their CPU
// twins in plugins/ops-cpu/src (elementwise.cu <-> elementwise.cpp, ...);
// plugin.cpp registers them all with the device.
#pragma once
#include "trainrt/plugin_abi.h"

namespace trt_cuda {

// Registers one CUDA kernel; returns false (with the host's reason) on refusal.
bool add_kernel(const trt_host_api* host, const char* op, trt_kernel_fn fn);

bool register_elementwise(const trt_host_api* host);  // elementwise.cu
bool register_random(const trt_host_api* host);       // random.cu
bool register_reduce(const trt_host_api* host);       // reduce.cu
bool register_loss(const trt_host_api* host);         // loss.cu
bool register_optim(const trt_host_api* host);        // optim.cu
bool register_linalg(const trt_host_api* host);       // linalg.cu (cuBLAS)
bool register_conv(const trt_host_api* host);         // conv_cudnn.cu (cuDNN)
bool register_pool(const trt_host_api* host);         // pool2d.cu

// The device backend: counts, properties, memory, copies, streams, events (device.cpp).
bool register_device(const trt_host_api* host);

}  // namespace trt_cuda
