// The versions of cuDNN, NCCL and the CUDA driver for `trainrt doctor`, found
// the way a run finds them: dlopen the library (RTLD_LAZY, local) and call its
// version function. Nothing is linked, so a CPU-only build reports "not found"
// with dlerror's reason. Not here: the CUDA runtime's version (the ops-cuda
// plugin reports it with the device properties).
#include <dlfcn.h>

#include <string>

#include "cli/doctor.h"

namespace trainrt::cli::doctor {
namespace {

// Versions coded as major*10000 + minor*100 + patch (cuDNN 9, NCCL >= 2.9) or
// major*1000 + minor*100 + patch (cuDNN 8, older NCCL).
std::string coded_version(long code) {
  const long scale = code >= 10000 ? 10000 : 1000;
  return std::to_string(code / scale) + "." + std::to_string(code % scale / 100) + "." + std::to_string(code % 100);
}

std::string file_of(void* symbol, const std::string& fallback) {
  Dl_info info{};
  return ::dladdr(symbol, &info) != 0 && info.dli_fname ? info.dli_fname : fallback;
}

// Opens the first of `names` that loads and looks up `symbol`; the handle stays
// open while `read` calls it, then is closed.
template <typename Fn, typename Read>
LibraryVersion probe(std::initializer_list<const char*> names, const char* symbol, Read read) {
  LibraryVersion out;
  for (const char* name : names) {
    void* handle = ::dlopen(name, RTLD_LAZY | RTLD_LOCAL);
    if (!handle) {
      if (out.why.empty()) {
        const char* error = ::dlerror();
        out.why = error ? error : std::string(name) + ": cannot open";
      }
      continue;
    }
    void* fn = ::dlsym(handle, symbol);
    if (!fn) {
      out.why = std::string(name) + " has no " + symbol;
    } else {
      out.path = file_of(fn, name);
      out.found = read(reinterpret_cast<Fn>(fn), out);
    }
    ::dlclose(handle);
    if (out.found) {
      out.why.clear();
      return out;
    }
  }
  return out;
}

}  // namespace

std::string cuda_version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

LibraryVersion cudnn_version() {
  using GetVersion = size_t (*)();
  return probe<GetVersion>({"libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"}, "cudnnGetVersion",
                           [](GetVersion get, LibraryVersion& out) {
                             out.version = coded_version(static_cast<long>(get()));
                             return true;
                           });
}

LibraryVersion nccl_version() {
  using GetVersion = int (*)(int*);  // ncclResult_t ncclGetVersion(int*)
  return probe<GetVersion>({"libnccl.so.2", "libnccl.so"}, "ncclGetVersion", [](GetVersion get, LibraryVersion& out) {
    int code = 0;
    if (get(&code) != 0) {
      out.why = "ncclGetVersion failed";
      return false;
    }
    out.version = coded_version(code);
    return true;
  });
}

LibraryVersion cuda_driver_version() {
  using GetVersion = int (*)(int*);  // CUresult cuDriverGetVersion(int*): needs no cuInit
  return probe<GetVersion>({"libcuda.so.1"}, "cuDriverGetVersion", [](GetVersion get, LibraryVersion& out) {
    int version = 0;
    if (get(&version) != 0) {
      out.why = "cuDriverGetVersion failed";
      return false;
    }
    out.version = cuda_version_text(version);
    return true;
  });
}

}  // namespace trainrt::cli::doctor
