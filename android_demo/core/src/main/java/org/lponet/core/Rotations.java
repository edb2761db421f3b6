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
    double[] b3 = {
      b1[1] * b2[2] - b1[2] * b2[1], b1[2] * b2[0] - b1[0] * b2[2], b1[0] * b2[1] - b1[1] * b2[0]
    };
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
