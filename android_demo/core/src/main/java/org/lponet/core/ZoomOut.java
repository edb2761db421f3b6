package org.lponet.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The second look of Python's {@code lponet_tf.detection.zoom_out.ZoomOutDetector} (part of
 * the default detector, {@code blazeface_confirmed_zoom}): when the detector finds no face
 * scoring at least {@code rerunBelow}, it runs again on the image inside a gray border
 * ({@code pad} times the longer side on every side), so that a face filling the frame (a
 * close-up selfie, a masked face cut by the border) becomes an ordinary one, and the two passes'
 * faces are merged ({@link #merge}). This class pads the image, maps the second pass's
 * detections back and merges; the models are run by the caller (the app's engine).
 */
public final class ZoomOut {
  public final double pad;
  public final int fill;
  /** The second pass runs when no first-pass face scores at least this; NaN: only when none. */
  public final double rerunBelow;
  /** The padded image's longest side: a larger image is shrunk first (0: never). */
  public final int maxSide;

  /** The image the second pass runs on, and how to map its detections back. */
  public static final class View {
    public final RgbImage image;
    /** Border width, pixels of the shrunk image. */
    public final int border;
    /** Original -> shrunk image factors (1 when not shrunk). */
    public final double sx, sy;

    View(RgbImage image, int border, double sx, double sy) {
      this.image = image;
      this.border = border;
      this.sx = sx;
      this.sy = sy;
    }
  }

  public ZoomOut(double pad, int fill, double rerunBelow, int maxSide) {
    if (!(pad > 0 && pad <= 4)) {
      throw new IllegalArgumentException("zoom-out pad must be in (0, 4], got " + pad);
    }
    if (fill < 0 || fill > 255) {
      throw new IllegalArgumentException("zoom-out fill must be in [0, 255], got " + fill);
    }
    if (!Double.isNaN(rerunBelow) && !(rerunBelow >= 0 && rerunBelow <= 1)) {
      throw new IllegalArgumentException("zoom-out rerunBelow must be in [0, 1] or NaN, got " + rerunBelow);
    }
    this.pad = pad;
    this.fill = fill;
    if (maxSide != 0 && maxSide < 16) {
      throw new IllegalArgumentException("zoom-out maxSide must be >= 16 or 0, got " + maxSide);
    }
    this.rerunBelow = rerunBelow;
    this.maxSide = maxSide;
  }

  /**
   * Python's {@code zoom_out}: the image, shrunk (area averaging, {@code shrink_to}) so that the
   * padded image's longer side is at most about {@code maxSide}, inside the border.
   */
  public View view(RgbImage image) {
    RgbImage small = image;
    double sx = 1, sy = 1;
    int limit = maxSide == 0 ? 0 : (int) (maxSide / (1 + 2 * pad));
    int longer = Math.max(image.width, image.height);
    if (limit > 0 && longer > limit) {
      double s = (double) limit / longer;
      int nw = Math.max(1, (int) Math.rint(image.width * s));
      int nh = Math.max(1, (int) Math.rint(image.height * s));
      small = Resize.areaU8(image, nw, nh);
      sx = (double) nw / image.width;
      sy = (double) nh / image.height;
    }
    int p = border(small);
    return new View(padded(small, p), p, sx, sy);
  }

  /** Whether the second pass runs after a first pass that found {@code found}. */
  public boolean needed(List<Detection> found) {
    if (found.isEmpty()) {
      return true;
    }
    if (Double.isNaN(rerunBelow)) {
      return false;
    }
    for (Detection d : found) {
      if (d.score >= rerunBelow) {
        return false;
      }
    }
    return true;
  }

  /**
   * Python's {@code MERGE_KEEP_IOU}: a second-pass face overlapping a first-pass one by this IoU
   * or more leaves it in place.
   */
  public static final float MERGE_KEEP_IOU = 0.5f;

  /**
   * The two passes' faces (Python's {@code merge_passes}): a second-pass face that agrees with
   * no first-pass face ({@link ConfirmedDetection#boxesAgree}) is added; one that agrees with
   * some replaces them when, for each of them, it scores higher, is larger, and overlaps it by
   * IoU < {@link #MERGE_KEEP_IOU}: a first-pass box larger than it holds the face and the
   * second-pass box is a part of it (a forehead, a mask). Best score first.
   */
  public static List<Detection> merge(List<Detection> first, List<Detection> second) {
    List<Detection> out = new ArrayList<>(first);
    for (Detection z : second) {
      List<Detection> same = new ArrayList<>();
      boolean replace = true;
      for (Detection d : out) {
        if (ConfirmedDetection.boxesAgree(d.box, z.box)) {
          same.add(d);
          replace &= d.score < z.score && area(d.box) < area(z.box)
              && Refine.iou(d.box, z.box) < MERGE_KEEP_IOU;
        }
      }
      if (same.isEmpty()) {
        out.add(z);
      } else if (replace) {
        out.removeAll(same);
        out.add(z);
      }
    }
    out.sort(Comparator.comparingDouble(d -> -d.score));
    return out;
  }

  private static float area(float[] box) {
    return Math.max(box[2] - box[0], 0f) * Math.max(box[3] - box[1], 0f);
  }

  /** The border's width in pixels (Python's {@code max(1, int(round(pad * max(h, w))))}). */
  public int border(RgbImage image) {
    return Math.max(1, (int) Math.rint(pad * Math.max(image.width, image.height)));
  }

  /** {@code image} inside a {@code fill} border {@code p} pixels wide. */
  public RgbImage padded(RgbImage image, int p) {
    int w = image.width + 2 * p, h = image.height + 2 * p;
    byte[] rgb = new byte[w * h * 3];
    Arrays.fill(rgb, (byte) fill);
    int row = image.width * 3;
    for (int y = 0; y < image.height; y++) {
      System.arraycopy(image.rgb, y * row, rgb, ((y + p) * w + p) * 3, row);
    }
    return new RgbImage(w, h, rgb);
  }

  /**
   * Detections on the padded image in the original image's pixels (Python's
   * {@code zoomed_back}: the border taken off, then the shrink undone with the pixel-centre
   * rule {@code x -> (x + 0.5) / s - 0.5}, in float32); those whose centre lies on the border
   * (outside the {@code width x height} image) are dropped.
   */
  public static List<Detection> back(List<Detection> detections, View view, int width, int height) {
    int p = view.border;
    boolean scaled = view.sx != 1 || view.sy != 1;
    float fx = (float) (1.0 / view.sx), fy = (float) (1.0 / view.sy);
    List<Detection> out = new ArrayList<>();
    for (Detection d : detections) {
      float[] box = new float[4];
      for (int i = 0; i < 4; i++) {
        box[i] = d.box[i] - p;
        if (scaled) {
          box[i] = (box[i] + 0.5f) * (i % 2 == 0 ? fx : fy) - 0.5f;
        }
      }
      float[][] kps = null;
      if (d.keypoints != null) {
        kps = new float[d.keypoints.length][];
        for (int k = 0; k < kps.length; k++) {
          float x = d.keypoints[k][0] - p, y = d.keypoints[k][1] - p;
          kps[k] = scaled ? new float[] {(x + 0.5f) * fx - 0.5f, (y + 0.5f) * fy - 0.5f}
              : new float[] {x, y};
        }
      }
      float cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
      if (cx >= 0 && cx <= width - 1 && cy >= 0 && cy <= height - 1) {
        out.add(new Detection(box, d.score, kps, d.source));
      }
    }
    return out;
  }
}
