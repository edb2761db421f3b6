package org.lponet.core;

/**
 * Heatmap -> landmark coordinates, the same rule as {@code lponet_tf.heatmaps.decode_heatmaps}
 * (paper Section IV-B, docs/CONVENTIONS.md): per landmark the two highest cells {@code p1, p2}
 * with scores {@code s1 >= s2} clipped at 0 give {@code p = (s1 p1 + s2 p2) / (s1 + s2)} on the
 * heatmap grid, which maps to crop pixels by {@code x = stride * (u + 0.5) - 0.5}.
 *
 * <p>Ties between equal cells go to the lower row-major index (numpy's argmax / argsort and
 * {@code tf.math.top_k} order). When both scores are {@code <= 0} the argmax cell is used.
 */
public final class HeatmapDecoder {
  private HeatmapDecoder() {}

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
   * Decode an {@code (h, w, k)} channel-last heatmap (batch of one, the TFLite output layout).
   *
   * @param heatmaps {@code h * w * k} values, index {@code (row * w + col) * k + landmark}
   * @param stride input pixels per heatmap cell (S / h; 4 for LPONet)
   */
  public static Result decode(float[] heatmaps, int h, int w, int k, double stride) {
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
      scores[j] = v1;
    }
    return new Result(pts, scores);
  }

  /** Heatmap grid coordinate of a crop pixel coordinate: {@code u = (x + 0.5) / stride - 0.5}. */
  public static double toGrid(double x, double stride) {
    return (x + 0.5) / stride - 0.5;
  }
}
