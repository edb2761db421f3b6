package com.google.ai.edge.litert;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Desktop stand-in for LiteRT's {@code TensorBuffer} (TensorBuffer.kt): a host-memory buffer
 * of one model input or output, made by {@link CompiledModel#createInputBuffers} and friends.
 *
 * <p>Semantics follow the real JNI ({@code litert_tensor_buffer_jni.cc}, {@code
 * TensorBuffer::Write/Read}): {@code writeX} copies the array's bytes to the start of the
 * buffer and fails when they do not fit; {@code readX} returns the whole buffer as that type
 * (packed size / element size elements). Neither checks the tensor's element type, as in
 * LiteRT; the engine classes check it themselves with {@link CompiledModel#getInputTensorType}.
 */
public final class TensorBuffer extends JniHandle {
  // In LiteRT each buffer owns native memory until closed; counting them here lets the JVM
  // tests see a leak that the garbage-collected stand-in itself would hide.
  private static final AtomicInteger OPEN = new AtomicInteger();

  final ByteBuffer host;

  TensorBuffer(int bytes) {
    host = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
    OPEN.incrementAndGet();
  }

  /** Desktop stand-in only (not in LiteRT): buffers created and not yet closed, in this JVM. */
  public static int openCount() {
    return OPEN.get();
  }

  private void fits(int bytes) throws LiteRtException {
    assertNotDestroyed();
    if (bytes > host.capacity()) {
      throw new LiteRtException(
          Status.ErrorRuntimeFailure,
          "TensorBuffer host memory buffer size is smaller than the given data size, "
              + host.capacity() + " vs " + bytes);
    }
  }

  public void writeFloat(float[] data) throws LiteRtException {
    fits(data.length * 4);
    host.clear();
    host.asFloatBuffer().put(data);
  }

  public void writeInt(int[] data) throws LiteRtException {
    fits(data.length * 4);
    host.clear();
    host.asIntBuffer().put(data);
  }

  public void writeInt8(byte[] data) throws LiteRtException {
    fits(data.length);
    host.clear();
    host.put(data);
  }

  public float[] readFloat() throws LiteRtException {
    assertNotDestroyed();
    host.clear();
    float[] out = new float[host.capacity() / 4];
    host.asFloatBuffer().get(out);
    return out;
  }

  public int[] readInt() throws LiteRtException {
    assertNotDestroyed();
    host.clear();
    int[] out = new int[host.capacity() / 4];
    host.asIntBuffer().get(out);
    return out;
  }

  public byte[] readInt8() throws LiteRtException {
    assertNotDestroyed();
    host.clear();
    byte[] out = new byte[host.capacity()];
    host.get(out);
    return out;
  }

  @Override
  protected void destroy() {
    OPEN.decrementAndGet();
  }
}
