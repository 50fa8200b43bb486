// The host side of the plugin ABI: the service table handed to a plugin's init,
// and the staging area its registrations go to until init succeeds.
#pragma once
#include <string>
#include <vector>

#include "trainrt/plugin_abi.h"

namespace trainrt {

struct PendingKernel {
  std::string op;
  int32_t device_type;
  trt_kernel_fn fn;
};
template <typename Def> struct PendingNamed {
  std::string name;
  Def def;
};

struct PendingRegistrations {
  std::vector<PendingKernel> kernels;
  std::vector<PendingNamed<trt_layer_def>> layers;
  std::vector<PendingNamed<trt_loader_def>> loaders;
  std::vector<PendingNamed<trt_collective_def>> collectives;
  std::string error;  // first bad registration, reported as the refusal reason
};

trt_host_api make_host_api(PendingRegistrations* pending);

}  // namespace trainrt
