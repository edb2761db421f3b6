package org.tensorflow.lite;

import java.io.File;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * Desktop stand-in for {@code org.tensorflow.lite.Interpreter}: the same class name and the
 * subset of its API that the Android app's engine code uses, implemented on LiteRT's C library
 * ({@code libLiteRt.so}, ai-edge-litert 2.3.0) through a small JNI bridge. It lets the JVM tests
 * compile and run the app's engine classes unchanged against the project's exported model.
 *
 * <p>Supported: one-signature models with static shapes; data as {@link ByteBuffer} (raw
 * bytes, native order), {@link FloatBuffer} or {@link IntBuffer}. Buffer semantics follow the
 * real implementation: a direct native-order input {@code ByteBuffer} is read from its start
 * (position ignored); any other input buffer is read from its position, which advances; an
 * output buffer is written at its position, which advances. Java multi-dimensional arrays, the
 * GPU delegate and dynamic resizing are not supported here (they are on Android).
 */
public final class Interpreter implements AutoCloseable {

  /** Subset of {@code Interpreter.Options}. */
  public static class Options {
    int numThreads = -1;

    public Options() {}

    /** Threads for the CPU (XNNPACK) kernels; -1 leaves the runtime's default. */
    public Options setNumThreads(int numThreads) {
      this.numThreads = numThreads;
      return this;
    }
  }

  /**
   * The key LiteRT gives the implicit signature of a model that has none. The real
   * Interpreter reports no signature keys for such a model, and so does this class.
   */
  static final String PLACEHOLDER_SIGNATURE = "<placeholder signature>";

  private long handle;
  private final TensorImpl[] inputs;  // subgraph order, like the real API
  private final TensorImpl[] outputs; // subgraph order
  private final String signatureKey;

  public Interpreter(File modelFile) {
    this(modelFile, null);
  }

  public Interpreter(File modelFile, Options options) {
    NativeLiteRt.ensureLoaded();
    handle =
        NativeLiteRt.nativeCreateFromFile(
            modelFile.getAbsolutePath(), options == null ? -1 : options.numThreads);
    signatureKey = NativeLiteRt.nativeSignatureKey(handle);
    inputs = describe(true);
    outputs = describe(false);
  }

  public Interpreter(ByteBuffer byteBuffer) {
    this(byteBuffer, null);
  }

  /** The model bytes are copied: the buffer may be reused after the call. */
  public Interpreter(ByteBuffer byteBuffer, Options options) {
    NativeLiteRt.ensureLoaded();
    ByteBuffer b = byteBuffer.duplicate();
    b.rewind();
    byte[] bytes = new byte[b.remaining()];
    b.get(bytes);
    handle = NativeLiteRt.nativeCreateFromBytes(bytes, options == null ? -1 : options.numThreads);
    signatureKey = NativeLiteRt.nativeSignatureKey(handle);
    inputs = describe(true);
    outputs = describe(false);
  }

  private TensorImpl[] describe(boolean input) {
    int n = NativeLiteRt.nativeCount(handle, input);
    TensorImpl[] t = new TensorImpl[n];
    for (int g = 0; g < n; g++) {
      int s = NativeLiteRt.nativeGraphToSignature(handle, input, g);
      if (s < 0) {
        throw new IllegalStateException("tensor " + g + " is not part of the model's signature");
      }
      t[g] =
          new TensorImpl(
              g,
              s,
              NativeLiteRt.nativeName(handle, input, s, true),
              NativeLiteRt.nativeName(handle, input, s, false),
              NativeLiteRt.nativeShape(handle, input, s),
              DataType.fromTfLiteType(NativeLiteRt.nativeElementType(handle, input, s)));
    }
    return t;
  }

  public int getInputTensorCount() {
    return inputs.length;
  }

  public int getOutputTensorCount() {
    return outputs.length;
  }

  public Tensor getInputTensor(int inputIndex) {
    checkOpen();
    return inputs[inputIndex];
  }

  public Tensor getOutputTensor(int outputIndex) {
    checkOpen();
    return outputs[outputIndex];
  }

  public int getInputIndex(String opName) {
    return indexOf(inputs, opName);
  }

  public int getOutputIndex(String opName) {
    return indexOf(outputs, opName);
  }

