// The layers of the layer-examples plugin, as plugin.cpp registers them: each
// <layer>.cpp holds the shape rule, the CPU kernels and the definition; each
// <layer>.cu holds the CUDA kernels, compiled only when nvcc exists
// (TRT_PLUGIN_WITH_CUDA, set by trainrt_add_plugin).
#pragma once
#include <trainrt/plugin_abi.h>

#ifndef TRT_PLUGIN_WITH_CUDA
#define TRT_PLUGIN_WITH_CUDA 0
#endif

// The layer's definition with the kernels of `device` (CPU or CUDA).
trt_layer_def swish_layer(trt_device_type device);
trt_layer_def layernorm_layer(trt_device_type device);

#if TRT_PLUGIN_WITH_CUDA
// Defined in the .cu files; same arguments as the CPU kernels, on args->stream.
trt_status swish_forward_cuda(const trt_kernel_args* args);
trt_status swish_backward_cuda(const trt_kernel_args* args);
trt_status layernorm_forward_cuda(const trt_kernel_args* args);
trt_status layernorm_backward_cuda(const trt_kernel_args* args);
#endif
