package org.lponet.demo.engine;

import com.google.ai.edge.litert.CompiledModel;
import com.google.ai.edge.litert.LiteRtException;
import com.google.ai.edge.litert.TensorBuffer;
import java.util.List;
import org.lponet.core.BlazeFace;
import org.lponet.core.Detection;
import org.lponet.core.RgbImage;

/**
 * BlazeFace face detector over a LiteRT {@link CompiledModel}; pre/post-processing is
 * {@link BlazeFace} from the core. Plain Java, compiled by the JVM tests (see
 * {@link TfliteLandmarkModel}). MediaPipe's models carry no signature and their tensor names
 * differ between variants, so the buffers are taken in order and the outputs identified by
 * size, as Python identifies them by shape: regressors {@code A x 16} floats, logits
 * {@code A}.
 */
public final class TfliteBlazeFace {
  private final CompiledModel model;
  private final BlazeFace blaze;
  private final List<TensorBuffer> inputs, outputs;
  private final int regIndex, scoreIndex;

  public TfliteBlazeFace(CompiledModel model, BlazeFace.Spec spec) throws LiteRtException {
    this(model, spec, 0.5f, 0.3f);
  }

  public TfliteBlazeFace(
      CompiledModel model, BlazeFace.Spec spec, float scoreThreshold, float iouThreshold)
      throws LiteRtException {
    this.model = model;
    this.blaze = new BlazeFace(spec, scoreThreshold, iouThreshold);
    inputs = model.createInputBuffers();
    outputs = model.createOutputBuffers();
    if (inputs.size() != 1 || inputs.get(0).readFloat().length != spec.size * spec.size * 3) {
      throw new IllegalArgumentException("not a BlazeFace " + spec + " model (input)");
    }
    int reg = -1, sc = -1, a = blaze.numAnchors();
    for (int i = 0; i < outputs.size(); i++) {
      int n = outputs.get(i).readFloat().length;
      if (n == a * 16) {
        reg = i;
      } else if (n == a) {
        sc = i;
      }
    }
    if (reg < 0 || sc < 0 || outputs.size() != 2) {
      throw new IllegalArgumentException("not a BlazeFace " + spec + " model (outputs)");
    }
    regIndex = reg;
    scoreIndex = sc;
  }

  public BlazeFace blazeFace() {
    return blaze;
  }

  /** The raw outputs of one inference, with the letterbox that maps them to the image. */
  public static final class Raw {
    final float[] regressors, logits;
    final BlazeFace.Letterbox letterbox;

    Raw(float[] regressors, float[] logits, BlazeFace.Letterbox letterbox) {
      this.regressors = regressors;
      this.logits = logits;
      this.letterbox = letterbox;
    }
  }

  /** Faces in the image at the detector's threshold, best score first, in image pixels. */
  public List<Detection> detect(RgbImage image) {
    return decode(infer(image), blaze.scoreThreshold);
  }

  /** Run the model once (Python's {@code BlazeFaceDetector.infer}). */
  public Raw infer(RgbImage image) {
    BlazeFace.Letterbox lb = blaze.letterbox(image);
    try {
      inputs.get(0).writeFloat(blaze.inputTensor(image, lb));
      model.run(inputs, outputs);
      return new Raw(outputs.get(regIndex).readFloat(), outputs.get(scoreIndex).readFloat(), lb);
    } catch (LiteRtException e) {
      throw new IllegalStateException("LiteRT run failed: " + e.getMessage(), e);
    }
  }

  /** Detections of one inference at a score threshold ({@code BlazeFaceDetector.decode}). */
  public List<Detection> decode(Raw raw, float threshold) {
    return blaze.decode(raw.regressors, raw.logits, raw.letterbox, threshold);
  }
}
