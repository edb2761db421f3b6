package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.lponet.core.Goldens.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One-Euro filters and the multi-face tracker vs lponet_tf.inference.smoothing. */
class SmoothingGoldenTest {
  private final Map<String, Object> g = json("smoothing.json");

  private static double time(Object t) {
    return t == null ? Double.NaN : dbl(t);
  }

  @Test
  void oneEuroAllSpeedModes() {
    for (Object o : list(g.get("one_euro"))) {
      Map<String, Object> c = map(o);
      OneEuroFilter.Speed speed = OneEuroFilter.Speed.valueOf(((String) c.get("speed")).toUpperCase());
      OneEuroFilter f =
          new OneEuroFilter(
              dbl(c.get("min_cutoff")), dbl(c.get("beta")), dbl(c.get("d_cutoff")), speed, 2,
              dbl(c.get("frequency")));
      List<Object> xs = list(c.get("x")), ts = list(c.get("t")), ys = list(c.get("y"));
      double[] scales = doubles(c.get("scale"));
      for (int i = 0; i < xs.size(); i++) {
        double[] got = f.filter(doubles(xs.get(i)), time(ts.get(i)), scales[i]);
        assertArrayEquals(doubles(ys.get(i)), got, 1e-9, speed + " step " + i);
      }
    }
  }

  @Test
  void landmarkFilter() {
    Map<String, Object> c = map(g.get("landmarks"));
    LandmarkFilter f = new LandmarkFilter();
    List<Object> xs = list(c.get("x")), ys = list(c.get("y"));
    double[] ts = doubles(c.get("t"));
    for (int i = 0; i < xs.size(); i++) {
      float[][] got = f.filter(floats2(xs.get(i)), ts[i]);
      float[][] exp = floats2(ys.get(i));
      for (int k = 0; k < exp.length; k++) {
        assertArrayEquals(exp[k], got[k], 1e-4f, "step " + i + " point " + k);
      }
    }
  }

  /** Python's rotation filter outputs for the golden case {@code key}, step by step. */
  private RotationFilter replayRotations(String key) {
    Map<String, Object> c = map(g.get(key));
    RotationFilter f = new RotationFilter();
    List<Object> xs = list(c.get("x")), ys = list(c.get("y"));
    double[] ts = doubles(c.get("t"));
    for (int i = 0; i < xs.size(); i++) {
      double[] got = f.filter(doubles(xs.get(i)), ts[i]);
      assertArrayEquals(doubles(ys.get(i)), got, 1e-6, key + " step " + i);
    }
    return f;
  }

  @Test
  void rotationFilterThroughQuaternions() {
    replayRotations("rotation");
  }

  @Test
  void rotationFilterProjectsReflectionsAndDegenerateInputsOntoRotations() {
    RotationFilter f = replayRotations("rotation_projected");
    // A rank-1 input (no unique answer) and an exact reflection: rotations, no throw (the
    // float output is a rotation to float precision).
    double[] rank1 = {0.18, 0.06, -0.12, -0.3, -0.1, 0.2, 0.48, 0.16, -0.32};
    RotationsGoldenTest.assertProperRotation(f.filter(rank1, 1.0), 1e-6, "rank 1");
    RotationsGoldenTest.assertProperRotation(
        f.filter(new double[] {1, 0, 0, 0, 1, 0, 0, 0, -1}, 1.1), 1e-6, "reflection");
    assertThrows(IllegalArgumentException.class,
        () -> f.filter(new double[] {Double.NaN, 0, 0, 0, 1, 0, 0, 0, 1}, 1.2));
    RotationsGoldenTest.assertProperRotation(f.filter(rank1, 1.3), 1e-6, "after a refused input");
  }

  @Test
  void trackerIdsAndSmoothedValues() {
    Map<String, Object> c = map(g.get("tracker"));
    FaceTracker tr = new FaceTracker(dbl(c.get("iou_threshold")), (int) dbl(c.get("max_missed")), 30.0);
    int frame = 0;
    for (Object fo : list(c.get("frames"))) {
      Map<String, Object> f = map(fo);
      List<float[]> boxes = new ArrayList<>();
      List<float[][]> lms = new ArrayList<>();
      List<double[]> rots = new ArrayList<>();
      for (Object b : list(f.get("boxes"))) {
        boxes.add(floats(b));
      }
      for (Object l : list(f.get("landmarks"))) {
        lms.add(floats2(l));
      }
      for (Object r : list(f.get("rotations"))) {
        rots.add(doubles(r));
      }
      List<FaceTracker.Tracked> got = tr.update(boxes, dbl(f.get("t")), lms, rots);
      List<Object> exp = list(f.get("out"));
      assertEquals(exp.size(), got.size());
      for (int i = 0; i < exp.size(); i++) {
        Map<String, Object> e = map(exp.get(i));
        FaceTracker.Tracked t = got.get(i);
        String where = "frame " + frame + " face " + i;
        assertEquals((int) dbl(e.get("id")), t.trackId, where);
        assertEquals(e.get("is_new"), t.isNew, where);
        assertEquals((int) dbl(e.get("age")), t.age, where);
        assertArrayEquals(floats(e.get("box")), t.box, 1e-3f, where);
        float[][] el = floats2(e.get("landmarks"));
        for (int k = 0; k < el.length; k++) {
          assertArrayEquals(el[k], t.landmarks[k], 1e-3f, where);
        }
        assertArrayEquals(doubles(e.get("rotation")), t.rotation, 1e-6, where);
      }
      frame++;
    }
  }

