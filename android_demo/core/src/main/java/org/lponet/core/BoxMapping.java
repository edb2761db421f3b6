package org.lponet.core;

/**
 * Detector box -> estimate of the tight landmark box, which is what the network's crops were
 * built from (mirror of {@code lponet_tf.detection.box_mapping.BoxMapping.apply}).
 *
 * <p>With the detector box centre {@code (cx, cy)} and size {@code (w, h)}: constant mapping,
 * centre {@code (cx + dx w, cy + dy h)} and size {@code (sx w, sy h)}; keypoint-linear mapping
 * (when weights are set and the detection has the matching keypoints),
 * {@code [ox, oy, log(lw / w), log(lh / h)] = [1, kx_1, ky_1, ..., kx_K, ky_K] W} with the
 * keypoints in box units {@code ((x - cx) / w, (y - cy) / h)}; the keypoint-linear result is
 * used only when all four values are finite and, with a guard ({@code maxSizeDeviation}, log
 * units; docs/detection.md "The guard"), when its log sizes are within the guard of the
 * constant ones ({@code log sx}, {@code log sy}): outside the faces it was fitted on (a face
 * small in the frame) the linear rule extrapolates, and the constant mapping is used instead.
 */
public final class BoxMapping {
  public final double dx, dy, sx, sy;
  /** {@code (1 + 2K) x 4} row-major weights, or null. */
  public final double[][] keypointWeights;
  /** The guard's bound (log units), or NaN: no guard. */
  public final double maxSizeDeviation;

  public static final BoxMapping IDENTITY = new BoxMapping(0, 0, 1, 1, null);

  public BoxMapping(double dx, double dy, double sx, double sy, double[][] keypointWeights) {
    this(dx, dy, sx, sy, keypointWeights, Double.NaN);
  }

  public BoxMapping(
      double dx, double dy, double sx, double sy, double[][] keypointWeights,
      double maxSizeDeviation) {
    this.maxSizeDeviation = maxSizeDeviation;
    this.dx = dx;
    this.dy = dy;
    this.sx = sx;
    this.sy = sy;
    this.keypointWeights = keypointWeights;
  }

  /** Landmark-box estimate {@code (x0, y0, x1, y1)} for a detection. */
  public float[] apply(float[] box, float[][] keypoints) {
    double x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];
    double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    double w = x1 - x0, h = y1 - y0;
    double[] t = {dx, dy, Math.log(sx), Math.log(sy)};
    if (keypointWeights != null
        && keypoints != null
        && 1 + 2 * keypoints.length == keypointWeights.length) {
      double[] f = new double[1 + 2 * keypoints.length];
      f[0] = 1;
      for (int k = 0; k < keypoints.length; k++) {
        f[1 + 2 * k] = (keypoints[k][0] - cx) / w;
        f[2 + 2 * k] = (keypoints[k][1] - cy) / h;
      }
      double[] tk = new double[4];
      boolean ok = true;
      for (int j = 0; j < 4; j++) {
        double s = 0;
        for (int i = 0; i < f.length; i++) {
          s += f[i] * keypointWeights[i][j];
        }
        tk[j] = s;
        ok &= Double.isFinite(s);
      }
      if (!Double.isNaN(maxSizeDeviation)) {
        ok &= Math.abs(tk[2] - t[2]) <= maxSizeDeviation && Math.abs(tk[3] - t[3]) <= maxSizeDeviation;
      }
      if (ok) {
        t = tk;
      }
    }
    double ncx = cx + w * t[0], ncy = cy + h * t[1];
    double hw = w * Math.exp(t[2]) / 2, hh = h * Math.exp(t[3]) / 2;
    return new float[] {(float) (ncx - hw), (float) (ncy - hh), (float) (ncx + hw), (float) (ncy + hh)};
  }
}
