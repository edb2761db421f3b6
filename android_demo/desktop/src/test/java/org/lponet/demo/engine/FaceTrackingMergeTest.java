package org.lponet.demo.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.lponet.core.Face;

/**
 * {@link FaceTrackingSession#merge} on a detection frame, as Python's
 * {@code TrackingSession._merge} (tests/test_analyzer_video.py's merge cases): a tracked face a
 * detection agrees with is kept; one that drifted is replaced by the detection's face only when
 * that face is the surer one (mean landmark score), and then continues its track.
 */
class FaceTrackingMergeTest {
  private static Face face(float x0, float y0, float x1, float y1, float confidence) {
    float[] scores = new float[68];
    Arrays.fill(scores, confidence);
    return new Face(null, 1f, new float[] {x0, y0, x1, y1}, null, new float[68][2], scores,
        new float[68], null, null, new float[0], 0, 0, 4.0);
  }

  private static List<Face> merged(Face tracked, Face detected, List<Integer> ids) {
    ids.add(7);
    return FaceTrackingSession.merge(List.of(tracked), List.of(detected), ids);
  }

  @Test
  void aDriftedTrackIsReplacedOnlyByASurerDetection() {
    Face tracked = face(0, 0, 100, 100, 0.5f);
    List<Integer> ids = new ArrayList<>();
    List<Face> got = merged(tracked, face(20, 0, 120, 100, 0.9f), ids); // IoU 0.67: agree
    assertEquals(1, got.size());
    assertSame(tracked, got.get(0));
    Face surer = face(40, 0, 140, 100, 0.6f); // IoU 0.43: the same face, drifted
    ids = new ArrayList<>();
    got = merged(tracked, surer, ids);
    assertEquals(1, got.size());
    assertSame(surer, got.get(0));
    assertEquals(List.of(7), ids); // the detection continues the track
    for (float c : new float[] {0.4f, 0.5f}) { // no surer: a box across two faces reads neither
      ids = new ArrayList<>();
      got = merged(tracked, face(40, 0, 140, 100, c), ids);
      assertEquals(1, got.size());
      assertSame(tracked, got.get(0));
      assertEquals(List.of(7), ids);
    }
  }
}
