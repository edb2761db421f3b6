package org.lponet.core;

/**
 * Heatmap -> landmark coordinates, the same rules as {@code lponet_tf.heatmaps.decode_heatmaps}
 * (docs/CONVENTIONS.md); the grid position maps to crop pixels by
 * {@code x = stride * (u + 0.5) - 0.5}.
 *
 * <ul>
 *   <li>{@link Rule#DARK} (default): distribution-aware sub-pixel decoding (Zhang et al., CVPR
 *       2020). Around the argmax cell the map is smoothed with the training Gaussian (sigma cells,
 *       {@code 2 ceil(3 sigma) + 1} taps), its log taken (values clipped at 1e-4 of the 3 x 3's largest, at least 1e-10), and one
 *       Newton step {@code -H^-1 g} taken with central differences on 3 x 3 cells; no step
 *       unless {@code H} is negative definite, the offset clipped to one cell per axis. Near
 *       the map's edge (no inward pull, see {@link #darkStep}): the stencil moves one cell
 *       in from an edge cell, and the smoothing window shrinks per axis to what fits in the map.
 *   <li>{@link Rule#TOP2}: the paper's rule (Section IV-B): the two highest cells {@code p1, p2}
 *       with scores {@code s1 >= s2} clipped at 0 give {@code p = (s1 p1 + s2 p2) / (s1 + s2)};
 *       the argmax cell when both scores are {@code <= 0}.
 * </ul>
 *
 * <p>Ties between equal cells go to the lower row-major index (numpy's argmax / argsort and
 * {@code tf.math.top_k} order). A map with a NaN cell decodes as numpy's argmax does: to the
 * first NaN cell's centre, with score NaN (either rule), never to a confident-looking peak.
 */
public final class HeatmapDecoder {
  private HeatmapDecoder() {}

  /** The decoding rule ({@code decode="dark"} / {@code "top2"} in Python). */
  public enum Rule {
    DARK,
    TOP2
  }

  /** Gaussian sigma of the training targets in heatmap cells (the model metadata's default). */
  public static final double SIGMA = 1.0;

  private static final double LOG_FLOOR = 1e-10;
  /** The floor is raised to this fraction of the 3 x 3's largest smoothed value (rounding). */
  private static final double LOG_FLOOR_REL = 1e-4;

  /** Decoded landmarks of one face. */
  public static final class Result {
    /** {@code [k] = {x, y}} in crop pixels. */
    public final float[][] points;
    /** Peak heatmap value per landmark (about omega = 60 for a confident point). */
    public final float[] scores;

    Result(float[][] points, float[] scores) {
      this.points = points;
      this.scores = scores;
    }
  }

  /**
   * Decode an {@code (h, w, k)} channel-last heatmap with the default rule ({@link Rule#DARK},
   * sigma {@link #SIGMA}).
   *
   * @param heatmaps {@code h * w * k} values, index {@code (row * w + col) * k + landmark}
   * @param stride input pixels per heatmap cell (S / h; 4 for LPONet)
   */
  public static Result decode(float[] heatmaps, int h, int w, int k, double stride) {
    return decode(heatmaps, h, w, k, stride, Rule.DARK, SIGMA);
  }

  /**
   * Decode an {@code (h, w, k)} channel-last heatmap (batch of one, the TFLite output layout).
   *
   * @param heatmaps {@code h * w * k} values, index {@code (row * w + col) * k + landmark}
   * @param stride input pixels per heatmap cell (S / h; 4 for LPONet)
   * @param rule {@link Rule#DARK} or {@link Rule#TOP2}
   * @param sigma the training targets' Gaussian sigma in cells (DARK's smoothing)
   */
  public static Result decode(
      float[] heatmaps, int h, int w, int k, double stride, Rule rule, double sigma) {
    if (!(sigma > 0)) {
      throw new IllegalArgumentException("sigma must be > 0, got " + sigma);
    }
    double[] kernel = smoothingKernel(sigma);
    if (heatmaps.length < h * w * k) {
      throw new IllegalArgumentException("heatmaps has " + heatmaps.length + " values, need " + h * w * k);
    }
    float[][] pts = new float[k][2];
    float[] scores = new float[k];
    int cells = h * w;
    for (int j = 0; j < k; j++) {
      int i1 = -1, i2 = -1;
      float v1 = Float.NEGATIVE_INFINITY, v2 = Float.NEGATIVE_INFINITY;
      boolean nan = false;
      for (int c = 0, idx = j; c < cells; c++, idx += k) {
        float v = heatmaps[idx];
        if (Float.isNaN(v)) { // numpy's argmax: the first NaN is the maximum
          i1 = c;
          v1 = v;
          nan = true;
          break;
        }
        // Strict comparisons keep the lower index on ties, like a stable descending sort.
        if (v > v1 || i1 < 0) {
          i2 = i1;
          v2 = v1;
          i1 = c;
          v1 = v;
        } else if (v > v2 || i2 < 0) {
          i2 = c;
          v2 = v;
        }
      }
      scores[j] = v1;
      if (nan) {
        // Python gives that cell's centre: DARK's smoothing there is NaN so its guard keeps
        // the cell; top2's weights are NaN, so the first cell gets weight 1.
        pts[j][0] = (float) (stride * (i1 % w + 0.5) - 0.5);
        pts[j][1] = (float) (stride * (i1 / w + 0.5) - 0.5);
        continue;
      }
      if (rule == Rule.DARK) {
        double[] step = darkStep(heatmaps, h, w, k, j, i1 / w, i1 % w, kernel);
        pts[j][0] = (float) (stride * (i1 % w + step[0] + 0.5) - 0.5);
        pts[j][1] = (float) (stride * (i1 / w + step[1] + 0.5) - 0.5);
        continue;
      }
      // Weights in float32 and positions in double, as numpy does (bit-compatible output).
      float w1 = Math.max(v1, 0f), w2 = i2 < 0 ? 0f : Math.max(v2, 0f);
      float den = w1 + w2;
      float a1 = den > 0 ? w1 / den : 1f;
      float a2 = den > 0 ? w2 / den : 0f;
      int c2 = i2 < 0 ? 0 : i2;
      double u = (double) a1 * (i1 % w) + (double) a2 * (c2 % w);
      double r = (double) a1 * (i1 / w) + (double) a2 * (c2 / w);
      pts[j][0] = (float) (stride * (u + 0.5) - 0.5);
      pts[j][1] = (float) (stride * (r + 0.5) - 0.5);
    }
    return new Result(pts, scores);
  }

