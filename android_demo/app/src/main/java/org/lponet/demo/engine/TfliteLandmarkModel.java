package org.lponet.demo.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;
import org.lponet.core.LandmarkModel;
import org.lponet.core.ModelOutputs;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;

/**
 * {@link LandmarkModel} over a TFLite {@link Interpreter} holding an exported LPONet
 * ({@code lponet export}). Plain Java on purpose (no android.* imports): the JVM tests compile
 * this very file against a desktop Interpreter backed by LiteRT's C library and run it on the
 * real model, so what the app ships is what the tests check.
 *
 * <p>Outputs are found by their signature names {@code heatmaps}, {@code pose},
 * {@code occlusion} (fixed by docs/CONVENTIONS.md; the exporter keeps Keras' output names in
 * the TFLite signature). A model without a usable signature falls back to shapes: the rank-4
 * output with 2 channels is the occlusion, the other rank-4 one the heatmaps, the 3- or
 * 9-element one the pose.
 */
public final class TfliteLandmarkModel implements LandmarkModel {
  private final Interpreter interpreter;
  private final int inputSize;
  private final ByteBuffer input;
  private final int heatmapsIndex, poseIndex, occlusionIndex;
  private final int[] heatmapsShape, poseShape, occlusionShape;
  private final ByteBuffer heatmapsBuf, poseBuf, occlusionBuf;
  /** Non-null when the outputs were identified through the model's signature. */
  private final String[] signatureNames;

  public TfliteLandmarkModel(Interpreter interpreter) {
    this.interpreter = interpreter;
    int[] in = interpreter.getInputTensor(0).shape();
    if (in.length != 4 || in[0] != 1 || in[1] != in[2] || in[3] != 3) {
      throw new IllegalArgumentException("expected an input (1, S, S, 3), got " + str(in));
    }
    inputSize = in[1];
    input = direct(interpreter.getInputTensor(0).numBytes());

    int hm = -1, po = -1, oc = -1;
    String[] names = null;
    String[] keys = interpreter.getSignatureKeys();
    if (keys.length == 1) {
      String[] outs = interpreter.getSignatureOutputs(keys[0]);
      if (contains(outs, "heatmaps") && contains(outs, "pose") && contains(outs, "occlusion")) {
        names = new String[] {"heatmaps", "pose", "occlusion"};
        hm = indexOf(interpreter, interpreter.getOutputTensorFromSignature("heatmaps", keys[0]));
        po = indexOf(interpreter, interpreter.getOutputTensorFromSignature("pose", keys[0]));
        oc = indexOf(interpreter, interpreter.getOutputTensorFromSignature("occlusion", keys[0]));
      }
    }
    if (names == null) {
      for (int i = 0; i < interpreter.getOutputTensorCount(); i++) {
        int[] s = interpreter.getOutputTensor(i).shape();
        int n = interpreter.getOutputTensor(i).numElements();
        if (s.length == 4 && s[3] == 2) {
          oc = i;
        } else if (s.length == 4) {
          hm = i;
        } else if (n == 9 || n == 3) {
          po = i;
        }
      }
      if (hm < 0 || po < 0 || oc < 0 || interpreter.getOutputTensorCount() != 3) {
        throw new IllegalArgumentException("cannot identify heatmaps / pose / occlusion outputs");
      }
    }
    signatureNames = names;
    heatmapsIndex = hm;
    poseIndex = po;
    occlusionIndex = oc;
    heatmapsShape = interpreter.getOutputTensor(hm).shape();
    poseShape = interpreter.getOutputTensor(po).shape();
    occlusionShape = interpreter.getOutputTensor(oc).shape();
    if (heatmapsShape.length != 4 || occlusionShape.length != 4
        || heatmapsShape[1] != occlusionShape[1] || heatmapsShape[2] != occlusionShape[2]) {
      throw new IllegalArgumentException(
          "heatmaps " + str(heatmapsShape) + " and occlusion " + str(occlusionShape) + " disagree");
    }
    heatmapsBuf = direct(interpreter.getOutputTensor(hm).numBytes());
    poseBuf = direct(interpreter.getOutputTensor(po).numBytes());
    occlusionBuf = direct(interpreter.getOutputTensor(oc).numBytes());
  }

  @Override
  public int inputSize() {
    return inputSize;
  }

  /** Signature-based output lookup was used (false: shape fallback). */
  public boolean usesSignature() {
    return signatureNames != null;
  }

  @Override
  public ModelOutputs run(float[] crop) {
    if (crop.length != inputSize * inputSize * 3) {
      throw new IllegalArgumentException("crop must have " + inputSize * inputSize * 3 + " floats");
    }
    input.clear();
    input.asFloatBuffer().put(crop);
    input.rewind();
    heatmapsBuf.clear();
    poseBuf.clear();
    occlusionBuf.clear();
    Map<Integer, Object> outputs = new HashMap<>();
    outputs.put(heatmapsIndex, heatmapsBuf);
    outputs.put(poseIndex, poseBuf);
    outputs.put(occlusionIndex, occlusionBuf);
    interpreter.runForMultipleInputsOutputs(new Object[] {input}, outputs);
    return new ModelOutputs(
        floats(heatmapsBuf), heatmapsShape[1], heatmapsShape[2], heatmapsShape[3],
        floats(poseBuf), floats(occlusionBuf), occlusionShape[3]);
  }

  static ByteBuffer direct(int bytes) {
    return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
  }

  static float[] floats(ByteBuffer b) {
    b.rewind();
    FloatBuffer f = b.asFloatBuffer();
    float[] out = new float[f.remaining()];
    f.get(out);
    return out;
  }

  private static int indexOf(Interpreter it, Tensor t) {
    // Tensor.index() is the position in the interpreter's output list in both the real API and
    // the desktop shim; double-check by name in case a runtime reports something else.
    for (int i = 0; i < it.getOutputTensorCount(); i++) {
      if (it.getOutputTensor(i).name().equals(t.name())) {
        return i;
      }
    }
    throw new IllegalArgumentException("signature output " + t.name() + " is not a model output");
  }

  private static boolean contains(String[] a, String s) {
    for (String x : a) {
      if (x.equals(s)) {
        return true;
      }
    }
    return false;
  }

  private static String str(int[] s) {
    return java.util.Arrays.toString(s);
  }
}
