package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lponet.core.Goldens.*;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;

/**
 * The network crop of faces much larger than the crop (area shrink by an integer factor, then
 * the warp) vs lponet_tf.codec.crop.crop_face, within {@link Tolerances}.
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
      String what = "box " + c.get("box");
      double[] d = Tolerances.assertSameImage(f32((String) c.get("crop")), FaceCrop.crop(img, box, t), 1.0, what);
      report.publishEntry(what + " mean / max difference (grey levels)", d[0] + " / " + d[1]);
    }
  }
}
