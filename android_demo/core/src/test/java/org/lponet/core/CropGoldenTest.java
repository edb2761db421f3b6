package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lponet.core.Goldens.*;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;

/** Crop geometry and resampling vs lponet_tf.codec.crop (pixels: see {@link Tolerances}). */
class CropGoldenTest {
  @Test
  void squareBoxMatrixAndPointsMatchPython() {
    for (Object o : list(json("crop.json").get("cases"))) {
      Map<String, Object> c = map(o);
      float[] box = floats(c.get("box"));
      int size = (int) dbl(c.get("size"));
      assertArrayEquals(floats(c.get("square")), CropTransform.squareBox(box, 0.1), 0f, "square box");
      CropTransform t = CropTransform.fromBox(box, size);
      assertArrayEquals(doubles(c.get("matrix")), t.matrix, 1e-12, "matrix");
      assertArrayEquals(doubles(c.get("inverse")), t.inverse(), 1e-9, "inverse");
      float[][] pts = floats2(c.get("points"));
      float[][] toCrop = t.toCrop(pts), toImage = t.toImage(pts);
      float[][] expCrop = floats2(c.get("to_crop")), expImage = floats2(c.get("to_image"));
      for (int i = 0; i < pts.length; i++) {
        for (int k = 0; k < 2; k++) {
          // float32 results of float64 arithmetic: equal to a unit in the last place.
          assertEquals(expCrop[i][k], toCrop[i][k], 1e-4 + 2e-7 * Math.abs(expCrop[i][k]), "to_crop");
          assertEquals(expImage[i][k], toImage[i][k], 1e-4 + 2e-7 * Math.abs(expImage[i][k]), "to_image");
        }
      }
    }
  }

  @Test
  void warpIsWithinAGreyLevelOfOpenCv(TestReporter report) {
    for (Object o : list(json("crop.json").get("warps"))) {
      Map<String, Object> w = map(o);
      RgbImage img = image(map(w.get("image")));
      CropTransform t = CropTransform.fromBox(floats(w.get("box")), (int) dbl(w.get("size")));
      String what = "warp of box " + w.get("box");
      double[] d = Tolerances.assertSameImage(f32((String) w.get("crop")), t.warp(img), 1.0, what);
      report.publishEntry(what + " mean / max difference (grey levels)", d[0] + " / " + d[1]);
    }
  }

  @Test
  void areaShrinkIsWithinAGreyLevelOfOpenCv(TestReporter report) {
    // 2x2 and 3x3 integer factors (OpenCV's fast paths) and fractional ones.
    for (Object o : list(json("crop.json").get("areas"))) {
      Map<String, Object> a = map(o);
      RgbImage src = image(map(a.get("image")));
      float[] size = floats(a.get("size"));
      String what = src.width + "x" + src.height + " -> " + (int) size[0] + "x" + (int) size[1];
      double[] d = Tolerances.assertSameImage(bytes((String) a.get("out")),
          Resize.areaU8(src, (int) size[0], (int) size[1]).rgb, what);
      report.publishEntry(what + " mean / max difference (grey levels)", d[0] + " / " + d[1]);
    }
  }

  @Test
  void roundTripThroughTheCropIsIdentity() {
    CropTransform t = CropTransform.fromBox(new float[] {13.5f, 40f, 97f, 151f}, 128);
    float[][] p = {{0f, 0f}, {50.25f, 70.75f}, {-20f, 300f}};
    float[][] back = t.toImage(t.toCrop(p));
    for (int i = 0; i < p.length; i++) {
      assertArrayEquals(p[i], back[i], 1e-4f);
    }
    // The square box's centre lands on the crop centre (S - 1) / 2.
    float[][] c = t.toCrop(new float[][] {{(13.5f + 97f) / 2, (40f + 151f) / 2}});
    assertArrayEquals(new float[] {63.5f, 63.5f}, c[0], 1e-4f);
  }
}
