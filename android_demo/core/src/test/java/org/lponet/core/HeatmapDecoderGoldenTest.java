package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lponet.core.Goldens.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Both decoding rules vs lponet_tf.heatmaps.decode_heatmaps (decode="dark" and "top2"): random
 * maps, 68 encoded Gaussians with noise, the edge cases (all zero, all negative and equal, two
 * equal maxima, a single peak), untruncated Gaussians whose sub-pixel centres DARK recovers, and
 * training targets of known centres near the map's edges (DARK's edge rule recovers them too).
 */
class HeatmapDecoderGoldenTest {
  @Test
  void decodeMatchesPython() {
    Map<String, Object> g = json("heatmaps.json");
    double stride = dbl(g.get("stride"));
    double sigma = dbl(g.get("sigma"));
    for (Object o : list(g.get("cases"))) {
      Map<String, Object> c = map(o);
      List<Object> shape = list(c.get("shape"));
      int h = (int) dbl(shape.get(0)), w = (int) dbl(shape.get(1)), k = (int) dbl(shape.get(2));
      float[] maps = f32((String) c.get("file"));
      HeatmapDecoder.Result dark =
          HeatmapDecoder.decode(maps, h, w, k, stride, HeatmapDecoder.Rule.DARK, sigma);
      HeatmapDecoder.Result byDefault = HeatmapDecoder.decode(maps, h, w, k, stride);
      HeatmapDecoder.Result top2 =
          HeatmapDecoder.decode(maps, h, w, k, stride, HeatmapDecoder.Rule.TOP2, sigma);
      float[][] xy = floats2(c.get("xy"));
      float[][] xyTop2 = floats2(c.get("xy_top2"));
      for (int j = 0; j < k; j++) {
        // float32 outputs computed the same way: equal up to the last bit or two (DARK sums
        // the smoothing in double, in another order than numpy's einsum).
        assertArrayEquals(xy[j], dark.points[j], 2e-5f, "dark landmark " + j + " of " + shape);
        assertArrayEquals(xy[j], byDefault.points[j], 0f, "the default rule is DARK");
        assertArrayEquals(xyTop2[j], top2.points[j], 2e-5f, "top2 landmark " + j + " of " + shape);
      }
      assertArrayEquals(floats(c.get("scores")), dark.scores, 0f, "scores of " + shape);
      assertArrayEquals(floats(c.get("scores")), top2.scores, 0f, "scores of " + shape);
      if (c.containsKey("truth")) {
        float[][] truth = floats2(c.get("truth"));
        for (int j = 0; j < k; j++) {
          double err = Math.max(Math.abs(truth[j][0] - dark.points[j][0]),
                                Math.abs(truth[j][1] - dark.points[j][1]));
          assertTrue(err < 0.02, "DARK recovers a Gaussian's centre: " + err + " px");
        }
      }
    }
  }
}
