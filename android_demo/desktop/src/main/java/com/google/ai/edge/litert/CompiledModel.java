package com.google.ai.edge.litert;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Desktop stand-in for LiteRT 2.x's {@code com.google.ai.edge.litert.CompiledModel} (Kotlin,
 * Model.kt; Maven {@code com.google.ai.edge.litert:litert}): the same class name and, seen
 * from Java, the same signatures for the subset the app's engine classes call, implemented on
 * LiteRT's C library ({@code libLiteRt.so} of the ai-edge-litert 2.3.0 wheel) through the JNI
 * bridge. The JVM tests compile and run the app's engine package against it unchanged.
 * android_demo/README.md lists each signature and where it was checked.
 *
 * <p>Subset: {@code create(filePath[, options])} (Android adds {@code create(AssetManager,
 * assetName, options)}, used by the Kotlin code only), signature 0 or the empty signature
 * {@code ""} (what the real API takes for "the first signature"), {@link Accelerator#CPU}
 * only: asking for another accelerator throws {@link LiteRtException} like a device without
 * it. A dynamic batch dimension is fixed to 1.
 */
public final class CompiledModel extends JniHandle {

  /** Subset of {@code CompiledModel.CpuOptions} (a Kotlin data class). */
  public static final class CpuOptions {
    private final Integer numThreads;
    private final Integer xnnPackFlags;
    private final String xnnPackWeightCachePath;

    public CpuOptions(Integer numThreads, Integer xnnPackFlags, String xnnPackWeightCachePath) {
      this.numThreads = numThreads;
      this.xnnPackFlags = xnnPackFlags;
      this.xnnPackWeightCachePath = xnnPackWeightCachePath;
    }

    public CpuOptions() {
      this(null, null, null);
    }

    public Integer getNumThreads() {
      return numThreads;
    }
  }

  /** Subset of {@code CompiledModel.Options}. */
  public static final class Options {
    private static final Options CPU_OPTIONS = new Options(Accelerator.CPU);
    final Set<Accelerator> accelerators;
    private CpuOptions cpuOptions;

    public Options(Set<Accelerator> accelerators) {
      this.accelerators =
          Collections.unmodifiableSet(
              accelerators.isEmpty() ? EnumSet.noneOf(Accelerator.class) : EnumSet.copyOf(accelerators));
    }

    public Options(Accelerator... accelerators) {
      this(accelerators.length == 0 ? Set.of() : EnumSet.of(accelerators[0], accelerators));
    }

    /** Kotlin: {@code companion object { @JvmStatic val CPU }}. */
    public static Options getCPU() {
      return CPU_OPTIONS;
    }

    public CpuOptions getCpuOptions() {
      return cpuOptions;
    }

    public void setCpuOptions(CpuOptions cpuOptions) {
      this.cpuOptions = cpuOptions;
    }
  }

  /** One signature input or output: name, shape, LiteRT element type, bytes. */
  private static final class Port {
    final String name;
    final int[] shape;
    final int litertType;
    final int bytes;

    Port(String name, int[] shape, int litertType) {
      this.name = name;
      this.shape = shape;
      this.litertType = litertType;
      int n = elementBytes(litertType);
      for (int d : shape) {
        n *= d;
      }
      this.bytes = n;
    }
  }

  private final long handle;
  private final Port[] inputs;  // signature order, as createInputBuffers
  private final Port[] outputs; // signature order

  private CompiledModel(long handle) {
    this.handle = handle;
    inputs = ports(true);
    outputs = ports(false);
  }

  private Port[] ports(boolean input) {
    int n = NativeLiteRt.nativeCount(handle, input);
    Port[] p = new Port[n];
    for (int s = 0; s < n; s++) {
      p[s] =
          new Port(
              NativeLiteRt.nativeName(handle, input, s, false),
              NativeLiteRt.nativeShape(handle, input, s),
              NativeLiteRt.nativeElementType(handle, input, s));
    }
    return p;
  }

  /**
   * Android only (a model in the APK's assets; Kotlin {@code create(assetManager, assetName,
   * options = CPU, optionalEnv = null)}). Declared so that the app's Kotlin compiles against
   * this class (with the Android stubs of desktop/src/stubs); there are no assets on the
   * desktop, so it throws.
   */
  public static CompiledModel create(
      android.content.res.AssetManager assetManager, String assetName, Options options)
      throws LiteRtException {
    throw new LiteRtException(
        Status.ErrorUnsupported, "no Android assets on the desktop: use create(filePath, options)");
  }

  public static CompiledModel create(String filePath) throws LiteRtException {
    return create(filePath, Options.getCPU());
  }

  public static CompiledModel create(String filePath, Options options) throws LiteRtException {
    for (Accelerator a : options.accelerators) {
      if (a != Accelerator.CPU) {
        throw new LiteRtException(
            Status.ErrorUnsupported, "accelerator " + a + " is not available (desktop bridge: CPU only)");
      }
    }
    if (options.accelerators.isEmpty()) {
      throw new LiteRtException(Status.ErrorInvalidArgument, "no accelerator requested");
    }
    NativeLiteRt.ensureLoaded();
    Integer threads = options.getCpuOptions() == null ? null : options.getCpuOptions().getNumThreads();
    try {
      return new CompiledModel(
          NativeLiteRt.nativeCreateFromFile(filePath, threads == null ? -1 : threads));
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new LiteRtException(Status.ErrorRuntimeFailure, filePath + ": " + e.getMessage());
    }
  }

  private static List<TensorBuffer> buffers(Port[] ports) {
    List<TensorBuffer> out = new ArrayList<>();
    for (Port p : ports) {
      out.add(new TensorBuffer(p.bytes));
    }
    return out;
  }

  private void checkSignature(String signature) throws LiteRtException {
    assertNotDestroyed();
    String key = NativeLiteRt.nativeSignatureKey(handle);
    if (!signature.isEmpty() && !signature.equals(key)) {
      throw new LiteRtException(Status.ErrorNotFound, "Signature not found: " + signature);
    }
  }

  private static Port port(Port[] ports, String name, String what) throws LiteRtException {
    for (Port p : ports) {
      if (p.name.equals(name)) {
        return p;
      }
    }
    throw new LiteRtException(Status.ErrorNotFound, what + " not found: " + name);
  }

  public List<TensorBuffer> createInputBuffers() throws LiteRtException {
    return createInputBuffers(0);
  }

  public List<TensorBuffer> createInputBuffers(int signatureIndex) throws LiteRtException {
    checkIndex(signatureIndex);
    return buffers(inputs);
  }

  public List<TensorBuffer> createOutputBuffers() throws LiteRtException {
    return createOutputBuffers(0);
  }

  public List<TensorBuffer> createOutputBuffers(int signatureIndex) throws LiteRtException {
    checkIndex(signatureIndex);
    return buffers(outputs);
  }

  public TensorBuffer createInputBuffer(String inputName, String signature) throws LiteRtException {
    checkSignature(signature);
    return new TensorBuffer(port(inputs, inputName, "Input").bytes);
  }

  public TensorBuffer createOutputBuffer(String outputName, String signature)
      throws LiteRtException {
    checkSignature(signature);
    return new TensorBuffer(port(outputs, outputName, "Output").bytes);
  }

  public TensorType getInputTensorType(String inputName, String signature) throws LiteRtException {
    checkSignature(signature);
    return type(port(inputs, inputName, "Input"));
  }

  public TensorType getOutputTensorType(String outputName, String signature)
      throws LiteRtException {
    checkSignature(signature);
    return type(port(outputs, outputName, "Output"));
  }

  private static TensorType type(Port p) throws LiteRtException {
    List<Integer> dims = new ArrayList<>();
    for (int d : p.shape) {
      dims.add(d);
    }
    return new TensorType(TensorType.fromLiteRt(p.litertType), new TensorType.Layout(dims));
  }

  public void run(List<TensorBuffer> inputs, List<TensorBuffer> outputs) throws LiteRtException {
    run(inputs, outputs, 0);
  }

  public void run(List<TensorBuffer> inputs, List<TensorBuffer> outputs, int signatureIndex)
      throws LiteRtException {
    checkIndex(signatureIndex);
    runPorts(inputs.toArray(new TensorBuffer[0]), outputs.toArray(new TensorBuffer[0]));
  }

  /** Kotlin: {@code run(inputs: Map, outputs: Map, signature: String = "")} (no overloads). */
  public void run(
      Map<String, TensorBuffer> inputs, Map<String, TensorBuffer> outputs, String signature)
      throws LiteRtException {
    checkSignature(signature);
    runPorts(byName(this.inputs, inputs, "Input"), byName(this.outputs, outputs, "Output"));
  }

  private static TensorBuffer[] byName(Port[] ports, Map<String, TensorBuffer> m, String what)
      throws LiteRtException {
    TensorBuffer[] out = new TensorBuffer[ports.length];
    for (Map.Entry<String, TensorBuffer> e : m.entrySet()) {
      Port p = port(ports, e.getKey(), what);
      for (int i = 0; i < ports.length; i++) {
        if (ports[i] == p) {
          out[i] = e.getValue();
        }
      }
    }
    return out;
  }

  private void runPorts(TensorBuffer[] in, TensorBuffer[] out) throws LiteRtException {
    assertNotDestroyed();
    if (in.length != inputs.length || out.length != outputs.length) {
      throw new LiteRtException(
          Status.ErrorInvalidArgument,
          "expected " + inputs.length + " input and " + outputs.length + " output buffers, got "
              + in.length + " and " + out.length);
    }
    Object[] inBufs = new Object[in.length];
    Object[] outBufs = new Object[out.length];
    for (int i = 0; i < in.length; i++) {
      inBufs[i] = host(in[i], inputs[i]);
    }
    for (int i = 0; i < out.length; i++) {
      outBufs[i] = host(out[i], outputs[i]);
    }
    try {
      NativeLiteRt.nativeRun(handle, inBufs, outBufs);
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new LiteRtException(Status.ErrorRuntimeFailure, e.getMessage());
    }
  }

  private static Object host(TensorBuffer b, Port p) throws LiteRtException {
    if (b == null) {
      throw new LiteRtException(Status.ErrorInvalidArgument, "no buffer for tensor " + p.name);
    }
    b.assertNotDestroyed();
    if (b.host.capacity() != p.bytes) {
      throw new LiteRtException(
          Status.ErrorInvalidArgument,
          "buffer of " + b.host.capacity() + " bytes for tensor " + p.name + " of " + p.bytes);
    }
    return b.host;
  }

  private void checkIndex(int signatureIndex) throws LiteRtException {
    assertNotDestroyed();
    if (signatureIndex != 0) {
      throw new LiteRtException(
          Status.ErrorInvalidArgument, "signature index " + signatureIndex + " (desktop bridge: 0 only)");
    }
  }

  @Override
  protected void destroy() {
    NativeLiteRt.nativeClose(handle);
  }

  static int elementBytes(int litertType) {
    switch (litertType) {
      case 3: // uint8
      case 6: // bool
      case 9: // int8
        return 1;
      case 7: // int16
      case 10: // float16
        return 2;
      case 1: // float32
      case 2: // int32
        return 4;
      case 4: // int64
      case 11: // float64
        return 8;
      default:
        throw new IllegalArgumentException("unsupported LiteRT element type " + litertType);
    }
  }
}
