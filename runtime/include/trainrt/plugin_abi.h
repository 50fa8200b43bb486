/* trainrt plugin ABI: the only header a plugin needs.
 *
 * Plain C so that a plugin built with any compiler (g++, nvcc, clang) talks to
 * the host through a stable boundary. Rules:
 *   - every struct starts with struct_size and abi_version and only ever grows
 *     (append-only); a reader checks struct_size before touching a new field;
 *   - no C++ exception crosses this boundary: every call returns trt_status and
 *     writes a one-line message into the caller's error buffer on failure;
 *   - the entry symbol carries the major ABI version: trt_plugin_init_v1.
 * It deliberately says nothing about C++ tensors or autograd: the host owns those.
 */
#ifndef TRAINRT_PLUGIN_ABI_H
#define TRAINRT_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TRT_PLUGIN_ABI_VERSION
#define TRT_PLUGIN_ABI_VERSION 1
#endif
/* Minor revision of this header: fields appended without breaking version 1
 * (1: trt_layer_def gained outputs, attributes, parameters, flags;
 *  2: device plugins, trt_device_def and trt_host_api.register_device). */
#ifndef TRT_PLUGIN_ABI_MINOR
#define TRT_PLUGIN_ABI_MINOR 2
#endif

#define TRT_MAX_DIMS 8

typedef enum trt_status {
  TRT_OK = 0,
  TRT_ERR_INVALID_ARGUMENT = 1, /* bad shape, dtype, attribute or value */
  TRT_ERR_UNSUPPORTED = 2,      /* valid request this plugin cannot serve */
  TRT_ERR_OUT_OF_MEMORY = 3,
  TRT_ERR_IO = 4,               /* file missing, truncated, unreadable */
  TRT_ERR_ABI = 5,              /* version or struct size mismatch */
  TRT_ERR_INTERNAL = 6,
  TRT_ERR_TIMEOUT = 7,          /* a wait ran out of time; the operation may still be pending */
  TRT_ERR_ABORTED = 8           /* a communicator was aborted (a peer failed, a timeout) */
} trt_status;

/* Values are stable: they are stored in checkpoints and crossed by plugins. */
typedef enum trt_dtype {
  TRT_FLOAT32 = 0,
  TRT_FLOAT64 = 1,
  TRT_INT64 = 2,
  TRT_UINT8 = 3,
  TRT_FLOAT16 = 4, /* reserved: storage only, no kernels yet */
  TRT_BFLOAT16 = 5 /* reserved: storage only, no kernels yet */
} trt_dtype;

typedef enum trt_device_type { TRT_DEVICE_CPU = 0, TRT_DEVICE_CUDA = 1 } trt_device_type;

typedef enum trt_log_level { TRT_LOG_DEBUG = 0, TRT_LOG_INFO = 1, TRT_LOG_WARN = 2, TRT_LOG_ERROR = 3 } trt_log_level;

/* A tensor as a kernel sees it: data points at element 0 (offset applied),
 * strides are in elements and may be 0 (broadcast) or non-contiguous. */
typedef struct trt_tensor_view {
  uint32_t struct_size;
  int32_t dtype;        /* trt_dtype */
  int32_t device_type;  /* trt_device_type */
  int32_t device_index;
  int32_t ndim;         /* 0 = scalar */
  void* data;
  int64_t sizes[TRT_MAX_DIMS];
  int64_t strides[TRT_MAX_DIMS];
} trt_tensor_view;

/* Everything one kernel call needs. The host has already checked shapes,
 * dtypes and devices and allocated the outputs; the per-op meaning of inputs,
 * outputs and attributes is documented in docs/ops.md. */
typedef struct trt_kernel_args {
  uint32_t struct_size;
  uint32_t abi_version;
  const trt_tensor_view* inputs;
  int32_t n_inputs;
  const trt_tensor_view* outputs;
  int32_t n_outputs;
  const int64_t* int_attrs;
  int32_t n_int_attrs;
  const double* float_attrs;
  int32_t n_float_attrs;
  void* stream;        /* (optional) device stream; NULL on CPU */
  int32_t num_threads; /* the run's `threads` setting, >= 1 */
  char* error;         /* kernel writes a one-line reason here on failure */
  size_t error_capacity;
} trt_kernel_args;

