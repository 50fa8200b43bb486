// trainrt plugin SDK: small header-only C++17 helpers for plugin authors, on
// top of <trainrt/plugin_abi.h>: element counts, contiguity, typed data, the
// one-line error convention, attribute counts and a row-splitting parallel_for.
// It is not part of the ABI and links nothing (no libtrainrt): everything here
// is inline and compiled into the plugin. docs/plugins.md describes the contract.
#ifndef TRAINRT_PLUGIN_SDK_H
#define TRAINRT_PLUGIN_SDK_H

#include <algorithm>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <thread>
#include <type_traits>
#include <vector>

#include <trainrt/plugin_abi.h>

namespace trt_sdk {

// Number of elements of a view (1 for a scalar, 0 if any size is 0).
inline int64_t numel(const trt_tensor_view& v) {
  int64_t n = 1;
  for (int32_t i = 0; i < v.ndim; ++i) n *= v.sizes[i];
  return n;
}

// True when the elements lie row-major without gaps (sizes of 1 may have any
// stride; a view without elements is contiguous). Layer inputs are contiguous
// unless the layer sets TRT_LAYER_STRIDED_INPUTS; outputs always are.
inline bool is_contiguous(const trt_tensor_view& v) {
  if (numel(v) == 0) return true;
  int64_t expected = 1;
  for (int32_t i = v.ndim - 1; i >= 0; --i) {
    if (v.sizes[i] == 1) continue;
    if (v.strides[i] != expected) return false;
    expected *= v.sizes[i];
  }
  return true;
}

// The trt_dtype of a C++ element type: dtype_of<float>() == TRT_FLOAT32.
template <class T>
constexpr int32_t dtype_of() {
  using U = std::remove_cv_t<T>;
  static_assert(std::is_same_v<U, float> || std::is_same_v<U, double> || std::is_same_v<U, int64_t> ||
                    std::is_same_v<U, uint8_t>,
                "trt_sdk::dtype_of: float, double, int64_t or uint8_t");
  if constexpr (std::is_same_v<U, float>) return TRT_FLOAT32;
  else if constexpr (std::is_same_v<U, double>) return TRT_FLOAT64;
  else if constexpr (std::is_same_v<U, int64_t>) return TRT_INT64;
  else return TRT_UINT8;
}

inline const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case TRT_FLOAT32: return "float32";
    case TRT_FLOAT64: return "float64";
    case TRT_INT64: return "int64";
    case TRT_UINT8: return "uint8";
    case TRT_FLOAT16: return "float16";
    case TRT_BFLOAT16: return "bfloat16";
    default: return "unknown dtype";
  }
}

// Typed element pointer: data<float>(args->inputs[0]). The caller checks the
// dtype first (view.dtype == dtype_of<T>()); the pointer is valid only during
// the kernel call.
template <class T>
T* data(const trt_tensor_view& v) {
  return static_cast<T*>(v.data);
}

// Writes a printf-formatted message into error (truncated to capacity, newlines
// turned into spaces so it stays one line) and returns status:
//   return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "swish: expected float32, got %s", name);
inline trt_status vfail(char* error, size_t capacity, trt_status status, const char* format, va_list list) {
  if (error && capacity > 0) {
    std::vsnprintf(error, capacity, format, list);
    for (char* c = error; *c; ++c)
      if (*c == '\n' || *c == '\r') *c = ' ';
  }
  return status;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
inline trt_status fail(char* error, size_t capacity, trt_status status, const char* format, ...) {
  va_list list;
  va_start(list, format);
  vfail(error, capacity, status, format, list);
  va_end(list);
  return status;
}

// The same for a kernel: the message goes into args->error.
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
inline trt_status fail(const trt_kernel_args* args, trt_status status, const char* format, ...) {
  va_list list;
  va_start(list, format);
  vfail(args->error, args->error_capacity, status, format, list);
  va_end(list);
  return status;
}

// Checks that a kernel received at least the declared number of float and
// integer attributes (the host passes every declared one, defaults applied,
// so a shortfall means the layer is called through an older path).
inline trt_status expect_attrs(const trt_kernel_args* args, const char* layer, int32_t n_floats, int32_t n_ints) {
  if (args->n_float_attrs < n_floats || args->n_int_attrs < n_ints)
    return fail(args, TRT_ERR_INVALID_ARGUMENT, "%s: expected %d float and %d integer attributes, got %d and %d", layer,
                n_floats, n_ints, args->n_float_attrs, args->n_int_attrs);
  return TRT_OK;
}

// The run's `threads` setting (>= 1): how many threads a CPU kernel may use.
inline int num_threads(const trt_kernel_args* args) {
  size_t needed = offsetof(trt_kernel_args, num_threads) + sizeof(args->num_threads);
  if (args->struct_size < needed) return 1;
  return std::max<int32_t>(1, args->num_threads);
}

// Calls fn(begin, end) on disjoint ranges covering [0, n), on up to
// num_threads(args) threads (the calling one included), each range at least
// `grain` long; runs inline when n <= grain or one thread is allowed. Returns
// TRT_OK, or TRT_ERR_INTERNAL with a message in args->error if fn threw (no
// exception may cross the ABI). fn must not write to the same element from two
// ranges; results that sum over ranges should be computed per element so they
// do not depend on the thread count.
template <class Fn>
trt_status parallel_for(const trt_kernel_args* args, int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return TRT_OK;
  grain = std::max<int64_t>(1, grain);
  int64_t chunks = std::min<int64_t>(num_threads(args), (n + grain - 1) / grain);
  auto run = [&](int64_t begin, int64_t end, std::exception_ptr* failure) {
    try {
      fn(begin, end);
    } catch (...) {
      *failure = std::current_exception();
    }
  };
  std::vector<std::exception_ptr> failures(size_t(std::max<int64_t>(1, chunks)));
  if (chunks <= 1) {
    run(0, n, &failures[0]);
  } else {
    int64_t step = (n + chunks - 1) / chunks;
    std::vector<std::thread> workers;
    workers.reserve(size_t(chunks - 1));
    for (int64_t c = 1; c < chunks; ++c) {
      int64_t begin = c * step, end = std::min(n, begin + step);
      if (begin >= end) break;
      try {
        workers.emplace_back(run, begin, end, &failures[size_t(c)]);
      } catch (...) {  // no thread to be had: do the range here
        run(begin, end, &failures[size_t(c)]);
      }
    }
    run(0, std::min(n, step), &failures[0]);
    for (auto& w : workers) w.join();
  }
  for (auto& f : failures) {
    if (!f) continue;
    try {
      std::rethrow_exception(f);
    } catch (const std::bad_alloc&) {
      return fail(args, TRT_ERR_OUT_OF_MEMORY, "parallel_for: out of memory");
    } catch (const std::exception& e) {
      return fail(args, TRT_ERR_INTERNAL, "parallel_for: %s", e.what());
    } catch (...) {
      return fail(args, TRT_ERR_INTERNAL, "parallel_for: unknown exception");
    }
  }
  return TRT_OK;
}

}  // namespace trt_sdk

#endif  // TRAINRT_PLUGIN_SDK_H
