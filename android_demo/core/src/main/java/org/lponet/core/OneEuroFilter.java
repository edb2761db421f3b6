package org.lponet.core;

/**
 * One-Euro filter (Casiez, Roussel, Vogel, CHI 2012), the same as
 * {@code lponet_tf.inference.smoothing.OneEuroFilter}: an exponential low-pass whose cutoff
 * rises with the signal's speed, so a still face stops jittering and a moving one does not lag.
 * Per sample, with {@code dt} the time since the previous one:
 *
 * <pre>
 *   alpha(fc) = r / (r + 1),  r = 2 pi fc dt
 *   dx        = (x - x_prev) / dt          (x_prev: the previous RAW sample)
 *   dx_hat    = dx_hat_prev + alpha(dCutoff) (dx - dx_hat_prev)
 *   fc        = minCutoff + beta * speed(dx_hat) / scale
 *   x_hat     = x_hat_prev + alpha(fc) (x - x_hat_prev)
 * </pre>
 *
 * Values are flat {@code double[]}; for the point-based speed modes they are points of
 * {@code pointDim} coordinates each (e.g. 68 x 2 landmarks).
 */
public final class OneEuroFilter {
  /** Which entries share a cutoff (see the Python docstring). */
  public enum Speed {
    /** Each entry its own cutoff, as in the paper. */
    ELEMENTWISE,
    /** Each point (pointDim coordinates) its own isotropic cutoff. */
    POINT,
    /** One cutoff from the mean of the per-point speeds: rigid motion does not deform. */
    MEAN_POINT,
    /** One cutoff from the norm of the whole derivative. */
    NORM
  }

  private final double minCutoff, beta, dCutoff, frequency;
  private final Speed speed;
  private final int pointDim;
  private double[] x;
  private double[] raw;
  private double[] dx;
  private double t;
  private boolean started;

  public OneEuroFilter(double minCutoff, double beta, double dCutoff) {
    this(minCutoff, beta, dCutoff, Speed.ELEMENTWISE, 1, 30.0);
  }

  /**
   * @param pointDim coordinates per point for {@link Speed#POINT} / {@link Speed#MEAN_POINT}
   * @param frequency sample rate (Hz) assumed when a timestamp is NaN ("none")
   */
  public OneEuroFilter(
      double minCutoff, double beta, double dCutoff, Speed speed, int pointDim, double frequency) {
    if (!(minCutoff > 0 && dCutoff > 0 && frequency > 0)) {
      throw new IllegalArgumentException("minCutoff, dCutoff and frequency must be > 0");
    }
    if (!(beta >= 0)) {
      throw new IllegalArgumentException("beta must be >= 0");
    }
    if (pointDim < 1) {
      throw new IllegalArgumentException("pointDim must be >= 1");
    }
    this.minCutoff = minCutoff;
    this.beta = beta;
    this.dCutoff = dCutoff;
    this.speed = speed;
    this.pointDim = pointDim;
    this.frequency = frequency;
  }

  /** Forget the past: the next sample passes through unchanged. */
  public void reset() {
    x = null;
    raw = null;
    dx = null;
    started = false;
  }

  /** The last filtered value (null before the first sample). */
  public double[] value() {
    return x == null ? null : x.clone();
  }

  static double alpha(double cutoff, double dt) {
    double r = 2.0 * Math.PI * cutoff * dt;
    return r / (r + 1.0);
  }

  /**
   * Filter one sample.
   *
   * @param value same length every call
   * @param timestamp seconds, strictly increasing; {@code Double.NaN} = previous + 1/frequency
   * @param scale the speed is divided by it (e.g. the face size), so beta is unit-free
   * @throws IllegalArgumentException non-increasing timestamp, non-finite value or scale, or a
   *     length change
   */
  public double[] filter(double[] value, double timestamp, double scale) {
    for (double v : value) {
      if (!Double.isFinite(v)) {
        throw new IllegalArgumentException("value to filter contains NaN or inf");
      }
    }
    if (!(Double.isFinite(scale) && scale > 0)) {
      throw new IllegalArgumentException("scale must be finite and > 0, got " + scale);
    }
    double tNew;
    if (Double.isNaN(timestamp)) {
      tNew = started ? t + 1.0 / frequency : 0.0;
    } else {
      if (Double.isInfinite(timestamp)) {
        throw new IllegalArgumentException("timestamp must be finite");
      }
      if (started && !(timestamp > t)) {
        throw new IllegalArgumentException(
            "timestamps must strictly increase: got " + timestamp + " after " + t);
      }
      tNew = timestamp;
    }
    if (x == null) {
      x = value.clone();
      raw = value.clone();
      dx = new double[value.length];
      t = tNew;
      started = true;
      return x.clone();
    }
    if (value.length != x.length) {
      throw new IllegalArgumentException("length changed from " + x.length + " to " + value.length);
    }
    double dt = tNew - t;
    double ad = alpha(dCutoff, dt);
    // Derivative from the previous raw sample (Casiez's reference implementation):
    // differencing the filtered value would add the filter's own lag to the speed.
    for (int i = 0; i < x.length; i++) {
      double d = (value[i] - raw[i]) / dt;
      dx[i] = dx[i] + ad * (d - dx[i]);
    }
    double[] spd = speeds();
    for (int i = 0; i < x.length; i++) {
      double s = spd.length == 1 ? spd[0] : spd[speed == Speed.POINT ? i / pointDim : i];
      double a = alpha(minCutoff + beta * s / scale, dt);
      x[i] = x[i] + a * (value[i] - x[i]);
    }
    raw = value.clone();
    t = tNew;
    return x.clone();
  }

  /** Speeds of the filtered derivative: one per entry, per point, or one for all. */
  private double[] speeds() {
    int n = dx.length;
    switch (speed) {
      case ELEMENTWISE: {
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
          s[i] = Math.abs(dx[i]);
        }
        return s;
      }
      case POINT: {
        double[] s = new double[n / pointDim];
        for (int p = 0; p < s.length; p++) {
          s[p] = pointNorm(p);
        }
        return s;
      }
      case MEAN_POINT: {
        int np = n / pointDim;
        double sum = 0;
        for (int p = 0; p < np; p++) {
          sum += pointNorm(p);
        }
        return new double[] {sum / np};
      }
      default: {
        double sq = 0;
        for (double v : dx) {
          sq += v * v;
        }
        return new double[] {Math.sqrt(sq)};
      }
    }
  }

  private double pointNorm(int p) {
    double sq = 0;
    for (int k = 0; k < pointDim; k++) {
      double v = dx[p * pointDim + k];
      sq += v * v;
    }
    return Math.sqrt(sq);
  }
}