typedef trt_status (*trt_kernel_fn)(const trt_kernel_args* args);

/* Registers the kernel of a built-in op (names listed in docs/ops.md) for a
 * device type. The host does the rest: shapes, autograd, dispatch. */
typedef struct trt_kernel_def {
  uint32_t struct_size;
  uint32_t abi_version;
  const char* op;     /* e.g. "add", "matmul", "conv2d" */
  int32_t device_type;
  trt_kernel_fn fn;
} trt_kernel_def;

/* ---- Layers ---------------------------------------------------------------
 * A new differentiable op ("layer") supplied whole by a plugin: its own shape
 * rule, forward kernel and (optional) backward kernel. From Lua:
 *   y = trainrt.layer("swish", {x}, {beta = 1.5})       -- named attributes
 *   y, mean, rstd = trainrt.layer("layernorm", {x, gamma, beta})
 *   local LayerNorm = nn.PluginLayer("layernorm")          -- a module with parameters
 * The contract (docs/plugins.md and examples/custom-layer-plugin/README.md):
 *   - inputs: the views a kernel gets are contiguous, unless the layer sets
 *     TRT_LAYER_STRIDED_INPUTS in flags (then sizes/strides are as the script
 *     made them: transposed, narrowed, expanded with stride 0);
 *   - outputs: allocated contiguous by the host from infer's shapes;
 *   - forward: inputs = layer inputs, outputs = n_outputs results;
 *   - backward: inputs = [layer inputs..., outputs..., grad_outputs...] (one
 *     grad_output per output, zeros for an output nothing used or one marked
 *     non-differentiable), outputs = one gradient per layer input, pre-zeroed;
 *     a kernel may leave a gradient at zero. Its inputs follow the input rule:
 *     contiguous, or with TRT_LAYER_STRIDED_INPUTS as autograd delivered them
 *     (a grad_output may then be transposed, or expanded with stride 0);
 *   - attributes: declared in attrs (name, kind, default); the host passes the
 *     float ones in float_attrs and the integer ones in int_attrs, each in
 *     declaration order. A layer that declares none gets the script's numbers
 *     positionally in float_attrs (ABI 1.0 behaviour);
 *   - parameters: the last n_params inputs; param() says their names, shapes
 *     and initialisation, so nn.PluginLayer can create them.
 * Fields after `backward` were appended in ABI 1.1: a plugin built against the
 * older header has a smaller struct_size, and they read as zero. */

typedef enum trt_layer_flags {
  TRT_LAYER_STRIDED_INPUTS = 1 /* kernels honour strides: the host does not copy inputs to contiguous */
} trt_layer_flags;

typedef enum trt_attr_kind { TRT_ATTR_FLOAT = 0, TRT_ATTR_INT = 1 } trt_attr_kind;

/* One attribute a layer accepts. */
typedef struct trt_layer_attr {
  const char* name;     /* e.g. "eps", "groups" */
  int32_t kind;         /* trt_attr_kind */
  int32_t required;     /* 1: the script must give it; 0: default_value is used */
  double default_value; /* converted to int64 for TRT_ATTR_INT */
} trt_layer_attr;

/* The attribute values of one call, in declaration order per kind. */
typedef struct trt_layer_attrs {
  const double* floats;
  int32_t n_floats;
  const int64_t* ints;
  int32_t n_ints;
} trt_layer_attrs;

typedef enum trt_param_init {
  TRT_INIT_ZEROS = 0,
  TRT_INIT_ONES = 1,
  TRT_INIT_UNIFORM = 2, /* U(-scale, scale) */
  TRT_INIT_NORMAL = 3   /* N(0, scale^2) */
} trt_param_init;

/* A learnable parameter, filled in by trt_layer_def.param. */
typedef struct trt_layer_param {
  uint32_t struct_size;
  const char* name; /* e.g. "weight"; a static string */
  int32_t dtype;    /* trt_dtype; the host preset is float32 */
  int32_t ndim;
  int64_t sizes[TRT_MAX_DIMS];
  int32_t init;     /* trt_param_init */
  double scale;
} trt_layer_param;

