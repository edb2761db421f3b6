package org.lponet.core;

/**
 * One-Euro smoothing of a landmark set in pixels ({@code lponet_tf.inference.smoothing
 * .LandmarkFilter}): one cutoff for the whole face, driven by the mean landmark speed in face
 * sizes per second, so the face adapts as a whole and its shape is not distorted in motion.
 */
public final class LandmarkFilter {
  /**
   * Defaults of the Python library (LANDMARK_DEFAULTS, tuned by benchmarks/bench_smoothing.py;
   * the JVM tests check they still agree).
   */
  public static final double MIN_CUTOFF = 0.3, BETA = 16.0, D_CUTOFF = 1.0;

  private final OneEuroFilter filter;

  public LandmarkFilter() {
    this(MIN_CUTOFF, BETA, D_CUTOFF, 30.0);
  }

  public LandmarkFilter(double minCutoff, double beta, double dCutoff, double frequency) {
    filter =
        new OneEuroFilter(minCutoff, beta, dCutoff, OneEuroFilter.Speed.MEAN_POINT, 2, frequency);
  }

  public void reset() {
    filter.reset();
  }

  /** Filter one frame's {@code (K, 2)} landmarks; timestamp in seconds (NaN: 1/frequency on). */
  public float[][] filter(float[][] landmarks, double timestamp) {
    if (landmarks.length < 2) {
      throw new IllegalArgumentException("need at least 2 landmarks");
    }
    double[] flat = new double[landmarks.length * 2];
    for (int i = 0; i < landmarks.length; i++) {
      flat[2 * i] = landmarks[i][0];
      flat[2 * i + 1] = landmarks[i][1];
    }
    double[] out = filter.filter(flat, timestamp, faceSize(flat));
    float[][] res = new float[landmarks.length][2];
    for (int i = 0; i < landmarks.length; i++) {
      res[i][0] = (float) out[2 * i];
      res[i][1] = (float) out[2 * i + 1];
    }
    return res;
  }

  /** sqrt(area) of the points' box, at least 1: the scale that normalises speeds. */
  static double faceSize(double[] xy) {
    double x0 = Double.POSITIVE_INFINITY, y0 = x0, x1 = Double.NEGATIVE_INFINITY, y1 = x1;
    for (int i = 0; i < xy.length; i += 2) {
      x0 = Math.min(x0, xy[i]);
      x1 = Math.max(x1, xy[i]);
      y0 = Math.min(y0, xy[i + 1]);
      y1 = Math.max(y1, xy[i + 1]);
    }
    return Math.max(Math.sqrt(Math.max(x1 - x0, 1e-6) * Math.max(y1 - y0, 1e-6)), 1.0);
  }
}
