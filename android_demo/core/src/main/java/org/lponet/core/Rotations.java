package org.lponet.core;

/**
 * The project's rotation convention ({@code lponet_tf/geometry.py}), for the pose head's
 * output. Matrices are row-major {@code double[9]}; {@code R} maps head to camera coordinates
 * (columns = head axes in the camera frame: x image right, y image down, z into the scene).
 * Euler angles are {@code (yaw, pitch, roll)} degrees with {@code R = Rx(-pitch) Ry(yaw)
 * Rz(roll)} (300W-LP / AFLW2000 {@code Pose_Para}): yaw > 0 face turned to the image left,
 * pitch > 0 looking up, roll > 0 clockwise as displayed.
 */
public final class Rotations {
  // Gram-Schmidt floor (keeps a zero vector finite) and gimbal-lock threshold, as in Python.
  private static final double NORM_EPS = 1e-12;
  private static final double GIMBAL_EPS = 1e-6;

  private Rotations() {}

  /**
   * 6D representation -> rotation by Gram-Schmidt (paper Eq. 2): {@code a1 = x[0..2]},
   * {@code a2 = x[3..5]} are the first two COLUMNS; {@code b1 = a1/|a1|},
   * {@code b2 = norm(a2 - (b1.a2) b1)}, {@code b3 = b1 x b2}.
   */
  public static double[] sixDToMatrix(double[] x) {
    double[] a1 = {x[0], x[1], x[2]}, a2 = {x[3], x[4], x[5]};
    double[] b1 = normalize(a1);
    double dot = b1[0] * a2[0] + b1[1] * a2[1] + b1[2] * a2[2];
    double[] b2 = normalize(new double[] {a2[0] - dot * b1[0], a2[1] - dot * b1[1], a2[2] - dot * b1[2]});
    double[] b3 = cross(b1, b2);
    return new double[] {b1[0], b2[0], b3[0], b1[1], b2[1], b3[1], b1[2], b2[2], b3[2]};
  }

  private static double[] normalize(double[] v) {
    double n = Math.sqrt(Math.max(v[0] * v[0] + v[1] * v[1] + v[2] * v[2], NORM_EPS));
    return new double[] {v[0] / n, v[1] / n, v[2] / n};
  }

  /** {@code (yaw, pitch, roll)} degrees -> {@code Rx(-pitch) Ry(yaw) Rz(roll)}. */
  public static double[] eulerToMatrix(double yawDeg, double pitchDeg, double rollDeg) {
    double y = Math.toRadians(yawDeg), p = -Math.toRadians(pitchDeg), r = Math.toRadians(rollDeg);
    double[] rx = {1, 0, 0, 0, Math.cos(p), -Math.sin(p), 0, Math.sin(p), Math.cos(p)};
    double[] ry = {Math.cos(y), 0, Math.sin(y), 0, 1, 0, -Math.sin(y), 0, Math.cos(y)};
    double[] rz = {Math.cos(r), -Math.sin(r), 0, Math.sin(r), Math.cos(r), 0, 0, 0, 1};
    return mul(mul(rx, ry), rz);
  }

  /**
   * Rotation -> {@code (yaw, pitch, roll)} degrees, inverse of {@link #eulerToMatrix}: yaw in
   * [-90, 90], pitch and roll in (-180, 180]; at gimbal lock ({@code |yaw| = 90}) roll is 0.
   */
  public static double[] matrixToEuler(double[] r) {
    double cosYaw = Math.hypot(r[0], r[1]);
    double yaw = Math.atan2(r[2], cosYaw);
    double pitch, roll;
    if (cosYaw < GIMBAL_EPS) {
      pitch = -Math.signum(r[2]) * Math.atan2(r[3], r[4]);
      roll = 0.0;
    } else {
      pitch = Math.atan2(r[5], r[8]);
      roll = Math.atan2(-r[1], r[0]);
    }
    return new double[] {Math.toDegrees(yaw), Math.toDegrees(pitch), Math.toDegrees(roll)};
  }

  /** Angle of {@code R1 R2^T} in radians (paper's geodesic distance). */
  public static double geodesicDistance(double[] r1, double[] r2) {
    double tr = 0;
    for (int i = 0; i < 9; i++) {
      tr += r1[i] * r2[i];
    }
    double c = (tr - 1.0) / 2.0;
    return Math.acos(Math.max(-1.0, Math.min(1.0, c)));
  }

