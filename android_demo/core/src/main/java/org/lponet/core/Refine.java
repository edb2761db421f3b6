package org.lponet.core;

/**
 * The second pass of Python's {@code FaceAnalyzer.analyze_detections} ({@code refine}, on by
 * default): a confident face whose landmarks disagree with the box it was cropped from (IoU
 * of their tight box with it below {@link #IOU}) is analysed again on its own landmark box,
 * i.e. exactly the training crop, until they agree (at most {@code REFINE_PASSES} times, which
 * the app reads from the sidecar). Box helpers follow {@code lponet_tf.detection}
 * ({@code landmark_box}, {@code box_iou}, {@code box_in_image}), in float like numpy's float32.
 */
public final class Refine {
  /**
   * {@code lponet_tf.inference.analyzer.REFINE_IOU} (checked by the JVM tests; the app reads
   * the value from the sidecar's {@code analyzer.refine_iou}).
   */
  public static final float IOU = 0.9f;

  private Refine() {}

  /** Tight box {@code x0, y0, x1, y1} of the landmarks, non-finite rows ignored; null if none. */
  public static float[] landmarkBox(float[][] landmarks) {
    float x0 = Float.POSITIVE_INFINITY, y0 = Float.POSITIVE_INFINITY;
    float x1 = Float.NEGATIVE_INFINITY, y1 = Float.NEGATIVE_INFINITY;
    boolean any = false;
    for (float[] p : landmarks) {
      if (!Float.isFinite(p[0]) || !Float.isFinite(p[1])) {
        continue;
      }
      any = true;
      x0 = Math.min(x0, p[0]);
      y0 = Math.min(y0, p[1]);
      x1 = Math.max(x1, p[0]);
      y1 = Math.max(y1, p[1]);
    }
    return any ? new float[] {x0, y0, x1, y1} : null;
  }

  /** Intersection over union of two boxes (0 when the union is empty). */
  public static float iou(float[] a, float[] b) {
    float iw = Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0f);
    float ih = Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0f);
    float inter = iw * ih;
    float areaA = Math.max(a[2] - a[0], 0f) * Math.max(a[3] - a[1], 0f);
    float areaB = Math.max(b[2] - b[0], 0f) * Math.max(b[3] - b[1], 0f);
    float union = areaA + areaB - inter;
    return union > 0f ? inter / union : 0f;
  }

  /**
   * Whether {@code box} has a finite positive area overlapping a {@code width x height} image
   * (pixel centres at integers: the image covers {@code -0.5 .. width - 0.5}).
   */
  public static boolean inImage(float[] box, int width, int height) {
    for (float v : box) {
      if (!Float.isFinite(v)) {
        return false;
      }
    }
    return box[2] > box[0] && box[3] > box[1] && box[2] > -0.5f && box[3] > -0.5f
        && box[0] < width - 0.5f && box[1] < height - 0.5f;
  }

  /**
   * The box to analyse {@code face} again on, or null when it needs no second pass: its
   * confidence is below {@code minConfidence} (its landmarks are not trusted to give a better
   * box), a landmark is not finite, its landmark box agrees with {@code face.faceBox} (IoU at
   * least {@code minIou}, Python's {@link #IOU}), or that box lies outside the image.
   */
  public static float[] refinedBox(
      Face face, float minConfidence, float minIou, int width, int height) {
    if (face.confidence() < minConfidence) {
      return null;
    }
    for (float[] p : face.landmarks) {
      if (!Float.isFinite(p[0]) || !Float.isFinite(p[1])) {
        return null;
      }
    }
    float[] box = landmarkBox(face.landmarks);
    if (box == null || iou(face.faceBox, box) >= minIou || !inImage(box, width, height)) {
      return null;
    }
    return box;
  }
}
