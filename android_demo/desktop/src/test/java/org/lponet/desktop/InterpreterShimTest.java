package org.lponet.desktop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lponet.core.Goldens.*;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;

/**
 * The desktop {@code org.tensorflow.lite.Interpreter} (JNI on libLiteRt.so) vs the Python
 * LiteRT interpreter on the same real model (BlazeFace short range) and the same input: same
 * tensor names, shapes and output values; and the parts of the Interpreter contract the app
 * relies on (buffer kinds and positions, errors).
 */
class InterpreterShimTest {
  private final Map<String, Object> g = json("shim.json");
  private Interpreter it;

  @BeforeEach
  void open() {
    it = new Interpreter(new File((String) g.get("model")), new Interpreter.Options().setNumThreads(2));
  }

  @AfterEach
  void close() {
    it.close();
  }

  private List<Object> outputs() {
    return list(g.get("outputs"));
  }

  private void assertOutputsEqualPython(FloatBuffer[] got) {
    for (int i = 0; i < got.length; i++) {
      float[] exp = f32((String) map(outputs().get(i)).get("file"));
      float[] v = new float[exp.length];
      got[i].rewind();
      got[i].get(v);
      // Same XNNPACK kernels behind both runtimes: equal to float rounding.
      for (int j = 0; j < exp.length; j++) {
        assertEquals(exp[j], v[j], 1e-4 + 1e-5 * Math.abs(exp[j]), "output " + i + " value " + j);
      }
    }
  }

  @Test
  void tensorsDescribeTheModelLikePython() {
    assertEquals(1, it.getInputTensorCount());
    assertArrayEquals(floatsToInts(doubles(g.get("input_shape"))), it.getInputTensor(0).shape());
    assertEquals(g.get("input_name"), it.getInputTensor(0).name());
    assertEquals(DataType.FLOAT32, it.getInputTensor(0).dataType());
    assertEquals(outputs().size(), it.getOutputTensorCount());
    for (int i = 0; i < outputs().size(); i++) {
      Map<String, Object> o = map(outputs().get(i));
      assertEquals(o.get("name"), it.getOutputTensor(i).name(), "output " + i);
      assertArrayEquals(floatsToInts(doubles(o.get("shape"))), it.getOutputTensor(i).shape());
      assertEquals(i, it.getOutputIndex((String) o.get("name")));
    }
    // MediaPipe's model has no SignatureDef: like the real Interpreter, report none.
    assertEquals(0, it.getSignatureKeys().length);
  }

  @Test
  void floatBuffersGiveThePythonOutputs() {
    FloatBuffer in = FloatBuffer.wrap(f32((String) g.get("input")));
    FloatBuffer[] out = new FloatBuffer[outputs().size()];
    Map<Integer, Object> outMap = new HashMap<>();
    for (int i = 0; i < out.length; i++) {
      out[i] = FloatBuffer.allocate(it.getOutputTensor(i).numElements());
      outMap.put(i, out[i]);
    }
    it.runForMultipleInputsOutputs(new Object[] {in}, outMap);
    assertOutputsEqualPython(out);
  }

  @Test
  void directAndHeapByteBuffersAgreeAndPositionsAdvance() {
    float[] x = f32((String) g.get("input"));
    ByteBuffer direct = ByteBuffer.allocateDirect(x.length * 4).order(ByteOrder.nativeOrder());
    direct.asFloatBuffer().put(x);
    ByteBuffer heap = ByteBuffer.allocate(x.length * 4).order(ByteOrder.nativeOrder());
    heap.asFloatBuffer().put(x);
    int n0 = it.getOutputTensor(0).numBytes();
    ByteBuffer o1 = ByteBuffer.allocateDirect(n0).order(ByteOrder.nativeOrder());
    ByteBuffer o2 = ByteBuffer.allocate(n0).order(ByteOrder.nativeOrder());
    it.run(direct, o1);
    it.run(heap, o2);
    assertEquals(n0, o1.position(), "output position advances by the bytes written");
    assertEquals(x.length * 4, heap.position(), "a heap input is consumed");
    assertEquals(0, direct.position(), "a direct native-order input is read in place");
    o1.rewind();
    o2.rewind();
    assertEquals(o1, o2);
    FloatBuffer[] got = {o1.asFloatBuffer()};
    float[] exp = f32((String) map(outputs().get(0)).get("file"));
    float[] v = new float[exp.length];
    got[0].get(v);
    assertArrayEquals(exp, v, 1e-3f);
  }

  @Test
  void modelFromAByteBuffer() throws Exception {
    byte[] bytes = Files.readAllBytes(new File((String) g.get("model")).toPath());
    ByteBuffer model = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
    model.put(bytes);
    try (Interpreter it2 = new Interpreter(model)) {
      FloatBuffer in = FloatBuffer.wrap(f32((String) g.get("input")));
      FloatBuffer[] out = new FloatBuffer[outputs().size()];
      Map<Integer, Object> outMap = new HashMap<>();
      for (int i = 0; i < out.length; i++) {
        out[i] = FloatBuffer.allocate(it2.getOutputTensor(i).numElements());
        outMap.put(i, out[i]);
      }
      it2.runForMultipleInputsOutputs(new Object[] {in}, outMap);
      assertOutputsEqualPython(out);
    }
  }

  @Test
  void numThreadsReachesTheCpuAccelerator() {
    // Options.setNumThreads travels as LiteRT 2.3.0's "xnnpack" TOML option; XNNPACK then
    // starts n - 1 worker threads on the first run (counted in /proc, Linux).
    int[] extra = new int[2];
    int[] threads = {1, 4};
    for (int k = 0; k < 2; k++) {
      int before = new File("/proc/self/task").list().length;
      try (Interpreter it2 = new Interpreter(new File((String) g.get("model")),
          new Interpreter.Options().setNumThreads(threads[k]))) {
        it2.run(FloatBuffer.wrap(f32((String) g.get("input"))),
            FloatBuffer.allocate(it2.getOutputTensor(0).numElements()));
        extra[k] = new File("/proc/self/task").list().length - before;
      }
    }
    assertTrue(extra[1] >= extra[0] + 2, "threads started: 1 -> " + extra[0] + ", 4 -> " + extra[1]);
  }

  @Test
  void errorsAreJavaExceptions() {
    assertThrows(IllegalArgumentException.class,
        () -> it.run(FloatBuffer.allocate(10), FloatBuffer.allocate(it.getOutputTensor(0).numElements())));
    assertThrows(IllegalArgumentException.class,
        () -> it.run(new float[1][128][128][3], new float[1][896][16]));
    assertThrows(IllegalArgumentException.class, () -> it.getOutputIndex("no such tensor"));
    assertThrows(IllegalArgumentException.class,
        () -> new Interpreter(dir().resolve((String) g.get("input")).toFile()));
    it.close();
    assertThrows(IllegalStateException.class, () -> it.getInputTensor(0));
  }

  private static int[] floatsToInts(double[] d) {
    int[] out = new int[d.length];
    for (int i = 0; i < d.length; i++) {
      out[i] = (int) d[i];
    }
    return out;
  }
}
