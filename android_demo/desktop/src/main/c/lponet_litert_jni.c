/*
 * JNI bridge: the desktop JVM runs a .tflite through LiteRT's C library
 * (libLiteRt.so from the ai-edge-litert 2.3.0 wheel), behind the subset of LiteRT's
 * Kotlin CompiledModel API that the Android app uses (see
 * ../java/com/google/ai/edge/litert/CompiledModel.java).
 *
 * Why dlopen + hand-written declarations: the wheel ships the shared library but
 * no headers, and its C API changes between releases (function signatures, the
 * LiteRtLayout struct, how CPU options are passed). The declarations below are
 * the LiteRT 2.3.0 ones (litert/c/litert_*.h at that release) for exactly the
 * functions used here; EXPECTED_LITERT_VERSION pins them and the Java side
 * refuses any other wheel version. dlopen at runtime (rather than linking)
 * lets the test point at the wheel's file without installing it system-wide.
 *
 * Example of such a change: in 2.3.0 LiteRtCreateModelFromFile/FromBuffer take
 * the environment as their first argument (older headers do not).
 *
 * Only the libLiteRt "CompiledModel" API is exported by that library (there is
 * no TfLiteInterpreter* C API in it), which is the same API the Kotlin CompiledModel
 * wraps: model -> signature 0 -> compiled model -> one host tensor buffer per
 * input/output, reused across runs.
 */
#include <jni.h>

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPECTED_LITERT_VERSION "2.3.0"

/* ---- LiteRT 2.3.0 C API subset ------------------------------------------ */
typedef int LiteRtStatus; /* enum; kLiteRtStatusOk == 0 */
typedef size_t LiteRtParamIndex;
typedef struct LiteRtEnvironmentT* LiteRtEnvironment;
typedef struct LiteRtModelT* LiteRtModel;
typedef struct LiteRtSignatureT* LiteRtSignature;
typedef struct LiteRtSubgraphT* LiteRtSubgraph;
typedef struct LiteRtTensorT* LiteRtTensor;
typedef struct LiteRtOptionsT* LiteRtOptions;
typedef struct LiteRtOpaqueOptionsT* LiteRtOpaqueOptions;
typedef struct LiteRtCompiledModelT* LiteRtCompiledModel;
typedef struct LiteRtTensorBufferT* LiteRtTensorBuffer;
typedef struct LiteRtTensorBufferRequirementsT* LiteRtTensorBufferRequirements;

#define LITERT_TENSOR_MAX_RANK 8
typedef struct {
  unsigned int rank : 7;
  bool has_strides : 1;
  int32_t dimensions[LITERT_TENSOR_MAX_RANK];
  uint32_t strides[LITERT_TENSOR_MAX_RANK];
} LiteRtLayout;

typedef struct {
  int element_type; /* LiteRtElementType, TfLiteType numbering */
  LiteRtLayout layout;
} LiteRtRankedTensorType;

enum { kLiteRtRankedTensorType = 0 };
enum { kLiteRtHwAcceleratorCpu = 1 };
enum { kLockRead = 0, kLockWrite = 1 };

/* Element types (TfLiteType numbering) and their sizes in bytes. */
static int element_size(int t) {
  switch (t) {
    case 1: return 4;  /* float32 */
    case 2: return 4;  /* int32 */
    case 3: return 1;  /* uint8 */
    case 4: return 8;  /* int64 */
    case 6: return 1;  /* bool */
    case 7: return 2;  /* int16 */
    case 9: return 1;  /* int8 */
    case 10: return 2; /* float16 */
    case 11: return 8; /* float64 */
    default: return 0;
  }
}

