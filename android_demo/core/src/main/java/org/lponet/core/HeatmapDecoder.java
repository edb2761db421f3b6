package org.lponet.core;

/**
 * Heatmap -> landmark coordinates, the same rules as {@code lponet_tf.heatmaps.decode_heatmaps}
 * (docs/CONVENTIONS.md); the grid position maps to crop pixels by
 * {@code x = stride * (u + 0.5) - 0.5}.
 *
 * <ul>
 *   <li>{@link Rule#DARK} (default): distribution-aware sub-pixel decoding (Zhang et al., CVPR
 *       2020). At the argmax cell the map is smoothed with the training Gaussian (sigma cells,
 *       {@code 2 ceil(3 sigma) + 1} taps, zeros outside the map), its log taken (values clipped
 *       at 1e-10), and one Newton step {@code -H^-1 g} taken with central differences on the
 *       3 x 3 smoothed cells around it; no step unless {@code H} is negative definite, the step
 *       clipped to one cell per axis.
 *   <li>{@link Rule#TOP2}: the paper's rule (Section IV-B): the two highest cells {@code p1, p2}
 *       with scores {@code s1 >= s2} clipped at 0 give {@code p = (s1 p1 + s2 p2) / (s1 + s2)};
 *       the argmax cell when both scores are {@code <= 0}.
 * </ul>
 *
 * <p>Ties between equal cells go to the lower row-major index (numpy's argmax / argsort and
 * {@code tf.math.top_k} order).
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
      for (int c = 0, idx = j; c < cells; c++, idx += k) {
        float v = heatmaps[idx];
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
   * DARK's Newton step {@code (dx, dy)} in cells at cell {@code (row, col)} of landmark {@code j}:
   * the log of the smoothed map on the 3 x 3 cells around it, central differences, the guard.
   */
  static double[] darkStep(
      float[] hm, int h, int w, int k, int j, int row, int col, double[] kernel) {
    int r = (kernel.length - 1) / 2;
    double[][] logs = new double[3][3];
    for (int a = 0; a < 3; a++) {
      for (int b = 0; b < 3; b++) {
        int cr = row - 1 + a, cc = col - 1 + b;
        double sum = 0;
        for (int i = -r; i <= r; i++) {
          int y = cr + i;
          if (y < 0 || y >= h) {
            continue;  // zeros outside the map
          }
          double rowSum = 0;
          for (int t = -r; t <= r; t++) {
            int x = cc + t;
            if (x >= 0 && x < w) {
              rowSum += kernel[t + r] * hm[(y * w + x) * k + j];
            }
          }
          sum += kernel[i + r] * rowSum;
        }
        logs[a][b] = Math.log(Math.max(sum, LOG_FLOOR));
      }
    }
    return newtonStep(logs);
  }

  /** One Newton step on 3 x 3 log values ({@code [row][col]}, the cell at [1][1]). */
  static double[] newtonStep(double[][] l) {
    double gx = 0.5 * (l[1][2] - l[1][0]);
    double gy = 0.5 * (l[2][1] - l[0][1]);
    double hxx = l[1][2] - 2.0 * l[1][1] + l[1][0];
    double hyy = l[2][1] - 2.0 * l[1][1] + l[0][1];
    double hxy = 0.25 * (l[2][2] - l[2][0] - l[0][2] + l[0][0]);
    double det = hxx * hyy - hxy * hxy;
    if (!(hxx < 0 && det > 0 && Double.isFinite(det))) {
      return new double[] {0.0, 0.0};  // no maximum here: the cell itself
    }
    double dx = -(hyy * gx - hxy * gy) / det;
    double dy = -(hxx * gy - hxy * gx) / det;
    return new double[] {clip(dx), clip(dy)};
  }

  private static double clip(double v) {
    return Math.max(-1.0, Math.min(1.0, v));
  }

  /** Heatmap grid coordinate of a crop pixel coordinate: {@code u = (x + 0.5) / stride - 0.5}. */
  public static double toGrid(double x, double stride) {
    return (x + 0.5) / stride - 0.5;
  }
}