typedef struct trt_layer_def {
  uint32_t struct_size;
  uint32_t abi_version;
  const char* name;
  int32_t device_type;
  int32_t n_inputs; /* including the n_params parameters; -1 = any number (no parameters) */
  /* ABI 1.0 shape rule for a one-output layer: fills out_sizes/out_ndim/out_dtype
   * from the inputs' views (data may be NULL); attrs = the float attributes.
   * Returns TRT_ERR_INVALID_ARGUMENT with a message for bad input. Either this
   * or infer_outputs is required. */
  trt_status (*infer)(const trt_tensor_view* inputs, int32_t n_inputs, const double* attrs, int32_t n_attrs,
                      int64_t* out_sizes, int32_t* out_ndim, int32_t* out_dtype, char* error, size_t error_capacity);
  trt_kernel_fn forward;
  /* (optional) see the contract above. NULL = not differentiable. */
  trt_kernel_fn backward;

  /* ---- appended in ABI 1.1 ---- */
  int32_t n_outputs;                 /* 0 means 1 */
  uint32_t flags;                    /* trt_layer_flags */
  uint32_t nondifferentiable_outputs; /* bit k: output k carries no gradient (a saved statistic) */
  const trt_layer_attr* attrs;       /* n_attrs declared attributes, alive as long as the plugin */
  int32_t n_attrs;
  /* (optional) the shape rule for any number of outputs: fills each outputs[k]'s
   * ndim, sizes and dtype (preset to input 0's dtype); data is NULL. */
  trt_status (*infer_outputs)(const trt_tensor_view* inputs, int32_t n_inputs, const trt_layer_attrs* attrs,
                              trt_tensor_view* outputs, int32_t n_outputs, char* error, size_t error_capacity);
  int32_t n_params;
  /* (required when n_params > 0) describes parameter `index` (0-based among
   * the parameters) for these attribute values. */
  trt_status (*param)(int32_t index, const trt_layer_attrs* attrs, trt_layer_param* param, char* error,
                      size_t error_capacity);
  /* (optional) a valid shape for non-parameter input `index`, used by
   * `trainrt check-plugin`; without it the checker tries (4, 6) for every input. */
  trt_status (*example_input)(int32_t index, const trt_layer_attrs* attrs, int64_t* sizes, int32_t* ndim,
                              char* error, size_t error_capacity);
} trt_layer_def;

/* A dataset format. open() parses `options` (a small TOML/"key=value;..." string
 * from the script, e.g. "path=/data/x.idx.gz") and returns an opaque handle. */
typedef struct trt_sample_spec {
  uint32_t struct_size;
  int32_t dtype;                 /* element dtype of one field */
  int32_t ndim;
  int64_t sizes[TRT_MAX_DIMS];   /* shape of one sample's field */
} trt_sample_spec;

typedef struct trt_loader_def {
  uint32_t struct_size;
  uint32_t abi_version;
  const char* name; /* e.g. "idx", "csv" */
  trt_status (*open)(const char* options, void** handle, char* error, size_t error_capacity);
  int64_t (*length)(void* handle);
  int32_t (*num_fields)(void* handle); /* e.g. 2: image, label */
  trt_status (*field_spec)(void* handle, int32_t field, trt_sample_spec* spec);
  /* Writes sample `index`'s field into dst (contiguous, dtype/shape per spec).
   * Must be safe to call from several threads at once. */
  trt_status (*read)(void* handle, int64_t index, int32_t field, void* dst, char* error, size_t error_capacity);
  void (*close)(void* handle);
} trt_loader_def;

/* ---- Collectives ---------------------------------------------------------
 * A collective backend (Gloo for CPU tensors, NCCL for CUDA tensors) is a
 * function table registered with trt_collective_def.backend. The host owns
 * ranks, sequence numbers, timeouts and error reports (runtime/dist); the
 * backend only moves bytes with its own algorithms. */

/* The rendezvous key-value store, served by the host (TCP store of the
 * launcher, a shared directory, Redis). Every key a communicator uses must
 * start with trt_comm_options.store_prefix; the host already applies it, so a
 * backend uses plain names ("gloo/rank0"). Calls are thread-safe. */
