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

// A layer's def plus host-owned copies of its attribute declarations (the
// plugin's array need not outlive init); def.attrs is repointed at commit.
struct PendingLayer {
  std::string name;
  trt_layer_def def;
  std::vector<std::string> attr_names;
  std::vector<trt_layer_attr> attrs;
};

// A collective backend's table is copied (up to the smaller struct_size), so
// an older plugin's shorter table reads its missing entries as NULL.
struct PendingCollective {
  std::string name;
  int32_t device_type;
  trt_collective_backend backend;
};

// A device backend's table, copied like a collective's.
struct PendingDevice {
  std::string name;
  int32_t device_type;
  trt_device_backend backend;
};

struct PendingRegistrations {
  std::vector<PendingKernel> kernels;
  std::vector<PendingLayer> layers;
  std::vector<PendingNamed<trt_loader_def>> loaders;
  std::vector<PendingCollective> collectives;
  std::vector<PendingDevice> devices;
  std::string error;  // first bad registration, reported as the refusal reason
};

trt_host_api make_host_api(PendingRegistrations* pending);

}  // namespace trainrt