#define API_FUNCS(X)                                                                  \
  X(LiteRtStatus, LiteRtCreateEnvironment, (int, const void*, LiteRtEnvironment*))    \
  X(void, LiteRtDestroyEnvironment, (LiteRtEnvironment))                              \
  X(LiteRtStatus, LiteRtCreateModelFromFile, (LiteRtEnvironment, const char*, LiteRtModel*)) \
  X(LiteRtStatus, LiteRtCreateModelFromBuffer,                                        \
    (LiteRtEnvironment, const void*, size_t, LiteRtModel*))                           \
  X(void, LiteRtDestroyModel, (LiteRtModel))                                          \
  X(LiteRtStatus, LiteRtGetNumModelSignatures, (LiteRtModel, LiteRtParamIndex*))      \
  X(LiteRtStatus, LiteRtGetModelSignature, (LiteRtModel, LiteRtParamIndex, LiteRtSignature*)) \
  X(LiteRtStatus, LiteRtGetSignatureKey, (LiteRtSignature, const char**))             \
  X(LiteRtStatus, LiteRtGetSignatureSubgraph, (LiteRtSignature, LiteRtSubgraph*))     \
  X(LiteRtStatus, LiteRtGetNumSignatureInputs, (LiteRtSignature, LiteRtParamIndex*))  \
  X(LiteRtStatus, LiteRtGetNumSignatureOutputs, (LiteRtSignature, LiteRtParamIndex*)) \
  X(LiteRtStatus, LiteRtGetSignatureInputName, (LiteRtSignature, LiteRtParamIndex, const char**))  \
  X(LiteRtStatus, LiteRtGetSignatureOutputName, (LiteRtSignature, LiteRtParamIndex, const char**)) \
  X(LiteRtStatus, LiteRtGetSignatureInputTensorByIndex, (LiteRtSignature, LiteRtParamIndex, LiteRtTensor*))  \
  X(LiteRtStatus, LiteRtGetSignatureOutputTensorByIndex, (LiteRtSignature, LiteRtParamIndex, LiteRtTensor*)) \
  X(LiteRtStatus, LiteRtGetNumSubgraphInputs, (LiteRtSubgraph, LiteRtParamIndex*))    \
  X(LiteRtStatus, LiteRtGetNumSubgraphOutputs, (LiteRtSubgraph, LiteRtParamIndex*))   \
  X(LiteRtStatus, LiteRtGetSubgraphInput, (LiteRtSubgraph, LiteRtParamIndex, LiteRtTensor*))  \
  X(LiteRtStatus, LiteRtGetSubgraphOutput, (LiteRtSubgraph, LiteRtParamIndex, LiteRtTensor*)) \
  X(LiteRtStatus, LiteRtGetTensorName, (LiteRtTensor, const char**))                 \
  X(LiteRtStatus, LiteRtGetTensorTypeId, (LiteRtTensor, int*))                       \
  X(LiteRtStatus, LiteRtGetRankedTensorType, (LiteRtTensor, LiteRtRankedTensorType*)) \
  X(LiteRtStatus, LiteRtCreateOptions, (LiteRtOptions*))                              \
  X(void, LiteRtDestroyOptions, (LiteRtOptions))                                      \
  X(LiteRtStatus, LiteRtSetOptionsHardwareAccelerators, (LiteRtOptions, int))         \
  X(LiteRtStatus, LiteRtCreateOpaqueOptions,                                          \
    (const char*, void*, void (*)(void*), LiteRtOpaqueOptions*))                      \
  X(LiteRtStatus, LiteRtAddOpaqueOptions, (LiteRtOptions, LiteRtOpaqueOptions))       \
  X(LiteRtStatus, LiteRtCreateCompiledModel,                                          \
    (LiteRtEnvironment, LiteRtModel, LiteRtOptions, LiteRtCompiledModel*))            \
  X(void, LiteRtDestroyCompiledModel, (LiteRtCompiledModel))                          \
  X(LiteRtStatus, LiteRtCompiledModelResizeInputTensor,                               \
    (LiteRtCompiledModel, LiteRtParamIndex, LiteRtParamIndex, const int*, size_t))    \
  X(LiteRtStatus, LiteRtGetCompiledModelOutputTensorLayouts,                          \
    (LiteRtCompiledModel, LiteRtParamIndex, size_t, LiteRtLayout*, bool))             \
  X(LiteRtStatus, LiteRtGetCompiledModelInputBufferRequirements,                      \
    (LiteRtCompiledModel, LiteRtParamIndex, LiteRtParamIndex, LiteRtTensorBufferRequirements*)) \
  X(LiteRtStatus, LiteRtGetCompiledModelOutputBufferRequirements,                     \
    (LiteRtCompiledModel, LiteRtParamIndex, LiteRtParamIndex, LiteRtTensorBufferRequirements*)) \
  X(LiteRtStatus, LiteRtCreateManagedTensorBufferFromRequirements,                    \
    (LiteRtEnvironment, const LiteRtRankedTensorType*, LiteRtTensorBufferRequirements, \
     LiteRtTensorBuffer*))                                                            \
  X(LiteRtStatus, LiteRtGetTensorBufferPackedSize, (LiteRtTensorBuffer, size_t*))     \
  X(LiteRtStatus, LiteRtLockTensorBuffer, (LiteRtTensorBuffer, void**, int))          \
  X(LiteRtStatus, LiteRtUnlockTensorBuffer, (LiteRtTensorBuffer))                     \
  X(void, LiteRtDestroyTensorBuffer, (LiteRtTensorBuffer))                            \
  X(LiteRtStatus, LiteRtRunCompiledModel,                                             \
    (LiteRtCompiledModel, LiteRtParamIndex, size_t, LiteRtTensorBuffer*, size_t,      \
     LiteRtTensorBuffer*))

