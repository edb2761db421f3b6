package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.lponet.core.Goldens.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Per-landmark visibility: bilinear sampling of the visible-face probability at each
 * landmark's grid position, border clamped, vs scipy.ndimage.map_coordinates(order=1,
 * mode="nearest") on the same map and points (including points outside the grid).
 */
class VisibilityGoldenTest {
  private final Map<String, Object> g = json("visibility.json");

  /** The library's visibility at the golden's {@code pointsKey} points. */
  private float[] sampledAt(String pointsKey) {
    List<Object> shape = list(g.get("shape"));
    int h = (int) dbl(shape.get(0)), w = (int) dbl(shape.get(1)), c = (int) dbl(shape.get(2));
    return Visibility.atLandmarks(
        f32((String) g.get("occlusion")), h, w, c, 1, floats2(g.get(pointsKey)), dbl(g.get("stride")));
  }

  @Test
  void bilinearSamplingMatchesScipy() {
    assertArrayEquals(floats(g.get("visibility")), sampledAt("points"), 1e-6f);
  }

  /** A NaN coordinate reads cell 0 of its axis, as the library's sample_grid. */
  @Test
  void nanCoordinatesReadCellZeroLikePython() {
    assertArrayEquals(floats(g.get("nan_visibility")), sampledAt("nan_points"), 1e-6f);
  }
}