typedef struct trt_store {
  uint32_t struct_size;
  uint32_t abi_version;
  void* handle;
  trt_status (*set)(void* handle, const char* key, const void* value, size_t size, char* error, size_t error_capacity);
  /* Waits up to timeout_ms for key, then copies min(size, capacity) bytes into
   * value and stores the full size in *size. capacity too small: returns
   * TRT_ERR_INVALID_ARGUMENT with *size set, so the caller retries bigger. */
  trt_status (*get)(void* handle, const char* key, void* value, size_t capacity, size_t* size, int64_t timeout_ms,
                    char* error, size_t error_capacity);
  trt_status (*add)(void* handle, const char* key, int64_t delta, int64_t* result, char* error, size_t error_capacity);
  /* Waits until every key exists (TRT_ERR_TIMEOUT names the missing ones). */
  trt_status (*wait)(void* handle, const char* const* keys, int32_t n_keys, int64_t timeout_ms, char* error,
                     size_t error_capacity);
} trt_store;

typedef enum trt_reduce_op {
  TRT_REDUCE_SUM = 0,
  TRT_REDUCE_AVG = 1, /* sum / world_size; floating dtypes only */
  TRT_REDUCE_MAX = 2,
  TRT_REDUCE_MIN = 3
} trt_reduce_op;

/* What a communicator is created from. One communicator = one process's place
 * in one group of world_size ranks. */
typedef struct trt_comm_options {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t rank;
  int32_t world_size;
  const trt_store* store;    /* valid until destroy() */
  int64_t timeout_ms;        /* every operation fails after this long (> 0) */
  int32_t device_type;       /* the device whose tensors this communicator moves */
  int32_t device_index;
  const char* local_address; /* (optional) IP to bind, "" = the backend decides (e.g. GLOO_SOCKET_IFNAME) */
} trt_comm_options;

/* The backend's function table. Tensor rules, checked by the host before a call:
 * every view is contiguous, on the communicator's device, of the same dtype
 * (float32, float64 or int64) and shape on every rank. Operations are
 * asynchronous and run in the order they were issued on a rank; `stream` is the
 * device queue they are ordered after (NULL on CPU). Each returns a work handle
 * in *work, owned by the caller (work_free). A NULL operation means the
 * backend does not support it; the host says so by name. Views' memory stays
 * valid until the work has completed. */
typedef struct trt_collective_backend {
  uint32_t struct_size;
  uint32_t abi_version;
  trt_status (*create)(const trt_comm_options* options, void** comm, char* error, size_t error_capacity);
  /* In place: tensor <- op over ranks of tensor. */
  trt_status (*all_reduce)(void* comm, const trt_tensor_view* tensor, int32_t op, void* stream, void** work,
                           char* error, size_t error_capacity);
  /* In place: tensor <- root's tensor (root is a rank). */
  trt_status (*broadcast)(void* comm, const trt_tensor_view* tensor, int32_t root, void* stream, void** work,
                          char* error, size_t error_capacity);
  /* output (world_size * numel(input) elements) <- the inputs of ranks 0..world_size-1, concatenated. */
  trt_status (*all_gather)(void* comm, const trt_tensor_view* input, const trt_tensor_view* output, void* stream,
                           void** work, char* error, size_t error_capacity);
  /* output (numel(input) / world_size elements) <- chunk `rank` of op over ranks of input. */
  trt_status (*reduce_scatter)(void* comm, const trt_tensor_view* input, const trt_tensor_view* output, int32_t op,
                               void* stream, void** work, char* error, size_t error_capacity);
  trt_status (*barrier)(void* comm, void** work, char* error, size_t error_capacity);
  /* Waits up to timeout_ms (-1 = until done). TRT_ERR_TIMEOUT: still running;
   * otherwise the operation's own status and message. Thread-safe. */
  trt_status (*work_wait)(void* work, int64_t timeout_ms, char* error, size_t error_capacity);
  /* *done = 1 once finished, successfully or not (work_wait gives the status). */
  trt_status (*work_test)(void* work, int32_t* done, char* error, size_t error_capacity);
  /* Frees a handle; waits for the operation first if it is still running. */
  void (*work_free)(void* work);
  /* Makes the running and every later operation fail promptly with
   * TRT_ERR_ABORTED (after a timeout, or when a peer died). Any thread. */
  void (*abort)(void* comm);
  /* Aborts what is pending and frees the communicator. */
  void (*destroy)(void* comm);
} trt_collective_backend;

