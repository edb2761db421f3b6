package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lponet.core.Goldens.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** 6D -> matrix, Euler <-> matrix and the geodesic distance vs lponet_tf.geometry. */
class RotationsGoldenTest {
  private final Map<String, Object> g = json("rotations.json");

  @Test
  void sixDToMatrix() {
    double[][] in = doubles2(g.get("six_d"));
    List<Object> exp = list(g.get("six_d_matrix"));
    for (int i = 0; i < in.length; i++) {
      assertArrayEquals(doubles(exp.get(i)), Rotations.sixDToMatrix(in[i]), 1e-12);
    }
  }

  @Test
  void eulerToMatrix() {
    double[][] in = doubles2(g.get("euler"));
    List<Object> exp = list(g.get("euler_matrix"));
    for (int i = 0; i < in.length; i++) {
      assertArrayEquals(doubles(exp.get(i)), Rotations.eulerToMatrix(in[i][0], in[i][1], in[i][2]), 1e-12);
    }
  }

  @Test
  void matrixToEulerIncludingGimbalLock() {
    List<Object> mats = list(g.get("matrices"));
    double[][] exp = doubles2(g.get("matrices_euler"));
    for (int i = 0; i < exp.length; i++) {
      assertArrayEquals(exp[i], Rotations.matrixToEuler(doubles(mats.get(i))), 1e-9, "matrix " + i);
    }
  }

  @Test
  void geodesicDistance() {
    List<Object> mats = list(g.get("matrices"));
    double[] exp = doubles(g.get("geodesic"));
    for (int i = 0; i < exp.length; i++) {
      assertEquals(exp[i], Rotations.geodesicDistance(doubles(mats.get(i)), doubles(mats.get(i + 1))), 1e-9);
    }
  }

  @Test
  void nearestRotationOfQuantisedNoisyAndImproperMatrices() {
    List<Object> in = list(g.get("near"));
    List<Object> exp = list(g.get("near_rotation"));
    for (int i = 0; i < in.size(); i++) {
      double[] r = Rotations.nearestRotation(doubles(in.get(i)));
      assertArrayEquals(doubles(exp.get(i)), r, 1e-9, "matrix " + i);
    }
  }

  @Test
  void nearestRotationOfDegenerateMatricesIsAProperRotation() {
    List<Object> in = list(g.get("degenerate"));
    List<Object> exp = list(g.get("degenerate_rotation"));
    List<Object> unique = list(g.get("degenerate_unique"));
    for (int i = 0; i < in.size(); i++) {
      double[] m = doubles(in.get(i));
      double[] r = Rotations.nearestRotation(m);
      assertProperRotation(r, 1e-9, "matrix " + i);
      double[] py = doubles(exp.get(i));
      if ((Boolean) unique.get(i)) {
        assertArrayEquals(py, r, 1e-9, "matrix " + i);
      } else { // as near as Python's choice
        assertEquals(frobenius(py, m), frobenius(r, m), 1e-9, "distance, matrix " + i);
      }
    }
    double[] pose = Rotations.matrixToEuler(Rotations.nearestRotation(new double[9]));
    assertArrayEquals(new double[] {0, 0, 0}, pose, 0.0, "zero output: identity, as Python");
  }

  static void assertProperRotation(double[] r, double tol, String what) {
    double[] rrt = Rotations.mul(r, new double[] {r[0], r[3], r[6], r[1], r[4], r[7], r[2], r[5], r[8]});
    assertArrayEquals(new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1}, rrt, tol, what + ": R R^T");
    double det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6])
        + r[2] * (r[3] * r[7] - r[4] * r[6]);
    assertEquals(1.0, det, tol, what + ": det");
  }

  private static double frobenius(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < 9; i++) {
      s += (a[i] - b[i]) * (a[i] - b[i]);
    }
    return Math.sqrt(s);
  }

  @Test
  void modelOutputsRotationIsTheNearestRotation() {
    float[] pose = new float[9];
    double[] wide = new double[9];
    double[] q = doubles(list(g.get("near")).get(0));
    for (int i = 0; i < 9; i++) {
      pose[i] = (float) q[i];
      wide[i] = pose[i];
    }
    ModelOutputs out = new ModelOutputs(new float[4], 2, 2, 1, pose, new float[8], 2);
    assertArrayEquals(Rotations.nearestRotation(wide), out.rotation(), 0.0);
    double[] r = out.rotation();
    double[] rrt = Rotations.mul(r, new double[] {r[0], r[3], r[6], r[1], r[4], r[7], r[2], r[5], r[8]});
    assertArrayEquals(new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1}, rrt, 1e-12);
  }
}