  /**
   * The proper rotation nearest to {@code m} (Frobenius norm), as {@code
   * lponet_tf.geometry.nearest_rotation}: {@code U diag(1, 1, det(U V^T)) V^T} of the SVD {@code m
   * = U S V^T}. An int8 model's rotation output is quantised entry by entry and only near a
   * rotation. {@code V} comes from the eigenvectors of {@code m^T m} (cyclic Jacobi, on {@code m}
   * scaled by its largest entry), sorted by eigenvalue; {@code u1 = m v1 / |m v1|}, {@code u2}
   * likewise made orthogonal to {@code u1}, and the third columns are cross products, so
   * {@code U V^T} is proper whatever the sign of {@code det m} (for {@code det m < 0} that is the
   * flip of the smallest singular value).
   *
   * <p>Where the nearest rotation is not unique the result is still a proper rotation, chosen
   * deterministically: the identity for the zero matrix (as Python's SVD gives); for a rank-1
   * {@code m = s u v^T} (every rotation taking {@code v} to {@code u} is equally near) the
   * smallest such rotation, about {@code v x u} (a half-turn about the second eigenvector when
   * {@code u = -v}); Python's LAPACK completes that case differently. Non-finite entries give
   * NaN entries.
   *
   * <p>Precision: {@code m^T m} squares the singular values, so a second singular value below
   * about 1e-5 of the first is resolved poorly (a reviewer measured 1.8e-5 off Python at a ratio
   * of 1e-6, 1e-3 at 1e-7, a wrong matrix below 1e-8). A network's rotation output, a
   * Gram-Schmidt matrix quantised entry by entry, is nowhere near that.
   */
  public static double[] nearestRotation(double[] m) {
    double scale = 0;
    for (double x : m) {
      scale = Math.max(scale, Math.abs(x)); // NaN propagates
    }
    if (scale == 0) {
      return new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1};
    }
    // Scaled so that the largest singular value is >= 1: thresholds below are relative, and
    // m^T m neither overflows nor underflows.
    double[] s = new double[9];
    for (int i = 0; i < 9; i++) {
      s[i] = m[i] / scale;
    }
    double[] a = new double[9];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        a[i * 3 + j] = s[i] * s[j] + s[3 + i] * s[3 + j] + s[6 + i] * s[6 + j];
      }
    }
    double[] v = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    jacobiEigen(a, v);
    int[] order = {0, 1, 2};
    for (int i = 0; i < 2; i++) {
      for (int j = 0; j < 2 - i; j++) {
        if (a[order[j] * 4] < a[order[j + 1] * 4]) {
          int t = order[j];
          order[j] = order[j + 1];
          order[j + 1] = t;
        }
      }
    }
    double[] v1 = column(v, order[0]), v2 = column(v, order[1]);
    double[] u1 = unit(apply(s, v1)); // |s v1| = largest singular value >= 1
    double[] mv2 = apply(s, v2);
    double d = dot(u1, mv2);
    double[] r2 = {mv2[0] - d * u1[0], mv2[1] - d * u1[1], mv2[2] - d * u1[2]};
    if (!(Math.sqrt(dot(r2, r2)) > RANK_TOL)) {
      // Rank 1 (r2 is rounding noise): u2 would be an arbitrary direction.
      return smallestRotation(v1, u1, v2);
    }
    double[] u2 = unit(r2);
    double[] u3 = cross(u1, u2), v3 = cross(v1, v2);
    double[] r = new double[9];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        r[i * 3 + j] = u1[i] * v1[j] + u2[i] * v2[j] + u3[i] * v3[j];
      }
    }
    return r;
  }

  // Second singular value (relative to the first) below which m counts as rank 1: far above
  // the ~1e-16 rounding of an exactly rank-1 product, far below any pose output's.
  private static final double RANK_TOL = 1e-12;

  /**
   * The rotation of smallest angle taking unit {@code from} to unit {@code to} (Rodrigues); a
   * half-turn about the unit {@code perp} (orthogonal to {@code from}) when they are opposite.
   */
  private static double[] smallestRotation(double[] from, double[] to, double[] perp) {
    double c = dot(from, to);
    if (c < -1.0 + 1e-12) {
      double[] r = new double[9];
      for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
          r[i * 3 + j] = 2.0 * perp[i] * perp[j] - (i == j ? 1.0 : 0.0);
        }
      }
      return r;
    }
    double[] k = cross(from, to);
    double f = 1.0 / (1.0 + c);
    // R = I + [k]x + [k]x^2 / (1 + c), with [k]x^2 = k k^T - |k|^2 I
    double kk = dot(k, k);
    double[] r = {
      1 + f * (k[0] * k[0] - kk), -k[2] + f * k[0] * k[1], k[1] + f * k[0] * k[2],
      k[2] + f * k[1] * k[0], 1 + f * (k[1] * k[1] - kk), -k[0] + f * k[1] * k[2],
      -k[1] + f * k[2] * k[0], k[0] + f * k[2] * k[1], 1 + f * (k[2] * k[2] - kk)
    };
    return r;
  }

  private static double dot(double[] a, double[] b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  }

  private static double[] unit(double[] x) {
    double n = Math.sqrt(dot(x, x));
    return new double[] {x[0] / n, x[1] / n, x[2] / n};
  }

  /** Diagonalises the symmetric {@code a} in place by Jacobi rotations, accumulated in {@code v}. */
  private static void jacobiEigen(double[] a, double[] v) {
    int[][] pairs = {{0, 1}, {0, 2}, {1, 2}};
    for (int sweep = 0; sweep < 50; sweep++) {
      double off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5];
      double diag = a[0] * a[0] + a[4] * a[4] + a[8] * a[8];
      if (off <= 1e-32 * diag || off == 0.0) {
        return;
      }
      for (int[] pq : pairs) {
        int p = pq[0], q = pq[1];
        double apq = a[p * 3 + q];
        if (apq == 0.0) {
          continue;
        }
        double theta = (a[q * 4] - a[p * 4]) / (2.0 * apq);
        double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1.0));
        if (theta == 0.0) {
          t = 1.0;
        }
        double c = 1.0 / Math.sqrt(t * t + 1.0), s = t * c;
        for (int k = 0; k < 3; k++) {  // a <- a J (columns p, q)
          double akp = a[k * 3 + p], akq = a[k * 3 + q];
          a[k * 3 + p] = c * akp - s * akq;
          a[k * 3 + q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; k++) {  // a <- J^T a (rows p, q)
          double apk = a[p * 3 + k], aqk = a[q * 3 + k];
          a[p * 3 + k] = c * apk - s * aqk;
          a[q * 3 + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 3; k++) {  // v <- v J
          double vkp = v[k * 3 + p], vkq = v[k * 3 + q];
          v[k * 3 + p] = c * vkp - s * vkq;
          v[k * 3 + q] = s * vkp + c * vkq;
        }
      }
    }
  }

  private static double[] column(double[] m, int k) {
    return new double[] {m[k], m[3 + k], m[6 + k]};
  }

  private static double[] apply(double[] m, double[] x) {
    return new double[] {
      m[0] * x[0] + m[1] * x[1] + m[2] * x[2],
      m[3] * x[0] + m[4] * x[1] + m[5] * x[2],
      m[6] * x[0] + m[7] * x[1] + m[8] * x[2]
    };
  }

  private static double[] cross(double[] a, double[] b) {
    return new double[] {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  }

  static double[] mul(double[] a, double[] b) {
    double[] c = new double[9];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        c[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
      }
    }
    return c;
  }

  /**
   * End points of the drawn head axes: the weak-perspective projection of the head's x, y, z
   * axes, {@code origin + length * (R[0][k], R[1][k])}, in image pixels. Index 0 = x (towards
   * the subject's left ear), 1 = y (towards the chin), 2 = z (into the head; the face looks
   * along -z).
   */
  public static float[][] axisEndpoints(double[] r, float originX, float originY, float length) {
    float[][] out = new float[3][2];
    for (int k = 0; k < 3; k++) {
      out[k][0] = (float) (originX + length * r[k]);
      out[k][1] = (float) (originY + length * r[3 + k]);
    }
    return out;
  }
}
