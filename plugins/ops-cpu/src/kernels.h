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

// Kernels that a fused kernel runs piecewise (their docs/ops.md contracts).
trt_status run_conv2d_relu(const trt_kernel_args* a);  // conv_pool.cpp
trt_status run_max_pool2d(const trt_kernel_args* a);   // pool2d.cpp
trt_status run_max_pool2d_backward_relu(const trt_kernel_args* a);        // pool2d.cpp
trt_status run_conv2d_backward_weight_bias(const trt_kernel_args* a);     // conv_pool.cpp
// pool_relu_conv2d_backward_weight_bias (conv_pool_backward.cpp), registered by register_conv_pool.
trt_status pool_relu_conv2d_backward_weight_bias_kernel(const trt_kernel_args* a);
// conv2d_relu_max_pool2d (conv_relu_pool.cpp), registered by register_conv_pool.
trt_status conv2d_relu_max_pool2d_kernel(const trt_kernel_args* a);
// elementwise_chain (elementwise_chain.cpp), registered by register_elementwise.
trt_status elementwise_chain_kernel(const trt_kernel_args* a);

}  // namespace trt_cpu