#define DECLARE_PTR(ret, name, args) static ret(*p_##name) args = NULL;
API_FUNCS(DECLARE_PTR)

static void* g_lib = NULL;

/* ---- JNI helpers ---------------------------------------------------------- */
static void throw_java(JNIEnv* env, const char* cls, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void throw_java(JNIEnv* env, const char* cls, const char* fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  jclass c = (*env)->FindClass(env, cls);
  if (c != NULL) (*env)->ThrowNew(env, c, msg);
}
#define IAE "java/lang/IllegalArgumentException"
#define ISE "java/lang/IllegalStateException"

#define CHECK(env, call, ...)                                                      \
  do {                                                                             \
    LiteRtStatus st_ = (call);                                                     \
    if (st_ != 0) {                                                                \
      throw_java(env, ISE, "LiteRT call failed (status %d): %s", st_, #call);     \
      __VA_ARGS__;                                                                 \
    }                                                                              \
  } while (0)

/* ---- One model instance ---------------------------------------------------- */
typedef struct {
  char name[256];        /* signature-level name (e.g. "heatmaps") */
  char tensor_name[256]; /* graph tensor name (e.g. "StatefulPartitionedCall:0") */
  LiteRtTensor tensor;
  LiteRtRankedTensorType type;
  size_t bytes;
  LiteRtTensorBuffer buffer;
} Port;

typedef struct {
  LiteRtEnvironment env;
  LiteRtModel model;
  LiteRtCompiledModel compiled;
  void* model_bytes; /* owned copy when created from a buffer */
  char signature_key[256];
  size_t n_in, n_out;
  Port* in;          /* in signature order */
  Port* out;
  int* in_graph_to_sig;  /* subgraph input i -> signature input index */
  int* out_graph_to_sig; /* subgraph output i -> signature output index */
} Handle;

static void destroy_handle(Handle* h) {
  if (h == NULL) return;
  for (size_t i = 0; h->in && i < h->n_in; i++)
    if (h->in[i].buffer) p_LiteRtDestroyTensorBuffer(h->in[i].buffer);
  for (size_t i = 0; h->out && i < h->n_out; i++)
    if (h->out[i].buffer) p_LiteRtDestroyTensorBuffer(h->out[i].buffer);
  if (h->compiled) p_LiteRtDestroyCompiledModel(h->compiled);
  if (h->model) p_LiteRtDestroyModel(h->model);
  if (h->env) p_LiteRtDestroyEnvironment(h->env);
  free(h->model_bytes);
  free(h->in);
  free(h->out);
  free(h->in_graph_to_sig);
  free(h->out_graph_to_sig);
  free(h);
}

static bool describe_port(JNIEnv* env, Port* p, const char* name) {
  snprintf(p->name, sizeof p->name, "%s", name ? name : "");
  const char* tname = NULL;
  CHECK(env, p_LiteRtGetTensorName(p->tensor, &tname), return false);
  snprintf(p->tensor_name, sizeof p->tensor_name, "%s", tname ? tname : "");
  int type_id = -1;
  CHECK(env, p_LiteRtGetTensorTypeId(p->tensor, &type_id), return false);
  if (type_id != kLiteRtRankedTensorType) {
    throw_java(env, IAE, "tensor '%s' has a dynamic rank: not supported", p->name);
    return false;
  }
  CHECK(env, p_LiteRtGetRankedTensorType(p->tensor, &p->type), return false);
  if (element_size(p->type.element_type) == 0) {
    throw_java(env, IAE, "tensor '%s' has unsupported element type %d", p->name,
               p->type.element_type);
    return false;
  }
  return true;
}

static bool has_dynamic_dims(const LiteRtLayout* l) {
  for (unsigned r = 0; r < l->rank; r++)
    if (l->dimensions[r] < 0) return true;
  return false;
}

/* Byte size of a port whose dimensions are all known. */
static bool size_port(JNIEnv* env, Port* p) {
  size_t n = 1;
  for (unsigned r = 0; r < p->type.layout.rank; r++) {
    if (p->type.layout.dimensions[r] < 0) {
      throw_java(env, IAE, "tensor '%s' keeps a dynamic dimension %u", p->name, r);
      return false;
    }
    n *= (size_t)p->type.layout.dimensions[r];
  }
  p->bytes = n * (size_t)element_size(p->type.element_type);
  return true;
}

/* ---- JNI entry points (class com.google.ai.edge.litert.NativeLiteRt) ------ */
#define JFN(name) Java_com_google_ai_edge_litert_NativeLiteRt_##name

JNIEXPORT void JNICALL JFN(nativeLoad)(JNIEnv* env, jclass cls, jstring jpath,
                                       jstring jversion) {
  (void)cls;
  const char* version = (*env)->GetStringUTFChars(env, jversion, NULL);
  bool version_ok = strcmp(version, EXPECTED_LITERT_VERSION) == 0;
  (*env)->ReleaseStringUTFChars(env, jversion, version);
  if (!version_ok) {
    throw_java(env, ISE,
               "this bridge declares the LiteRT " EXPECTED_LITERT_VERSION
               " C API; refusing another libLiteRt version (ABI changes between releases)");
    return;
  }
  if (g_lib != NULL) return;
  const char* path = (*env)->GetStringUTFChars(env, jpath, NULL);
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    throw_java(env, ISE, "dlopen(%s) failed: %s", path, dlerror());
    (*env)->ReleaseStringUTFChars(env, jpath, path);
    return;
  }
  (*env)->ReleaseStringUTFChars(env, jpath, path);
#define LOAD_PTR(ret, name, args)                                         \
  p_##name = (ret(*) args)dlsym(lib, #name);                              \
  if (p_##name == NULL) {                                                 \
    throw_java(env, ISE, "libLiteRt lacks symbol %s (wrong version?)", #name); \
    dlclose(lib);                                                         \
    return;                                                               \
  }
  API_FUNCS(LOAD_PTR)
  g_lib = lib;
}

/* Creates environment, model (from file or from bytes), compiled model and
 * buffers. num_threads <= 0 leaves the CPU accelerator's default. */
static jlong create(JNIEnv* env, const char* path, const void* bytes, size_t nbytes,
                    jint num_threads) {
  if (g_lib == NULL) {
    throw_java(env, ISE, "libLiteRt not loaded: call NativeLiteRt.load first");
    return 0;
  }
  Handle* h = calloc(1, sizeof(Handle));
  CHECK(env, p_LiteRtCreateEnvironment(0, NULL, &h->env), destroy_handle(h); return 0);
  if (path != NULL) {
    LiteRtStatus st = p_LiteRtCreateModelFromFile(h->env, path, &h->model);
    if (st != 0) {
      throw_java(env, IAE, "cannot load model '%s' (LiteRT status %d)", path, st);
      destroy_handle(h);
      return 0;
    }
  } else {
    /* LiteRtCreateModelFromBuffer requires the bytes to outlive the model. */
    h->model_bytes = malloc(nbytes);
    memcpy(h->model_bytes, bytes, nbytes);
    LiteRtStatus st = p_LiteRtCreateModelFromBuffer(h->env, h->model_bytes, nbytes, &h->model);
    if (st != 0) {
      throw_java(env, IAE, "cannot parse model buffer (LiteRT status %d)", st);
      destroy_handle(h);
      return 0;
    }
  }

  LiteRtParamIndex n_sig = 0;
  CHECK(env, p_LiteRtGetNumModelSignatures(h->model, &n_sig), destroy_handle(h); return 0);
  if (n_sig < 1) {
    throw_java(env, IAE, "model has no signature");
    destroy_handle(h);
    return 0;
  }
  LiteRtSignature sig;
  CHECK(env, p_LiteRtGetModelSignature(h->model, 0, &sig), destroy_handle(h); return 0);
  const char* key = NULL;
  CHECK(env, p_LiteRtGetSignatureKey(sig, &key), destroy_handle(h); return 0);
  snprintf(h->signature_key, sizeof h->signature_key, "%s", key ? key : "");

  CHECK(env, p_LiteRtGetNumSignatureInputs(sig, &h->n_in), destroy_handle(h); return 0);
  CHECK(env, p_LiteRtGetNumSignatureOutputs(sig, &h->n_out), destroy_handle(h); return 0);
  h->in = calloc(h->n_in, sizeof(Port));
  h->out = calloc(h->n_out, sizeof(Port));
  for (size_t i = 0; i < h->n_in; i++) {
    const char* name = NULL;
    CHECK(env, p_LiteRtGetSignatureInputName(sig, i, &name), destroy_handle(h); return 0);
    CHECK(env, p_LiteRtGetSignatureInputTensorByIndex(sig, i, &h->in[i].tensor),
          destroy_handle(h); return 0);
    if (!describe_port(env, &h->in[i], name)) { destroy_handle(h); return 0; }
  }
  for (size_t i = 0; i < h->n_out; i++) {
    const char* name = NULL;
    CHECK(env, p_LiteRtGetSignatureOutputName(sig, i, &name), destroy_handle(h); return 0);
    CHECK(env, p_LiteRtGetSignatureOutputTensorByIndex(sig, i, &h->out[i].tensor),
          destroy_handle(h); return 0);
    if (!describe_port(env, &h->out[i], name)) { destroy_handle(h); return 0; }
  }

  /* The Interpreter API indexes tensors in subgraph order, the CompiledModel API
   * in signature order: map one onto the other by tensor identity. */
  LiteRtSubgraph sg;
  CHECK(env, p_LiteRtGetSignatureSubgraph(sig, &sg), destroy_handle(h); return 0);
  LiteRtParamIndex g_in = 0, g_out = 0;
  CHECK(env, p_LiteRtGetNumSubgraphInputs(sg, &g_in), destroy_handle(h); return 0);
  CHECK(env, p_LiteRtGetNumSubgraphOutputs(sg, &g_out), destroy_handle(h); return 0);
  if (g_in != h->n_in || g_out != h->n_out) {
    throw_java(env, IAE, "signature and subgraph disagree on the number of tensors");
    destroy_handle(h);
    return 0;
  }
  h->in_graph_to_sig = malloc(sizeof(int) * (h->n_in ? h->n_in : 1));
  h->out_graph_to_sig = malloc(sizeof(int) * (h->n_out ? h->n_out : 1));
  for (size_t g = 0; g < g_in; g++) {
    LiteRtTensor t;
    CHECK(env, p_LiteRtGetSubgraphInput(sg, g, &t), destroy_handle(h); return 0);
    h->in_graph_to_sig[g] = -1;
    for (size_t s = 0; s < h->n_in; s++)
      if (h->in[s].tensor == t) h->in_graph_to_sig[g] = (int)s;
  }
  for (size_t g = 0; g < g_out; g++) {
    LiteRtTensor t;
    CHECK(env, p_LiteRtGetSubgraphOutput(sg, g, &t), destroy_handle(h); return 0);
    h->out_graph_to_sig[g] = -1;
    for (size_t s = 0; s < h->n_out; s++)
      if (h->out[s].tensor == t) h->out_graph_to_sig[g] = (int)s;
  }

  LiteRtOptions opts = NULL;
  CHECK(env, p_LiteRtCreateOptions(&opts), destroy_handle(h); return 0);
  CHECK(env, p_LiteRtSetOptionsHardwareAccelerators(opts, kLiteRtHwAcceleratorCpu),
        p_LiteRtDestroyOptions(opts); destroy_handle(h); return 0);
  if (num_threads > 0) {
    /* In 2.3.0 the CPU (XNNPACK) accelerator reads its settings from an opaque
     * option with identifier "xnnpack" whose payload is a TOML string
     * (litert/runtime/litert_cpu_options.cc); the helper that builds it is not
     * exported by libLiteRt.so, so the payload is written here. */
    char* toml = malloc(64);
    snprintf(toml, 64, "num_threads = %d\n", (int)num_threads);
    LiteRtOpaqueOptions cpu = NULL;
    LiteRtStatus st = p_LiteRtCreateOpaqueOptions("xnnpack", toml, free, &cpu);
    if (st != 0) {
      free(toml);
      throw_java(env, ISE, "LiteRtCreateOpaqueOptions failed (status %d)", st);
      p_LiteRtDestroyOptions(opts);
      destroy_handle(h);
      return 0;
    }
    CHECK(env, p_LiteRtAddOpaqueOptions(opts, cpu), p_LiteRtDestroyOptions(opts);
          destroy_handle(h); return 0);
  }
  LiteRtStatus st = p_LiteRtCreateCompiledModel(h->env, h->model, opts, &h->compiled);
  p_LiteRtDestroyOptions(opts); /* caller-owned in 2.3.0 */
  if (st != 0) {
    throw_java(env, ISE, "LiteRtCreateCompiledModel failed (status %d)", st);
    destroy_handle(h);
    return 0;
  }

  /* A dynamic dimension (typically the batch of a Keras export) is fixed to 1, which is
   * what the Interpreter API's default allocation does; outputs follow. */
  bool resized = false;
  for (size_t i = 0; i < h->n_in; i++) {
    LiteRtLayout* l = &h->in[i].type.layout;
    if (!has_dynamic_dims(l)) continue;
    int dims[LITERT_TENSOR_MAX_RANK];
    for (unsigned r = 0; r < l->rank; r++) {
      if (l->dimensions[r] < 0) l->dimensions[r] = 1;
      dims[r] = l->dimensions[r];
    }
    CHECK(env, p_LiteRtCompiledModelResizeInputTensor(h->compiled, 0, i, dims, l->rank),
          destroy_handle(h); return 0);
    resized = true;
  }
  if (resized || h->n_out > 0) {
    LiteRtLayout* layouts = calloc(h->n_out ? h->n_out : 1, sizeof(LiteRtLayout));
    LiteRtStatus st2 =
        p_LiteRtGetCompiledModelOutputTensorLayouts(h->compiled, 0, h->n_out, layouts, resized);
    if (st2 != 0) {
      free(layouts);
      throw_java(env, ISE, "LiteRtGetCompiledModelOutputTensorLayouts failed (status %d)", st2);
      destroy_handle(h);
      return 0;
    }
    for (size_t i = 0; i < h->n_out; i++) {
      if (layouts[i].rank != h->out[i].type.layout.rank) {
        free(layouts);
        throw_java(env, ISE, "output %zu: layout rank changed (ABI mismatch?)", i);
        destroy_handle(h);
        return 0;
      }
      h->out[i].type.layout = layouts[i];
    }
    free(layouts);
  }
  for (size_t i = 0; i < h->n_in; i++)
    if (!size_port(env, &h->in[i])) { destroy_handle(h); return 0; }
  for (size_t i = 0; i < h->n_out; i++)
    if (!size_port(env, &h->out[i])) { destroy_handle(h); return 0; }

  for (size_t i = 0; i < h->n_in + h->n_out; i++) {
    bool is_in = i < h->n_in;
    Port* p = is_in ? &h->in[i] : &h->out[i - h->n_in];
    size_t idx = is_in ? i : i - h->n_in;
    LiteRtTensorBufferRequirements req;
    if (is_in)
      CHECK(env, p_LiteRtGetCompiledModelInputBufferRequirements(h->compiled, 0, idx, &req),
            destroy_handle(h); return 0);
    else
      CHECK(env, p_LiteRtGetCompiledModelOutputBufferRequirements(h->compiled, 0, idx, &req),
            destroy_handle(h); return 0);
    CHECK(env, p_LiteRtCreateManagedTensorBufferFromRequirements(h->env, &p->type, req,
                                                                  &p->buffer),
          destroy_handle(h); return 0);
    size_t packed = 0;
    CHECK(env, p_LiteRtGetTensorBufferPackedSize(p->buffer, &packed), destroy_handle(h);
          return 0);
    if (packed != p->bytes) {
      /* Would mean the LiteRtLayout declaration above does not match the library. */
      throw_java(env, ISE, "tensor '%s': buffer holds %zu bytes, shape says %zu", p->name,
                 packed, p->bytes);
      destroy_handle(h);
      return 0;
    }
  }
  return (jlong)(intptr_t)h;
}

JNIEXPORT jlong JNICALL JFN(nativeCreateFromFile)(JNIEnv* env, jclass cls, jstring jpath,
                                                  jint num_threads) {
  (void)cls;
  const char* path = (*env)->GetStringUTFChars(env, jpath, NULL);
  jlong h = create(env, path, NULL, 0, num_threads);
  (*env)->ReleaseStringUTFChars(env, jpath, path);
  return h;
}

JNIEXPORT jlong JNICALL JFN(nativeCreateFromBytes)(JNIEnv* env, jclass cls, jbyteArray data,
                                                   jint num_threads) {
  (void)cls;
  jsize n = (*env)->GetArrayLength(env, data);
  jbyte* bytes = (*env)->GetByteArrayElements(env, data, NULL);
  jlong h = create(env, NULL, bytes, (size_t)n, num_threads);
  (*env)->ReleaseByteArrayElements(env, data, bytes, JNI_ABORT);
  return h;
}

JNIEXPORT void JNICALL JFN(nativeClose)(JNIEnv* env, jclass cls, jlong handle) {
  (void)env;
  (void)cls;
  destroy_handle((Handle*)(intptr_t)handle);
}

static Port* port(JNIEnv* env, Handle* h, jboolean input, jint sig_index) {
  size_t n = input ? h->n_in : h->n_out;
  if (sig_index < 0 || (size_t)sig_index >= n) {
    throw_java(env, IAE, "%s index %d out of range [0, %zu)", input ? "input" : "output",
               (int)sig_index, n);
    return NULL;
  }
  return input ? &h->in[sig_index] : &h->out[sig_index];
}

JNIEXPORT jint JNICALL JFN(nativeCount)(JNIEnv* env, jclass cls, jlong handle,
                                        jboolean input) {
  (void)env;
  (void)cls;
  Handle* h = (Handle*)(intptr_t)handle;
  return (jint)(input ? h->n_in : h->n_out);
}

JNIEXPORT jstring JNICALL JFN(nativeSignatureKey)(JNIEnv* env, jclass cls, jlong handle) {
  (void)cls;
  return (*env)->NewStringUTF(env, ((Handle*)(intptr_t)handle)->signature_key);
}

/* Signature-order index of the subgraph-order tensor `graph_index`. */
JNIEXPORT jint JNICALL JFN(nativeGraphToSignature)(JNIEnv* env, jclass cls, jlong handle,
                                                   jboolean input, jint graph_index) {
  (void)cls;
  Handle* h = (Handle*)(intptr_t)handle;
  size_t n = input ? h->n_in : h->n_out;
  if (graph_index < 0 || (size_t)graph_index >= n) {
    throw_java(env, IAE, "tensor index %d out of range [0, %zu)", (int)graph_index, n);
    return -1;
  }
  return input ? h->in_graph_to_sig[graph_index] : h->out_graph_to_sig[graph_index];
}

JNIEXPORT jstring JNICALL JFN(nativeName)(JNIEnv* env, jclass cls, jlong handle,
                                          jboolean input, jint sig_index, jboolean tensor_name) {
  (void)cls;
  Port* p = port(env, (Handle*)(intptr_t)handle, input, sig_index);
  if (p == NULL) return NULL;
  return (*env)->NewStringUTF(env, tensor_name ? p->tensor_name : p->name);
}

JNIEXPORT jintArray JNICALL JFN(nativeShape)(JNIEnv* env, jclass cls, jlong handle,
                                             jboolean input, jint sig_index) {
  (void)cls;
  Port* p = port(env, (Handle*)(intptr_t)handle, input, sig_index);
  if (p == NULL) return NULL;
  jsize rank = (jsize)p->type.layout.rank;
  jintArray out = (*env)->NewIntArray(env, rank);
  jint dims[LITERT_TENSOR_MAX_RANK];
  for (jsize r = 0; r < rank; r++) dims[r] = p->type.layout.dimensions[r];
  (*env)->SetIntArrayRegion(env, out, 0, rank, dims);
  return out;
}

JNIEXPORT jint JNICALL JFN(nativeElementType)(JNIEnv* env, jclass cls, jlong handle,
                                              jboolean input, jint sig_index) {
  (void)cls;
  Port* p = port(env, (Handle*)(intptr_t)handle, input, sig_index);
  return p == NULL ? -1 : p->type.element_type;
}

/* inputs/outputs: direct ByteBuffers in signature order, each exactly the
 * tensor's byte size (the Java side checks and converts). */
JNIEXPORT void JNICALL JFN(nativeRun)(JNIEnv* env, jclass cls, jlong handle,
                                      jobjectArray inputs, jobjectArray outputs) {
  (void)cls;
  Handle* h = (Handle*)(intptr_t)handle;
  for (size_t i = 0; i < h->n_in; i++) {
    jobject buf = (*env)->GetObjectArrayElement(env, inputs, (jsize)i);
    void* src = (*env)->GetDirectBufferAddress(env, buf);
    if (src == NULL || (size_t)(*env)->GetDirectBufferCapacity(env, buf) < h->in[i].bytes) {
      throw_java(env, IAE, "input %zu: need a direct buffer of %zu bytes", i, h->in[i].bytes);
      return;
    }
    void* dst = NULL;
    CHECK(env, p_LiteRtLockTensorBuffer(h->in[i].buffer, &dst, kLockWrite), return);
    memcpy(dst, src, h->in[i].bytes);
    CHECK(env, p_LiteRtUnlockTensorBuffer(h->in[i].buffer), return);
    (*env)->DeleteLocalRef(env, buf);
  }
  LiteRtTensorBuffer in_bufs[64], out_bufs[64];
  if (h->n_in > 64 || h->n_out > 64) {
    throw_java(env, IAE, "more than 64 inputs or outputs");
    return;
  }
  for (size_t i = 0; i < h->n_in; i++) in_bufs[i] = h->in[i].buffer;
  for (size_t i = 0; i < h->n_out; i++) out_bufs[i] = h->out[i].buffer;
  CHECK(env, p_LiteRtRunCompiledModel(h->compiled, 0, h->n_in, in_bufs, h->n_out, out_bufs),
        return);
  for (size_t i = 0; i < h->n_out; i++) {
    jobject buf = (*env)->GetObjectArrayElement(env, outputs, (jsize)i);
    if (buf == NULL) continue; /* caller does not want this output */
    void* dst = (*env)->GetDirectBufferAddress(env, buf);
    if (dst == NULL || (size_t)(*env)->GetDirectBufferCapacity(env, buf) < h->out[i].bytes) {
      throw_java(env, IAE, "output %zu: need a direct buffer of %zu bytes", i,
                 h->out[i].bytes);
      return;
    }
    void* src = NULL;
    CHECK(env, p_LiteRtLockTensorBuffer(h->out[i].buffer, &src, kLockRead), return);
    memcpy(dst, src, h->out[i].bytes);
    CHECK(env, p_LiteRtUnlockTensorBuffer(h->out[i].buffer), return);
    (*env)->DeleteLocalRef(env, buf);
  }
}