  private static int indexOf(TensorImpl[] ts, String name) {
    for (TensorImpl t : ts) {
      if (t.name.equals(name)) {
        return t.index;
      }
    }
    throw new IllegalArgumentException("no tensor named '" + name + "'");
  }

  public String[] getSignatureKeys() {
    return hasSignature() ? new String[] {signatureKey} : new String[0];
  }

  private boolean hasSignature() {
    return !PLACEHOLDER_SIGNATURE.equals(signatureKey);
  }

  public String[] getSignatureInputs(String signatureKey) {
    return signatureNames(inputs, signatureKey);
  }

  public String[] getSignatureOutputs(String signatureKey) {
    return signatureNames(outputs, signatureKey);
  }

  private String[] signatureNames(TensorImpl[] ts, String key) {
    checkKey(key);
    String[] names = new String[ts.length];
    for (TensorImpl t : ts) {
      names[t.sigIndex] = t.sigName;
    }
    return names;
  }

  public Tensor getInputTensorFromSignature(String inputName, String signatureKey) {
    return bySignatureName(inputs, inputName, signatureKey);
  }

  public Tensor getOutputTensorFromSignature(String outputName, String signatureKey) {
    return bySignatureName(outputs, outputName, signatureKey);
  }

  private TensorImpl bySignatureName(TensorImpl[] ts, String name, String key) {
    checkKey(key);
    for (TensorImpl t : ts) {
      if (t.sigName.equals(name)) {
        return t;
      }
    }
    throw new IllegalArgumentException("signature has no tensor named '" + name + "'");
  }

  private void checkKey(String key) {
    if (!hasSignature()) {
      throw new IllegalArgumentException("the model has no signature");
    }
    if (key != null && !key.equals(signatureKey)) {
      throw new IllegalArgumentException("unknown signature key '" + key + "'");
    }
  }

  public void run(Object input, Object output) {
    Map<Integer, Object> out = new HashMap<>();
    out.put(0, output);
    runForMultipleInputsOutputs(new Object[] {input}, out);
  }

  public void runForMultipleInputsOutputs(Object[] inputData, Map<Integer, Object> outputData) {
    checkOpen();
    if (inputData.length != inputs.length) {
      throw new IllegalArgumentException(
          "expected " + inputs.length + " inputs, got " + inputData.length);
    }
    Object[] in = new Object[inputs.length];
    for (int g = 0; g < inputs.length; g++) {
      in[inputs[g].sigIndex] = inputs[g].toDirect(inputData[g]);
    }
    Object[] out = new Object[outputs.length];
    for (Map.Entry<Integer, Object> e : outputData.entrySet()) {
      TensorImpl t = outputs[e.getKey()];
      out[t.sigIndex] = t.staging();
    }
    NativeLiteRt.nativeRun(handle, in, out);
    for (Map.Entry<Integer, Object> e : outputData.entrySet()) {
      TensorImpl t = outputs[e.getKey()];
      t.copyTo(e.getValue());
    }
  }

  public void runSignature(Map<String, Object> inputData, Map<String, Object> outputData) {
    runSignature(inputData, outputData, null);
  }

  public void runSignature(
      Map<String, Object> inputData, Map<String, Object> outputData, String signatureKey) {
    checkKey(signatureKey);
    Object[] in = new Object[inputs.length];
    for (Map.Entry<String, Object> e : inputData.entrySet()) {
      in[bySignatureName(inputs, e.getKey(), null).index] = e.getValue();
    }
    Map<Integer, Object> out = new HashMap<>();
    for (Map.Entry<String, Object> e : outputData.entrySet()) {
      out.put(bySignatureName(outputs, e.getKey(), null).index, e.getValue());
    }
    runForMultipleInputsOutputs(in, out);
  }

  @Override
  public void close() {
    if (handle != 0) {
      NativeLiteRt.nativeClose(handle);
      handle = 0;
    }
  }

  private void checkOpen() {
    if (handle == 0) {
      throw new IllegalStateException("Internal error: The Interpreter has already been closed.");
    }
  }

  private static final class TensorImpl implements Tensor {
    final int index;
    final int sigIndex;
    final String name;
    final String sigName;
    final int[] shape;
    final DataType type;
    final int numElements;
    private ByteBuffer staging;

