package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.lponet.core.Goldens.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Top-2 refined argmax vs lponet_tf.heatmaps.decode_heatmaps: random maps, 68 encoded
 * Gaussians with noise, and the edge cases (all zero, all negative and equal, two equal
 * maxima, a single peak).
 */
class HeatmapDecoderGoldenTest {
  @Test
  void decodeMatchesPython() {
    Map<String, Object> g = json("heatmaps.json");
    double stride = dbl(g.get("stride"));
    for (Object o : list(g.get("cases"))) {
      Map<String, Object> c = map(o);
      List<Object> shape = list(c.get("shape"));
      int h = (int) dbl(shape.get(0)), w = (int) dbl(shape.get(1)), k = (int) dbl(shape.get(2));
      HeatmapDecoder.Result r = HeatmapDecoder.decode(f32((String) c.get("file")), h, w, k, stride);
      float[][] xy = floats2(c.get("xy"));
      for (int j = 0; j < k; j++) {
        // float32 outputs computed the same way: equal up to the last bit or two.
        assertArrayEquals(xy[j], r.points[j], 2e-5f, "landmark " + j + " of " + shape);
      }
      assertArrayEquals(floats(c.get("scores")), r.scores, 0f, "scores of " + shape);
    }
  }
}