/* Registers a collective backend. The record is append-only like the rest;
 * backend points at a trt_collective_backend that lives as long as the plugin. */
typedef struct trt_collective_def {
  uint32_t struct_size;
  uint32_t abi_version;
  const char* name;   /* e.g. "gloo", "nccl" */
  int32_t device_type;
  void* backend;      /* const trt_collective_backend*, versioned by its own struct_size */
} trt_collective_def;

/* ---- Devices ---------------------------------------------------------------
 * A device plugin (ops-cuda) provides a device type other than the built-in CPU:
 * how many devices are visible, what they are, raw memory, copies, streams and
 * events. The host builds the rest on top and shares it with the CPU: the
 * caching allocator (size classes, stream-ordered reuse, per-device counters),
 * the execution queues (one per device, whose kernels get the device's stream
 * in trt_kernel_args.stream), the out-of-memory report and `trainrt devices`.
 * Device indices are the process's visible ones (after CUDA_VISIBLE_DEVICES).
 * Every call may come from any thread; failures write a one-line reason. */

typedef struct trt_device_properties {
  uint32_t struct_size;
  char name[128];               /* "NVIDIA H100 80GB HBM3" */
  char uuid[64];                /* "GPU-5c1a...", as nvidia-smi -L and CUDA_VISIBLE_DEVICES spell it */
  int64_t total_memory;         /* bytes */
  int64_t free_memory;          /* bytes, now */
  int32_t compute_major;        /* compute capability, e.g. 9.0 */
  int32_t compute_minor;
  int32_t multiprocessors;
  int32_t driver_version;       /* CUDA's encoding: 13000 = 13.0; 0 = unknown */
  int32_t runtime_version;
  int32_t pci_bus_id;
} trt_device_properties;

typedef struct trt_device_backend {
  uint32_t struct_size;
  uint32_t abi_version;
  /* Visible devices. 0 devices is TRT_OK with a reason in error (e.g.
   * "driver: not found"), so the host can say why. */
  trt_status (*device_count)(int32_t* count, char* error, size_t error_capacity);
  trt_status (*properties)(int32_t index, trt_device_properties* props, char* error, size_t error_capacity);
  /* Raw device memory (the host caches it). Out of memory is TRT_ERR_OUT_OF_MEMORY;
   * the host then empties its cache, retries, and reports with mem_info. */
  trt_status (*malloc)(int32_t index, size_t bytes, void** ptr, char* error, size_t error_capacity);
  trt_status (*free)(int32_t index, void* ptr, char* error, size_t error_capacity);
  trt_status (*mem_info)(int32_t index, int64_t* free_bytes, int64_t* total_bytes, char* error, size_t error_capacity);
  /* Copies `bytes` between host and device or two devices (device types are
   * trt_device_type, host = TRT_DEVICE_CPU). stream NULL: synchronous; else
   * ordered on that stream (host memory must stay valid until it has run). */
  trt_status (*memcpy)(void* dst, int32_t dst_type, int32_t dst_index, const void* src, int32_t src_type,
                       int32_t src_index, size_t bytes, void* stream, char* error, size_t error_capacity);
  trt_status (*stream_create)(int32_t index, void** stream, char* error, size_t error_capacity);
  void (*stream_destroy)(int32_t index, void* stream);
  trt_status (*stream_synchronize)(void* stream, char* error, size_t error_capacity);
  trt_status (*event_create)(int32_t index, void** event, char* error, size_t error_capacity);
  void (*event_destroy)(void* event);
  trt_status (*event_record)(void* event, void* stream, char* error, size_t error_capacity);
  /* `stream` waits (on the device, the host does not block) for `event`. */
  trt_status (*stream_wait_event)(void* stream, void* event, char* error, size_t error_capacity);
  /* Blocks the calling host thread until `event` has happened. */
  trt_status (*event_synchronize)(void* event, char* error, size_t error_capacity);
  trt_status (*synchronize)(int32_t index, char* error, size_t error_capacity);
  /* (optional) frees the plugin's own caches on device `index` (library workspaces). */
  void (*empty_cache)(int32_t index);
} trt_device_backend;

