package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lponet.core.Goldens.*;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;

/**
 * The network crop of faces much larger than the crop (area shrink by an integer factor, then
 * the warp) vs lponet_tf.inference.analyzer.crop_face: bit-identical.
 */
class FaceCropGoldenTest {
  @Test
  void largeFacesAreShrunkLikePython(TestReporter report) {
    Map<String, Object> g = json("face_crop.json");
    RgbImage img = image(map(g.get("image")));
    for (Object o : list(g.get("cases"))) {
      Map<String, Object> c = map(o);
      float[] box = floats(c.get("box"));
      CropTransform t = CropTransform.fromBox(box, (int) dbl(c.get("size")));
      assertEquals((int) dbl(c.get("factor")), (int) (1.0 / t.matrix[0]), "shrink factor");
      float[] exp = f32((String) c.get("crop"));
      float[] got = FaceCrop.crop(img, box, t);
      assertEquals(exp.length, got.length);
      double sum = 0, max = 0;
      for (int i = 0; i < exp.length; i++) {
        double d = Math.abs(exp[i] - got[i]);
        sum += d;
        max = Math.max(max, d);
      }
      double mean = sum / exp.length;
      report.publishEntry("box " + c.get("box") + " mean / max abs difference (grey levels)", mean + " / " + max);
      assertEquals(0.0, max, "max abs difference (mean " + mean + ")");
    }
  }
}
