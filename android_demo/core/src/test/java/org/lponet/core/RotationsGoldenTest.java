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
