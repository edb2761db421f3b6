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
}
