package org.lponet.core;

/**
 * Visible-face mask -> per-landmark visibility: the occlusion head's visible-face probability
 * (channel 1 of the softmax over [not-face, visible-face]) sampled bilinearly at each
 * landmark's position on the heatmap grid ({@code u = (x + 0.5) / stride - 0.5}).
 *
 * <p>Positions outside the grid are clamped to its border cells (the mask has no value beyond
 * the crop, and a landmark predicted just outside it belongs to the nearest cell); a NaN
 * coordinate reads cell 0, as Python's {@code sample_grid}.
 */
public final class Visibility {
  private Visibility() {}

  /**
   * @param occlusion {@code (h, w, channels)} channel-last softmax, batch of one
   * @param channel the visible-face channel (1)
   * @param cropPoints landmarks in crop pixels, {@code [k] = {x, y}}
   * @param stride crop pixels per grid cell (4)
   */
  public static float[] atLandmarks(
      float[] occlusion, int h, int w, int channels, int channel, float[][] cropPoints, double stride) {
    float[] out = new float[cropPoints.length];
    for (int i = 0; i < cropPoints.length; i++) {
      double u = HeatmapDecoder.toGrid(cropPoints[i][0], stride);
      double v = HeatmapDecoder.toGrid(cropPoints[i][1], stride);
      out[i] = (float) sample(occlusion, h, w, channels, channel, u, v);
    }
    return out;
  }

  /**
   * Bilinear sample of one channel at grid position (u = column, v = row), border clamped; a
   * NaN coordinate reads cell 0 of its axis (Python's {@code sample_grid}).
   */
  public static double sample(float[] map, int h, int w, int channels, int channel, double u, double v) {
    u = Double.isNaN(u) ? 0.0 : u;
    v = Double.isNaN(v) ? 0.0 : v;
    u = Math.min(Math.max(u, 0.0), w - 1.0);
    v = Math.min(Math.max(v, 0.0), h - 1.0);
    int u0 = (int) Math.floor(u), v0 = (int) Math.floor(v);
    int u1 = Math.min(u0 + 1, w - 1), v1 = Math.min(v0 + 1, h - 1);
    double fu = u - u0, fv = v - v0;
    double a = map[(v0 * w + u0) * channels + channel];
    double b = map[(v0 * w + u1) * channels + channel];
    double c = map[(v1 * w + u0) * channels + channel];
    double d = map[(v1 * w + u1) * channels + channel];
    return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv;
  }

  /** The visible-face probability plane {@code (h, w)} of an occlusion output. */
  public static float[] visiblePlane(float[] occlusion, int h, int w, int channels, int channel) {
    float[] out = new float[h * w];
    for (int i = 0; i < h * w; i++) {
      out[i] = occlusion[i * channels + channel];
    }
    return out;
  }
}