  /**
   * A frame with a NaN box is refused with nothing changed (clock, misses, ids, filters), so
   * the same frame fixed is taken at the same timestamp and later frames match Python.
   */
  @Test
  void trackerRefusesANanBoxWithoutChangingState() {
    FaceTracker tr = new FaceTracker();
    int frame = 0;
    for (Object fo : list(g.get("tracker_refused"))) {
      Map<String, Object> f = map(fo);
      List<float[]> boxes = new ArrayList<>();
      for (Object b : list(f.get("boxes"))) {
        float[] box = new float[4];
        for (int k = 0; k < 4; k++) {
          Object v = list(b).get(k);
          box[k] = v == null ? Float.NaN : (float) dbl(v);
        }
        boxes.add(box);
      }
      String where = "frame " + frame++;
      if ((Boolean) f.get("raises")) {
        assertThrows(IllegalArgumentException.class, () -> tr.update(boxes, dbl(f.get("t")), null, null), where);
        continue;
      }
      List<FaceTracker.Tracked> got = tr.update(boxes, dbl(f.get("t")), null, null);
      List<Object> exp = list(f.get("out"));
      assertEquals(exp.size(), got.size(), where);
      for (int i = 0; i < exp.size(); i++) {
        Map<String, Object> e = map(exp.get(i));
        assertEquals((int) dbl(e.get("id")), got.get(i).trackId, where + " face " + i);
        assertArrayEquals(floats(e.get("box")), got.get(i).box, 1e-3f, where + " face " + i);
      }
    }
  }

  /** Landmarks and rotations are checked before any state changes too (Java only). */
  @Test
  void trackerRefusesBadLandmarksAndRotationsWithoutChangingState() {
    FaceTracker ref = new FaceTracker(), tr = new FaceTracker();
    float[] a = {10, 10, 110, 130}, b = {300, 40, 380, 140};
    float[][] lm = {{30, 40}, {80, 42}, {60, 100}};
    double[] rot = Rotations.eulerToMatrix(10, -5, 3);
    double[] nanRot = rot.clone();
    nanRot[4] = Double.NaN;
    for (FaceTracker x : new FaceTracker[] {ref, tr}) {
      x.update(List.of(a, b), 0.0, List.of(lm, lm), List.of(rot, rot));
    }
    float[] a1 = {12, 11, 112, 131}, b1 = {302, 41, 382, 141};
    assertThrows(IllegalArgumentException.class,
        () -> tr.update(List.of(a1, b1), 0.1, List.of(lm, lm), List.of(rot, nanRot)));
    assertThrows(IllegalArgumentException.class, // a matched track had 3 landmarks
        () -> tr.update(List.of(a1, b1), 0.1, List.of(lm, new float[][] {{1, 2}, {3, 4}}), null));
    assertThrows(IllegalArgumentException.class,
        () -> tr.update(List.of(a1, b1), 0.1, List.of(lm, new float[][] {{1, 2}, {3, Float.NaN}}), null));
    List<FaceTracker.Tracked> want = ref.update(List.of(a1, b1), 0.1, List.of(lm, lm), List.of(rot, rot));
    List<FaceTracker.Tracked> got = tr.update(List.of(a1, b1), 0.1, List.of(lm, lm), List.of(rot, rot));
    for (int i = 0; i < 2; i++) {
      assertEquals(want.get(i).trackId, got.get(i).trackId);
      assertArrayEquals(want.get(i).box, got.get(i).box, 0f, "face " + i);
      assertArrayEquals(want.get(i).rotation, got.get(i).rotation, 0.0, "face " + i);
      for (int k = 0; k < lm.length; k++) {
        assertArrayEquals(want.get(i).landmarks[k], got.get(i).landmarks[k], 0f, "face " + i);
      }
    }
  }

  @Test
  void defaultParametersAgreeWithPython() {
    Map<String, Object> d = map(g.get("defaults"));
    double[][] expected = {
      params(d.get("landmarks")), params(d.get("rotation")), params(d.get("box"))
    };
    double[][] java = {
      {LandmarkFilter.MIN_CUTOFF, LandmarkFilter.BETA, LandmarkFilter.D_CUTOFF},
      {RotationFilter.MIN_CUTOFF, RotationFilter.BETA, RotationFilter.D_CUTOFF},
      {FaceTracker.BOX_MIN_CUTOFF, FaceTracker.BOX_BETA, FaceTracker.BOX_D_CUTOFF}
    };
    String[] names = {"landmarks", "rotation", "box"};
    for (int i = 0; i < 3; i++) {
      assertArrayEquals(expected[i], java[i], 0.0, names[i] + " (min_cutoff, beta, d_cutoff)");
    }
  }

  private static double[] params(Object o) {
    Map<String, Object> m = map(o);
    return new double[] {dbl(m.get("min_cutoff")), dbl(m.get("beta")), dbl(m.get("d_cutoff"))};
  }

  @Test
  void timestampsMustIncrease() {
    OneEuroFilter f = new OneEuroFilter(1.0, 0.0, 1.0);
    f.filter(new double[] {1.0}, 1.0, 1.0);
    assertThrows(IllegalArgumentException.class, () -> f.filter(new double[] {1.0}, 1.0, 1.0));
    assertThrows(IllegalArgumentException.class, () -> f.filter(new double[] {Double.NaN}, 2.0, 1.0));
  }
}
