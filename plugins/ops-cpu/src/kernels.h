// The ops-cpu plugin's kernel groups, one file each; plugin.cpp registers them all.
#pragma once
#include "trainrt/plugin_abi.h"

namespace trt_cpu {

// Registers one kernel; returns false (with the host's reason) on refusal.
bool add_kernel(const trt_host_api* host, const char* op, trt_kernel_fn fn);

bool register_elementwise(const trt_host_api* host);  // elementwise.cpp
bool register_random(const trt_host_api* host);       // random.cpp
bool register_reduce(const trt_host_api* host);       // reduce.cpp
bool register_linalg(const trt_host_api* host);       // linalg.cpp
bool register_conv_pool(const trt_host_api* host);    // conv_pool.cpp
bool register_loss(const trt_host_api* host);         // loss.cpp
bool register_optim(const trt_host_api* host);        // optim.cpp

}  // namespace trt_cpu
