package org.lponet.demo.engine;

import com.google.ai.edge.litert.CompiledModel;
import com.google.ai.edge.litert.LiteRtException;
import com.google.ai.edge.litert.TensorBuffer;
import com.google.ai.edge.litert.TensorType;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.lponet.core.LandmarkModel;
import org.lponet.core.ModelOutputs;

/**
 * {@link LandmarkModel} over a LiteRT {@link CompiledModel} holding an exported LPONet
 * ({@code lponet export}), float or full-int8. Plain Java on purpose (no android.* imports):
 * the JVM tests compile this very file against a desktop CompiledModel backed by LiteRT's C
 * library and run it on the real model, so what the app ships is what the tests check.
 *
 * <p>Tensors are addressed by their signature names (docs/CONVENTIONS.md: input {@code image},
 * outputs {@code heatmaps}, {@code pose}, {@code occlusion}; the exporter keeps them in the
 * TFLite signature), and their shapes and element types are read from the model. An int8
 * tensor needs its scale and zero point, which LiteRT's Kotlin API does not expose: they come
 * from the asset sidecar ({@code lponet_android.json}, written by tools/export_assets.py from
 * the file itself). Quantisation follows the Python runner
 * ({@code lponet_tf.runtime.tflite_runner}): {@code q = clamp(rint(x / scale) + zero)},
 * {@code x = (q - zero) * scale}, in float.
 *
 * <p>Threads: {@link #run} and {@link #close} are thread-safe. The instance owns one set of
 * LiteRT input and output buffers, so concurrent calls are serialised by a lock (as Python's
 * {@code BlazeFaceDetector.infer}): they wait for each other rather than interleave writes,
 * runs and reads of the same buffers. For parallel inference use one instance, on its own
 * {@link CompiledModel}, per thread; two instances must not share a CompiledModel unless
 * their callers serialise the runs themselves.
 *
 * <p>Resources: {@link #close} releases the buffers this instance created (native memory in
 * LiteRT); the {@link CompiledModel} belongs to the caller, who closes it after this.
 */
public final class TfliteLandmarkModel implements LandmarkModel, AutoCloseable {
  public static final String INPUT = "image";
  public static final String[] OUTPUTS = {"heatmaps", "pose", "occlusion"};

  /** Scale and zero point of an int8 tensor: {@code real = scale * (q - zeroPoint)}. */
  public static final class Quant {
    public final float scale;
    public final int zeroPoint;

    public Quant(float scale, int zeroPoint) {
      if (!(scale > 0f) || !Float.isFinite(scale) || zeroPoint < -128 || zeroPoint > 127) {
        throw new IllegalArgumentException(
            "int8 quantisation needs scale > 0 and -128 <= zero point <= 127, got " + scale
                + ", " + zeroPoint);
      }
      this.scale = scale;
      this.zeroPoint = zeroPoint;
    }
  }

  private final CompiledModel model;
  private final int inputSize;
  private final Quant inQuant;
  private final Quant[] outQuant = new Quant[3];
  private final int[][] outShapes = new int[3][];
  private final Map<String, TensorBuffer> inputs = new HashMap<>();
  private final Map<String, TensorBuffer> outputs = new HashMap<>();
  // Guards the buffers and the scratch arrays: run() writes, runs and reads them as one step.
  private final Object lock = new Object();
  private byte[] quantized;
  private boolean closed;

  /** A float model (no quantised tensors). */
  public TfliteLandmarkModel(CompiledModel model) throws LiteRtException {
    this(model, Map.of());
  }

  /**
   * @param model the compiled LPONet.
   * @param quant scale and zero point of each int8 tensor, by signature name (empty for a
   *     float model); a quantised tensor missing here is an error.
   */
  public TfliteLandmarkModel(CompiledModel model, Map<String, Quant> quant)
      throws LiteRtException {
    this.model = model;
    try {
      int[] in = shape(model.getInputTensorType(INPUT, ""));
      if (in.length != 4 || (in[0] != 1 && in[0] != -1) || in[1] != in[2] || in[3] != 3) {
        throw new IllegalArgumentException("expected an input (1, S, S, 3), got " + str(in));
      }
      inputSize = in[1];
      inQuant = quantOf(model.getInputTensorType(INPUT, ""), INPUT, quant);
      for (int i = 0; i < 3; i++) {
        TensorType t = model.getOutputTensorType(OUTPUTS[i], "");
        outShapes[i] = shape(t);
        outQuant[i] = quantOf(t, OUTPUTS[i], quant);
        outputs.put(OUTPUTS[i], model.createOutputBuffer(OUTPUTS[i], ""));
      }
      int[] hm = outShapes[0], oc = outShapes[2];
      if (hm.length != 4 || oc.length != 4 || hm[1] != oc[1] || hm[2] != oc[2]) {
        throw new IllegalArgumentException(
            "heatmaps " + str(hm) + " and occlusion " + str(oc) + " disagree");
      }
      inputs.put(INPUT, model.createInputBuffer(INPUT, ""));
    } catch (LiteRtException | RuntimeException e) {
      close(); // nobody else holds the buffers made before the failure
      throw e;
    }
  }