    TensorImpl(int index, int sigIndex, String name, String sigName, int[] shape, DataType type) {
      this.index = index;
      this.sigIndex = sigIndex;
      this.name = name;
      this.sigName = sigName;
      this.shape = shape;
      this.type = type;
      int n = 1;
      for (int d : shape) {
        n *= d;
      }
      this.numElements = n;
    }

    @Override
    public DataType dataType() {
      return type;
    }

    @Override
    public int numDimensions() {
      return shape.length;
    }

    @Override
    public int[] shape() {
      return shape.clone();
    }

    @Override
    public int numElements() {
      return numElements;
    }

    @Override
    public int numBytes() {
      return numElements * type.byteSize();
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public int index() {
      return index;
    }

    ByteBuffer staging() {
      if (staging == null) {
        staging = ByteBuffer.allocateDirect(numBytes()).order(ByteOrder.nativeOrder());
      }
      staging.clear();
      return staging;
    }

    /** A direct native-order buffer holding this input's bytes (see the class comment). */
    ByteBuffer toDirect(Object src) {
      if (src instanceof ByteBuffer) {
        ByteBuffer b = (ByteBuffer) src;
        if (b.isDirect() && b.order() == ByteOrder.nativeOrder()) {
          if (b.capacity() < numBytes()) {
            throw sizeError(b.capacity());
          }
          return b;
        }
        ByteBuffer s = staging();
        if (b.remaining() < numBytes()) {
          throw sizeError(b.remaining());
        }
        ByteBuffer slice = b.slice();
        slice.limit(numBytes());
        s.put(slice);
        b.position(b.position() + numBytes());
        return s;
      }
      if (src instanceof FloatBuffer) {
        requireType(DataType.FLOAT32);
        FloatBuffer f = (FloatBuffer) src;
        if (f.remaining() < numElements) {
          throw sizeError(f.remaining() * 4);
        }
        ByteBuffer s = staging();
        FloatBuffer sf = s.asFloatBuffer();
        for (int i = 0; i < numElements; i++) {
          sf.put(f.get());
        }
        return s;
      }
      if (src instanceof IntBuffer) {
        requireType(DataType.INT32);
        IntBuffer ib = (IntBuffer) src;
        if (ib.remaining() < numElements) {
          throw sizeError(ib.remaining() * 4);
        }
        ByteBuffer s = staging();
        IntBuffer si = s.asIntBuffer();
        for (int i = 0; i < numElements; i++) {
          si.put(ib.get());
        }
        return s;
      }
      throw unsupported(src);
    }

    void copyTo(Object dst) {
      ByteBuffer s = staging.duplicate().order(ByteOrder.nativeOrder());
      s.clear();
      if (dst instanceof ByteBuffer) {
        ByteBuffer b = (ByteBuffer) dst;
        if (b.remaining() < numBytes()) {
          throw sizeError(b.remaining());
        }
        b.put(s);
        return;
      }
      if (dst instanceof FloatBuffer) {
        requireType(DataType.FLOAT32);
        FloatBuffer f = (FloatBuffer) dst;
        if (f.remaining() < numElements) {
          throw sizeError(f.remaining() * 4);
        }
        f.put(s.asFloatBuffer());
        return;
      }
      if (dst instanceof IntBuffer) {
        requireType(DataType.INT32);
        IntBuffer ib = (IntBuffer) dst;
        if (ib.remaining() < numElements) {
          throw sizeError(ib.remaining() * 4);
        }
        ib.put(s.asIntBuffer());
        return;
      }
      throw unsupported(dst);
    }

    private void requireType(DataType t) {
      if (type != t) {
        throw new IllegalArgumentException(
            "tensor " + name + " is " + type + ", the buffer holds " + t);
      }
    }

    private IllegalArgumentException sizeError(int bytes) {
      return new IllegalArgumentException(
          "tensor "
              + name
              + " has "
              + numBytes()
              + " bytes, the buffer offers "
              + bytes);
    }

    private static IllegalArgumentException unsupported(Object o) {
      String what = o == null ? "null" : o.getClass().getName();
      if (!(o instanceof Buffer)) {
        return new IllegalArgumentException(
            "desktop Interpreter shim takes ByteBuffer/FloatBuffer/IntBuffer, not " + what);
      }
      return new IllegalArgumentException("unsupported buffer type " + what);
    }
  }
}
