package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.lponet.core.Goldens.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Detector box -> landmark box vs lponet_tf.detection.box_mapping.BoxMapping.apply: constant,
 * keypoint-linear, and guarded (the golden takes both branches of the guard).
 */
class BoxMappingGoldenTest {
  @Test
  void constantKeypointAndGuardedMappingsMatchPython() {
    Map<String, Object> g = json("box_mapping.json");
    List<Object> boxes = list(g.get("boxes")), kps = list(g.get("keypoints"));
    for (Map.Entry<String, Object> e : map(g.get("mappings")).entrySet()) {
      Map<String, Object> m = map(e.getValue());
      BoxMapping bm = fromJson(m);
      List<Object> exp = list(m.get("out"));
      for (int i = 0; i < boxes.size(); i++) {
        float[] got = bm.apply(floats(boxes.get(i)), floats2(kps.get(i)));
        assertArrayEquals(floats(exp.get(i)), got, 1e-4f, e.getKey() + " box " + i);
      }
    }
  }

  static BoxMapping fromJson(Map<String, Object> m) {
    Object w = m.get("keypoint_weights");
    Object g = m.get("max_size_deviation");
    return new BoxMapping(
        dbl(m.get("dx")), dbl(m.get("dy")), dbl(m.get("sx")), dbl(m.get("sy")),
        w == null ? null : doubles2(w), g == null ? Double.NaN : dbl(g));
  }
}
