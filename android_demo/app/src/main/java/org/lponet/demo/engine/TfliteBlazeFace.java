package org.lponet.demo.engine;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.lponet.core.BlazeFace;
import org.lponet.core.Detection;
import org.lponet.core.RgbImage;
import org.tensorflow.lite.Interpreter;

/**
 * BlazeFace face detector over a TFLite {@link Interpreter}; pre/post-processing is
 * {@link BlazeFace} from the core. Plain Java, compiled by the JVM tests (see
 * {@link TfliteLandmarkModel}). Outputs are identified by shape, as in Python: regressors
 * {@code (1, A, 16)} and logits {@code (1, A, 1)} (names differ between model variants).
 */
public final class TfliteBlazeFace {
  private final Interpreter interpreter;
  private final BlazeFace blaze;
  private final ByteBuffer input;
  private final int regIndex, scoreIndex;
  private final ByteBuffer regBuf, scoreBuf;

  public TfliteBlazeFace(Interpreter interpreter, BlazeFace.Spec spec) {
    this(interpreter, spec, 0.5f, 0.3f);
  }

  public TfliteBlazeFace(
      Interpreter interpreter, BlazeFace.Spec spec, float scoreThreshold, float iouThreshold) {
    this.interpreter = interpreter;
    this.blaze = new BlazeFace(spec, scoreThreshold, iouThreshold);
    int[] in = interpreter.getInputTensor(0).shape();
    if (in.length != 4 || in[1] != spec.size || in[2] != spec.size || in[3] != 3) {
      throw new IllegalArgumentException("not a BlazeFace " + spec + " model");
    }
    int reg = -1, sc = -1;
    for (int i = 0; i < interpreter.getOutputTensorCount(); i++) {
      int[] s = interpreter.getOutputTensor(i).shape();
      if (s[s.length - 1] == 16) {
        reg = i;
      } else if (s[s.length - 1] == 1) {
        sc = i;
      }
    }
    if (reg < 0 || sc < 0 || interpreter.getOutputTensor(sc).numElements() != blaze.numAnchors()) {
      throw new IllegalArgumentException("unexpected BlazeFace outputs");
    }
    regIndex = reg;
    scoreIndex = sc;
    input = TfliteLandmarkModel.direct(interpreter.getInputTensor(0).numBytes());
    regBuf = TfliteLandmarkModel.direct(interpreter.getOutputTensor(reg).numBytes());
    scoreBuf = TfliteLandmarkModel.direct(interpreter.getOutputTensor(sc).numBytes());
  }

  public BlazeFace blazeFace() {
    return blaze;
  }

  /** Faces in the image, best score first, in image pixels. */
  public List<Detection> detect(RgbImage image) {
    BlazeFace.Letterbox lb = blaze.letterbox(image);
    input.clear();
    input.asFloatBuffer().put(blaze.inputTensor(image, lb));
    input.rewind();
    regBuf.clear();
    scoreBuf.clear();
    Map<Integer, Object> out = new HashMap<>();
    out.put(regIndex, regBuf);
    out.put(scoreIndex, scoreBuf);
    interpreter.runForMultipleInputsOutputs(new Object[] {input}, out);
    return blaze.decode(TfliteLandmarkModel.floats(regBuf), TfliteLandmarkModel.floats(scoreBuf), lb);
  }
}
