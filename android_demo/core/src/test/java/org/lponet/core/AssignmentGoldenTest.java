package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.lponet.core.Goldens.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The tracker's assignment vs scipy.optimize.linear_sum_assignment (Python's Tracker): the
 * same pairs on random, tied and constant matrices, wide and tall; and the tracker's ids vs
 * Python's on frames with more faces than the old exact-search limit, and with the ids of the
 * tracks faces were followed from.
 */
class AssignmentGoldenTest {
  private final Map<String, Object> g = json("smoothing.json");

  @Test
  void sameAssignmentsAsScipy() {
    int k = 0;
    for (Object o : list(g.get("assignment"))) {
      Map<String, Object> c = map(o);
      double[][] cost = doubles2(c.get("cost"));
      int[] got = Assignment.minimize(cost);
      int[] want = new int[cost.length];
      java.util.Arrays.fill(want, -1);
      double[] rows = doubles(c.get("rows")), cols = doubles(c.get("cols"));
      for (int i = 0; i < rows.length; i++) {
        want[(int) rows[i]] = (int) cols[i];
      }
      assertArrayEquals(want, got, "matrix " + k++ + " (" + cost.length + " x " + cost[0].length + ")");
    }
  }

  @Test
  void trackerIdsWithManyFacesAsPython() {
    FaceTracker tr = new FaceTracker();
    int frame = 0;
    for (Object fo : list(g.get("tracker_many"))) {
      Map<String, Object> f = map(fo);
      assertIds(f, tr.update(boxes(f), dbl(f.get("t")), null, null), "frame " + frame++);
    }
  }

  @Test
  void trackerLooksForAHiddenFaceWhereItsMotionPutsItAsPython() {
    Map<String, Object> golden = map(g.get("tracker_hidden"));
    FaceTracker tr = new FaceTracker(0.3, (int) dbl(golden.get("max_missed")), 30.0);
    int frame = 0;
    for (Object fo : list(golden.get("frames"))) {
      Map<String, Object> f = map(fo);
      assertIds(f, tr.update(boxes(f), dbl(f.get("t")), null, null), "frame " + frame++);
    }
  }

  @Test
  void trackerContinuesFollowedTracksAsPython() {
    FaceTracker tr = new FaceTracker(0.3, 1, 30.0);
    int frame = 0;
    for (Object fo : list(g.get("tracker_followed"))) {
      Map<String, Object> f = map(fo);
      List<Integer> given = null;
      if (f.get("track_ids") != null) {
        given = new ArrayList<>();
        for (Object id : list(f.get("track_ids"))) {
          given.add(id == null ? null : (int) ((Number) id).doubleValue());
        }
      }
      String where = "frame " + frame++;
      if (f.get("ids") == null) {
        List<Integer> ids = given;
        assertThrows(IllegalArgumentException.class,
            () -> tr.update(boxes(f), dbl(f.get("t")), null, null, ids), where);
        continue;
      }
      assertIds(f, tr.update(boxes(f), dbl(f.get("t")), null, null, given), where);
    }
  }

  private static List<float[]> boxes(Map<String, Object> frame) {
    List<float[]> boxes = new ArrayList<>();
    for (Object b : list(frame.get("boxes"))) {
      boxes.add(floats(b));
    }
    return boxes;
  }

  /** The frame's Python ids, face by face. */
  private static void assertIds(Map<String, Object> frame, List<FaceTracker.Tracked> got, String where) {
    double[] ids = doubles(frame.get("ids"));
    assertEquals(ids.length, got.size(), where);
    for (int i = 0; i < ids.length; i++) {
      assertEquals((int) ids[i], got.get(i).trackId, where + " face " + i);
    }
  }
}
