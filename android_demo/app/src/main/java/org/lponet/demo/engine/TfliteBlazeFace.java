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
 *
 * <p>Threads: {@link #infer}, {@link #detect} and {@link #close} are thread-safe; the
 * instance owns one set of LiteRT buffers, so concurrent inferences are serialised by a lock
 * (Python's {@code BlazeFaceDetector.infer}: set, invoke and read must not interleave) and
 * wait for each other. {@link #decode} only reads its arguments. For parallel detection use
 * one instance, on its own {@link CompiledModel}, per thread.
 *
 * <p>Resources: {@link #close} releases the buffers this instance created; the
 * {@link CompiledModel} is the caller's to close, after this.
 */
public final class TfliteBlazeFace implements AutoCloseable {
  private final CompiledModel model;
  private final BlazeFace blaze;
  private final List<TensorBuffer> inputs, outputs;
  private final int regIndex, scoreIndex;
  // Guards the buffers: infer() writes, runs and reads them as one step.
  private final Object lock = new Object();
  private boolean closed;
  private final float[] input; // reused every inference (guarded by lock)

  /** With the model's default thresholds ({@link BlazeFace#BlazeFace(BlazeFace.Spec)}). */
  public TfliteBlazeFace(CompiledModel model, BlazeFace.Spec spec) throws LiteRtException {
    this(model, spec, spec.defaultScoreThreshold, BlazeFace.DEFAULT_IOU_THRESHOLD);
  }

  public TfliteBlazeFace(
      CompiledModel model, BlazeFace.Spec spec, float scoreThreshold, float iouThreshold)
      throws LiteRtException {
    this.model = model;
    this.blaze = new BlazeFace(spec, scoreThreshold, iouThreshold);
    this.input = new float[spec.size * spec.size * 3];
    List<TensorBuffer> in = null, out = null;
    try {
      in = model.createInputBuffers();
      out = model.createOutputBuffers();
      if (in.size() != 1 || in.get(0).readFloat().length != spec.size * spec.size * 3) {
        throw new IllegalArgumentException("not a BlazeFace " + spec + " model (input)");
      }
      int reg = -1, sc = -1, a = blaze.numAnchors();
      for (int i = 0; i < out.size(); i++) {
        int n = out.get(i).readFloat().length;
        if (n == a * 16) {
          reg = i;
        } else if (n == a) {
          sc = i;
        }
      }
      if (reg < 0 || sc < 0 || out.size() != 2) {
        throw new IllegalArgumentException("not a BlazeFace " + spec + " model (outputs)");
      }
      regIndex = reg;
      scoreIndex = sc;
    } catch (LiteRtException | RuntimeException e) {
      closeAll(in); // nobody else holds the buffers made before the failure
      closeAll(out);
      throw e;
    }
    inputs = in;
    outputs = out;
  }

  private static void closeAll(List<TensorBuffer> buffers) {
    if (buffers != null) {
      for (TensorBuffer b : buffers) {
        b.close();
      }
    }
  }

  /**
   * Releases the input and output buffers (idempotent; waits for an inference in progress).
   * The {@link CompiledModel} stays open: it is the caller's.
   */
  @Override
  public void close() {
    synchronized (lock) {
      if (!closed) {
        closed = true;
        closeAll(inputs);
        closeAll(outputs);
      }
    }
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

  /**
   * Run the model once (Python's {@code BlazeFaceDetector.infer}). Thread-safe: concurrent
   * calls wait for each other.
   *
   * @throws IllegalStateException LiteRT failed, or this instance is closed
   */
  public Raw infer(RgbImage image) {
    BlazeFace.Letterbox lb = blaze.letterbox(image);
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("TfliteBlazeFace is closed");
      }
      try {
        blaze.inputTensor(image, lb, input);
        inputs.get(0).writeFloat(input);
        model.run(inputs, outputs);
        // New arrays (LiteRT's read API): the Raw outlives the next inference.
        return new Raw(outputs.get(regIndex).readFloat(), outputs.get(scoreIndex).readFloat(), lb);
      } catch (LiteRtException e) {
        throw new IllegalStateException("LiteRT run failed: " + e.getMessage(), e);
      }
    }
  }

  /** Detections of one inference at a score threshold ({@code BlazeFaceDetector.decode}). */
  public List<Detection> decode(Raw raw, float threshold) {
    return blaze.decode(raw.regressors, raw.logits, raw.letterbox, threshold);
  }
}