  /** Normalised 1-D Gaussian, {@code 2 ceil(3 sigma) + 1} taps. */
  static double[] smoothingKernel(double sigma) {
    int r = (int) Math.ceil(3.0 * sigma);
    double[] g = new double[2 * r + 1];
    double sum = 0;
    for (int t = -r; t <= r; t++) {
      g[t + r] = Math.exp(-(t * (double) t) / (2.0 * sigma * sigma));
      sum += g[t + r];
    }
    for (int i = 0; i < g.length; i++) {
      g[i] /= sum;
    }
    return g;
  }

  /**
   * DARK's offset {@code (dx, dy)} in cells from cell {@code (row, col)} of landmark {@code j}: a
   * Newton step on the log of the 3 x 3 map around the stencil centre (the cell, moved one cell
   * in from the map's edge cells), each axis smoothed with the kernel's middle taps cut to the
   * widest window of the stencil that fits in the map (so no zeros from outside pull the peak
   * inwards), the guard, the offset from the cell clipped to one cell per axis. A map under 3
   * cells along an axis keeps the cell as the centre (zeros outside).
   */
  static double[] darkStep(
      float[] hm, int h, int w, int k, int j, int row, int col, double[] kernel) {
    int r = (kernel.length - 1) / 2;
    int cy = h < 3 ? row : Math.max(1, Math.min(row, h - 2));
    int cx = w < 3 ? col : Math.max(1, Math.min(col, w - 2));
    // Smoothing radius per axis: the widest window of the stencil that fits in the map.
    int ry = Math.max(0, Math.min(r, Math.min(cy - 1, h - 2 - cy)));
    int rx = Math.max(0, Math.min(r, Math.min(cx - 1, w - 2 - cx)));
    double[][] logs = new double[3][3];
    for (int a = 0; a < 3; a++) {
      for (int b = 0; b < 3; b++) {
        int cr = cy - 1 + a, cc = cx - 1 + b;
        double sum = 0;
        for (int i = -ry; i <= ry; i++) {
          int y = cr + i;
          if (y < 0 || y >= h) {
            continue;  // zeros outside the map
          }
          double rowSum = 0;
          for (int t = -rx; t <= rx; t++) {
            int x = cc + t;
            if (x >= 0 && x < w) {
              rowSum += kernel[t + r] * hm[(y * w + x) * k + j];
            }
          }
          sum += kernel[i + r] * rowSum;
        }
        logs[a][b] = sum;
      }
    }
    double top = Double.NEGATIVE_INFINITY;
    for (double[] line : logs) {
      for (double v : line) {
        top = Math.max(top, v);
      }
    }
    double floor = Math.max(LOG_FLOOR_REL * top, LOG_FLOOR);
    for (double[] line : logs) {
      for (int b = 0; b < 3; b++) {
        line[b] = Math.log(Math.max(line[b], floor));
      }
    }
    double[] step = newton(logs);
    if (step == null) {
      return new double[] {0.0, 0.0};  // no maximum here: the argmax cell itself
    }
    return new double[] {clip(cx - col + step[0]), clip(cy - row + step[1])};
  }

  /** The unclipped Newton step {@code -H^-1 g}; null where {@code H} is not negative definite. */
  private static double[] newton(double[][] l) {
    double gx = 0.5 * (l[1][2] - l[1][0]);
    double gy = 0.5 * (l[2][1] - l[0][1]);
    double hxx = l[1][2] - 2.0 * l[1][1] + l[1][0];
    double hyy = l[2][1] - 2.0 * l[1][1] + l[0][1];
    double hxy = 0.25 * (l[2][2] - l[2][0] - l[0][2] + l[0][0]);
    double det = hxx * hyy - hxy * hxy;
    if (!(hxx < 0 && det > 0 && Double.isFinite(det))) {
      return null;
    }
    return new double[] {-(hyy * gx - hxy * gy) / det, -(hxx * gy - hxy * gx) / det};
  }

  private static double clip(double v) {
    return Math.max(-1.0, Math.min(1.0, v));
  }

  /** Heatmap grid coordinate of a crop pixel coordinate: {@code u = (x + 0.5) / stride - 0.5}. */
  public static double toGrid(double x, double stride) {
    return (x + 0.5) / stride - 0.5;
  }
}
