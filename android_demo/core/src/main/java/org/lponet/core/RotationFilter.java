package org.lponet.core;

/**
 * One-Euro smoothing of a head rotation through unit quaternions
 * ({@code lponet_tf.inference.smoothing.RotationFilter}): each quaternion is flipped into the
 * hemisphere of the previous output ({@code q} and {@code -q} are the same rotation), filtered
 * as a 4-vector with one cutoff driven by the angular speed, and renormalised. No wrap-around
 * at +-180 degrees and no gimbal lock, unlike filtering Euler angles.
 */
public final class RotationFilter {
  /** Python's ROTATION_DEFAULTS (checked by the JVM tests). */
  public static final double MIN_CUTOFF = 0.3, BETA = 4.0, D_CUTOFF = 1.0;

  private final OneEuroFilter filter;

  public RotationFilter() {
    this(MIN_CUTOFF, BETA, D_CUTOFF, 30.0);
  }

  public RotationFilter(double minCutoff, double beta, double dCutoff, double frequency) {
    filter = new OneEuroFilter(minCutoff, beta, dCutoff, OneEuroFilter.Speed.NORM, 4, frequency);
  }

  public void reset() {
    filter.reset();
  }

  /**
   * Filter one row-major 3x3 rotation; returns a rotation (float precision, as Python). A
   * matrix that is not one (an int8 output, a reflection, a degenerate output) is first
   * projected onto the nearest proper rotation ({@link Rotations#nearestRotation}).
   *
   * @throws IllegalArgumentException not 9 finite entries (nothing changes), or a timestamp
   *     that does not increase
   */
  public double[] filter(double[] rotation, double timestamp) {
    check(rotation);
    double[] r = rotation;
    if (!isRotation(r)) {
      r = Rotations.nearestRotation(r);
    }
    double[] q = toQuaternion(r);
    double[] prev = filter.value();
    if (prev != null && q[0] * prev[0] + q[1] * prev[1] + q[2] * prev[2] + q[3] * prev[3] < 0) {
      for (int i = 0; i < 4; i++) {
        q[i] = -q[i];
      }
    }
    // scale 0.5: |dq/dt| is half the angular speed, so beta sees radians per second.
    double[] out = toMatrix(filter.filter(q, timestamp, 0.5));
    for (int i = 0; i < 9; i++) {
      out[i] = (float) out[i];
    }
    return out;
  }

  static boolean isRotation(double[] r) {
    double det =
        r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6])
            + r[2] * (r[3] * r[7] - r[4] * r[6]);
    if (Math.abs(det - 1.0) > 1e-3) {
      return false;
    }
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        double d = r[3 * i] * r[3 * j] + r[3 * i + 1] * r[3 * j + 1] + r[3 * i + 2] * r[3 * j + 2];
        // numpy allclose: |a - b| <= atol + rtol * |b|, rtol 1e-5
        if (Math.abs(d - (i == j ? 1 : 0)) > 1e-3 + 1e-5 * (i == j ? 1 : 0)) {
          return false;
        }
      }
    }
    return true;
  }

  /** Python's check: a finite 3x3 matrix, refused before any state changes. */
  static void check(double[] rotation) {
    if (rotation.length != 9) {
      throw new IllegalArgumentException("rotation must have 9 entries, got " + rotation.length);
    }
    for (double v : rotation) {
      if (!Double.isFinite(v)) {
        throw new IllegalArgumentException("rotation must be a finite 3x3 matrix");
      }
    }
  }

  /** Unit quaternion (w, x, y, z), Shepperd's method (pivot on the largest component). */
  static double[] toQuaternion(double[] m) {
    double tr = m[0] + m[4] + m[8];
    double[] cands = {tr, m[0], m[4], m[8]};
    int i = 0;
    for (int k = 1; k < 4; k++) {
      if (cands[k] > cands[i]) {
        i = k;
      }
    }
    double s;
    double[] q;
    if (i == 0) {
      s = 2.0 * Math.sqrt(Math.max(1.0 + tr, 1e-12));
      q = new double[] {0.25 * s, (m[7] - m[5]) / s, (m[2] - m[6]) / s, (m[3] - m[1]) / s};
    } else if (i == 1) {
      s = 2.0 * Math.sqrt(Math.max(1.0 + m[0] - m[4] - m[8], 1e-12));
      q = new double[] {(m[7] - m[5]) / s, 0.25 * s, (m[1] + m[3]) / s, (m[2] + m[6]) / s};
    } else if (i == 2) {
      s = 2.0 * Math.sqrt(Math.max(1.0 + m[4] - m[0] - m[8], 1e-12));
      q = new double[] {(m[2] - m[6]) / s, (m[1] + m[3]) / s, 0.25 * s, (m[5] + m[7]) / s};
    } else {
      s = 2.0 * Math.sqrt(Math.max(1.0 + m[8] - m[0] - m[4], 1e-12));
      q = new double[] {(m[3] - m[1]) / s, (m[2] + m[6]) / s, (m[5] + m[7]) / s, 0.25 * s};
    }
    double n = Math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    for (int k = 0; k < 4; k++) {
      q[k] /= n;
    }
    return q;
  }

  static double[] toMatrix(double[] q) {
    double n = Math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    return new double[] {
      1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
      2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
      2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
    };
  }
}
