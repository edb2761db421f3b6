package org.lponet.desktop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lponet.core.Goldens.*;

import com.google.ai.edge.litert.Accelerator;
import com.google.ai.edge.litert.CompiledModel;
import com.google.ai.edge.litert.LiteRtException;
import com.google.ai.edge.litert.TensorBuffer;
import com.google.ai.edge.litert.TensorType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The desktop {@code com.google.ai.edge.litert.CompiledModel} (JNI on libLiteRt.so) vs the
 * Python LiteRT interpreter on the same real model (BlazeFace short range) and the same input:
 * same tensor names, shapes, element types and output values; and the parts of the API
 * contract the app relies on (list and by-name runs, buffer sizes, errors).
 */
class CompiledModelShimTest {
  private final Map<String, Object> g = json("shim.json");
  private CompiledModel model;

  @BeforeEach
  void open() throws LiteRtException {
    CompiledModel.Options options = new CompiledModel.Options(Accelerator.CPU);
    options.setCpuOptions(new CompiledModel.CpuOptions(2, null, null));
    model = CompiledModel.create((String) g.get("model"), options);
  }

  @AfterEach
  void close() {
    model.close();
  }

  private List<Object> outputs() {
    return list(g.get("outputs"));
  }

  private static void assertEqualsPython(float[] exp, float[] got, String what) {
    assertEquals(exp.length, got.length, what + " length");
    // Same XNNPACK kernels behind both runtimes: equal to float rounding.
    for (int j = 0; j < exp.length; j++) {
      assertEquals(exp[j], got[j], 1e-4 + 1e-5 * Math.abs(exp[j]), what + " value " + j);
    }
  }

  private static List<Integer> dims(Object shape) {
    List<Integer> out = new ArrayList<>();
    for (double d : doubles(shape)) {
      out.add((int) d);
    }
    return out;
  }

  @Test
  void tensorTypesDescribeTheModelLikePython() throws LiteRtException {
    TensorType in = model.getInputTensorType((String) g.get("input_name"), "");
    assertEquals(TensorType.ElementType.FLOAT, in.getElementType());
    assertEquals(dims(g.get("input_shape")), in.getLayout().getDimensions());
    for (Object o : outputs()) {
      Map<String, Object> m = map(o);
      TensorType t = model.getOutputTensorType((String) m.get("name"), "");
      assertEquals(TensorType.ElementType.FLOAT, t.getElementType());
      assertEquals(dims(m.get("shape")), t.getLayout().getDimensions(), (String) m.get("name"));
    }
    assertEquals(1, model.createInputBuffers().size());
    assertEquals(outputs().size(), model.createOutputBuffers().size());
  }

  @Test
  void runByNameGivesThePythonOutputs() throws LiteRtException {
    Map<String, TensorBuffer> in = new HashMap<>();
    TensorBuffer x = model.createInputBuffer((String) g.get("input_name"), "");
    x.writeFloat(f32((String) g.get("input")));
    in.put((String) g.get("input_name"), x);
    Map<String, TensorBuffer> out = new HashMap<>();
    for (Object o : outputs()) {
      String name = (String) map(o).get("name");
      out.put(name, model.createOutputBuffer(name, ""));
    }
    model.run(in, out, "");
    for (Object o : outputs()) {
      Map<String, Object> m = map(o);
      assertEqualsPython(f32((String) m.get("file")), out.get((String) m.get("name")).readFloat(),
          (String) m.get("name"));
    }
  }

  @Test
  void runOnBufferListsGivesThePythonOutputsAndReusesBuffers() throws LiteRtException {
    List<TensorBuffer> in = model.createInputBuffers();
    List<TensorBuffer> out = model.createOutputBuffers();
    float[] x = f32((String) g.get("input"));
    for (int round = 0; round < 2; round++) {
      in.get(0).writeFloat(x);
      model.run(in, out);
      // Signature order: match each buffer to the Python output of its size (the two
      // BlazeFace outputs differ in size), every Python output exactly once.
      List<Object> left = new ArrayList<>(outputs());
      for (TensorBuffer b : out) {
        float[] got = b.readFloat();
        Map<String, Object> match = null;
        for (Object o : left) {
          if (f32((String) map(o).get("file")).length == got.length) {
            match = map(o);
          }
        }
        assertTrue(match != null, "an output of " + got.length + " floats is not Python's");
        left.remove(match);
        assertEqualsPython(f32((String) match.get("file")), got, (String) match.get("name"));
      }
    }
  }

  @Test
  void cpuOptionsNumThreadsReachesTheCpuAccelerator() throws LiteRtException {
    // CpuOptions.numThreads travels as LiteRT 2.3.0's "xnnpack" TOML option; XNNPACK then
    // starts n - 1 worker threads on the first run (counted in /proc, Linux).
    int[] extra = new int[2];
    int[] threads = {1, 4};
    for (int k = 0; k < 2; k++) {
      int before = new java.io.File("/proc/self/task").list().length;
      CompiledModel.Options o = new CompiledModel.Options(Accelerator.CPU);
      o.setCpuOptions(new CompiledModel.CpuOptions(threads[k], null, null));
      try (CompiledModel m = CompiledModel.create((String) g.get("model"), o)) {
        List<TensorBuffer> in = m.createInputBuffers();
        in.get(0).writeFloat(f32((String) g.get("input")));
        m.run(in, m.createOutputBuffers());
        extra[k] = new java.io.File("/proc/self/task").list().length - before;
      }
    }
    assertTrue(extra[1] >= extra[0] + 2, "threads started: 1 -> " + extra[0] + ", 4 -> " + extra[1]);
  }

  @Test
  void errorsAreLiteRtExceptions() throws LiteRtException {
    TensorBuffer x = model.createInputBuffers().get(0);
    int n = x.readFloat().length;
    assertThrows(LiteRtException.class, () -> x.writeFloat(new float[n + 1]));
    assertThrows(LiteRtException.class, () -> model.getOutputTensorType("no such tensor", ""));
    assertThrows(LiteRtException.class, () -> model.createInputBuffer("no such tensor", ""));
    assertThrows(LiteRtException.class, () -> model.getInputTensorType(
        (String) g.get("input_name"), "no such signature"));
    assertThrows(LiteRtException.class,
        () -> model.run(model.createInputBuffers(), model.createInputBuffers()));
    assertThrows(LiteRtException.class, () -> CompiledModel.create(
        (String) g.get("model"), new CompiledModel.Options(Accelerator.GPU)));
    assertThrows(LiteRtException.class, () -> CompiledModel.create(
        dir().resolve("no_such_model.tflite").toString()));
    model.close();
    assertThrows(IllegalStateException.class, () -> model.createInputBuffers());
  }
}