  private static Quant quantOf(TensorType t, String name, Map<String, Quant> quant) {
    switch (t.getElementType()) {
      case FLOAT:
        return null;
      case INT8:
        Quant q = quant.get(name);
        if (q == null) {
          throw new IllegalArgumentException(
              "tensor '" + name + "' is int8 but no scale / zero point was given (sidecar "
                  + "model.tensors)");
        }
        return q;
      default:
        throw new IllegalArgumentException(
            "tensor '" + name + "' is " + t.getElementType() + ": only FLOAT and INT8 are handled");
    }
  }

  private static int[] shape(TensorType t) {
    if (t.getLayout() == null) { // nullable in the Kotlin API (an unranked tensor)
      throw new IllegalArgumentException("a model tensor has no layout (unranked)");
    }
    List<Integer> d = t.getLayout().getDimensions();
    int[] s = new int[d.size()];
    for (int i = 0; i < s.length; i++) {
      s[i] = d.get(i);
    }
    return s;
  }

  @Override
  public int inputSize() {
    return inputSize;
  }

  /** Whether the model's input is int8 (quantised here from the float crop). */
  public boolean quantizedInput() {
    return inQuant != null;
  }

  /**
   * Run on one crop. Thread-safe: concurrent calls wait for each other (see the class doc).
   *
   * @throws IllegalStateException LiteRT failed, or this instance is closed
   */
  @Override
  public ModelOutputs run(float[] crop) {
    if (crop.length != inputSize * inputSize * 3) {
      throw new IllegalArgumentException("crop must have " + inputSize * inputSize * 3 + " floats");
    }
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("TfliteLandmarkModel is closed");
      }
      try {
        TensorBuffer in = inputs.get(INPUT);
        if (inQuant == null) {
          in.writeFloat(crop);
        } else {
          if (quantized == null) {
            quantized = new byte[crop.length];
          }
          quantize(crop, inQuant, quantized);
          in.writeInt8(quantized);
        }
        model.run(inputs, outputs, "");
        // Fresh arrays: they become the caller's ModelOutputs, which outlive the next run.
        float[][] o = new float[3][];
        for (int i = 0; i < 3; i++) {
          TensorBuffer b = outputs.get(OUTPUTS[i]);
          o[i] = outQuant[i] == null ? b.readFloat() : dequantize(b.readInt8(), outQuant[i]);
        }
        int[] hm = outShapes[0];
        return new ModelOutputs(o[0], hm[1], hm[2], hm[3], o[1], o[2], outShapes[2][3]);
      } catch (LiteRtException e) {
        throw new IllegalStateException("LiteRT run failed: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Releases the input and output buffers (idempotent; waits for a run in progress). The
   * {@link CompiledModel} stays open: it is the caller's.
   */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      for (TensorBuffer b : inputs.values()) {
        b.close();
      }
      for (TensorBuffer b : outputs.values()) {
        b.close();
      }
      inputs.clear();
      outputs.clear();
    }
  }

  /** Float values -> int8 with (scale, zero point): round half to even, as numpy. */
  public static byte[] quantize(float[] x, Quant q) {
    byte[] out = new byte[x.length];
    quantize(x, q, out);
    return out;
  }

  /** As {@link #quantize(float[], Quant)}, into {@code out} (at least {@code x.length} long). */
  public static void quantize(float[] x, Quant q, byte[] out) {
    for (int i = 0; i < x.length; i++) {
      double v = Math.rint(x[i] / q.scale) + q.zeroPoint;
      out[i] = (byte) Math.max(-128, Math.min(127, (int) v));
    }
  }

  /** int8 values -> float with (scale, zero point). */
  public static float[] dequantize(byte[] q, Quant p) {
    float[] out = new float[q.length];
    for (int i = 0; i < q.length; i++) {
      out[i] = (float) (q[i] - p.zeroPoint) * p.scale;
    }
    return out;
  }

  private static String str(int[] s) {
    return java.util.Arrays.toString(s);
  }
}