/* Registers a device type. backend points at a trt_device_backend that lives
 * as long as the plugin (versioned by its own struct_size). */
typedef struct trt_device_def {
  uint32_t struct_size;
  uint32_t abi_version;
  const char* name;    /* "cuda" */
  int32_t device_type; /* trt_device_type; never TRT_DEVICE_CPU (built in) */
  const void* backend;
} trt_device_def;

/* Services the host hands a plugin during init. `host` is opaque and must be
 * passed back on every call. */
typedef struct trt_host_api {
  uint32_t struct_size;
  uint32_t abi_version;
  void* host;
  void (*log)(void* host, int32_t level, const char* message);
  /* Device memory through the host's allocator (64-byte aligned on CPU). */
  void* (*alloc)(void* host, int32_t device_type, int32_t device_index, size_t bytes);
  void (*free)(void* host, int32_t device_type, int32_t device_index, void* ptr, size_t bytes);
  trt_status (*register_kernel)(void* host, const trt_kernel_def* def);
  trt_status (*register_layer)(void* host, const trt_layer_def* def);
  trt_status (*register_loader)(void* host, const trt_loader_def* def);
  trt_status (*register_collective)(void* host, const trt_collective_def* def);
  /* ---- appended in ABI 1.2: check struct_size before calling ---- */
  trt_status (*register_device)(void* host, const trt_device_def* def);
} trt_host_api;

/* Whether the host api has member `field` (a plugin built against a newer
 * header may be loaded by an older host). */
#define TRT_HOST_HAS(api, field) \
  ((api)->struct_size >= offsetof(trt_host_api, field) + sizeof(((trt_host_api*)0)->field) && (api)->field)

/* What a plugin says about itself; filled in by the entry point. */
typedef struct trt_plugin_info {
  uint32_t struct_size;
  uint32_t abi_version; /* the TRT_PLUGIN_ABI_VERSION the plugin was built with */
  const char* name;
  const char* version;
  const char* description;
} trt_plugin_info;

/* The entry point every plugin exports, named after the ABI version:
 *   trt_status trt_plugin_init_v1(const trt_host_api* host, trt_plugin_info* info,
 *                                 char* error, size_t error_capacity);
 * It fills `info`, registers what it provides through `host`, and returns
 * TRT_OK, or an error status with a message (then nothing it registered is kept). */
typedef trt_status (*trt_plugin_init_fn)(const trt_host_api* host, trt_plugin_info* info, char* error,
                                         size_t error_capacity);

#define TRT_STR_(x) #x
#define TRT_STR(x) TRT_STR_(x)
#define TRT_PLUGIN_ABI_STRING TRT_STR(TRT_PLUGIN_ABI_VERSION)
#define TRT_CAT_(a, b) a##b
#define TRT_CAT(a, b) TRT_CAT_(a, b)
#define TRT_PLUGIN_ENTRY TRT_CAT(trt_plugin_init_v, TRT_PLUGIN_ABI_VERSION)

#if defined(TRT_PLUGIN_STATIC)
#define TRT_PLUGIN_VISIBILITY
#else
#define TRT_PLUGIN_VISIBILITY __attribute__((visibility("default")))
#endif

/* TRT_PLUGIN_EXPORT(fn): defines the versioned entry point forwarding to fn, a
 * function with the trt_plugin_init_fn signature. Built as a MODULE it is the
 * symbol the host dlsym's; built with TRT_PLUGIN_STATIC it links into tests. */
#ifdef __cplusplus
#define TRT_EXTERN_C extern "C"
#else
#define TRT_EXTERN_C
#endif
#define TRT_PLUGIN_EXPORT(fn)                                                                          \
  TRT_EXTERN_C TRT_PLUGIN_VISIBILITY trt_status TRT_PLUGIN_ENTRY(const trt_host_api* host,             \
                                                                 trt_plugin_info* info, char* error,   \
                                                                 size_t error_capacity) {              \
    info->abi_version = TRT_PLUGIN_ABI_VERSION;                                                         \
    if (!host || host->abi_version != TRT_PLUGIN_ABI_VERSION) return TRT_ERR_ABI;                       \
    return fn(host, info, error, error_capacity);                                                       \
  }

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TRAINRT_PLUGIN_ABI_H */
