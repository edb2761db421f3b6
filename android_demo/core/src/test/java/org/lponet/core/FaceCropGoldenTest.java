package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lponet.core.Goldens.*;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;

/**
 * The network crop of faces much larger than the crop (area shrink by an integer factor, then
 * the warp) vs lponet_tf.codec.crop.crop_face, within {@link Tolerances}: the paper's 10%
 * enlargement and larger ones (the region read follows the transform), and huge finite boxes
 * (whose shrink factor is beyond int).
 */
class FaceCropGoldenTest {
  @Test
  void largeFacesAreShrunkLikePython(TestReporter report) {
    Map<String, Object> g = json("face_crop.json");
    RgbImage img = image(map(g.get("image")));
    for (Object o : list(g.get("cases"))) {
      Map<String, Object> c = map(o);
      float[] box = floats(c.get("box"));
      double enlarge = dbl(c.get("enlarge"));
      CropTransform t = CropTransform.fromBox(box, (int) dbl(c.get("size")), enlarge);
      assertEquals(dbl(c.get("factor")), Math.floor(1.0 / t.matrix[0]), 1e-6 * dbl(c.get("factor")), "shrink factor");
      String what = "box " + c.get("box") + " enlarged " + enlarge;
      float[] expected = f32((String) c.get("crop"));
      double[] d = Tolerances.assertSameImage(expected, FaceCrop.crop(img, t), 1.0, what);
      Tolerances.assertSameImage(expected, FaceCrop.crop(img, box, t), 1.0, what + " (with the box)");
      report.publishEntry(what + " mean / max difference (grey levels)", d[0] + " / " + d[1]);
    }
  }
}
