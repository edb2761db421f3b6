package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lponet.core.Goldens.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;

/**
 * BlazeFace pre/post-processing vs lponet_tf.detection.BlazeFaceDetector: anchors of
 * every variant, letterbox geometry, and decoding + weighted NMS of the real model's raw
 * outputs on a real photo (one face, and two faces side by side).
 */
class BlazeFaceGoldenTest {
  private final Map<String, Object> g = json("blazeface.json");

  @Test
  void anchorsOfEveryVariant() {
    Map<String, Object> anchors = map(g.get("anchors"));
    for (BlazeFace.Spec spec : BlazeFace.Spec.values()) {
      String key = spec.name().toLowerCase();
      float[][] exp = floats2(anchors.get(key));
      float[][] got = BlazeFace.anchors(spec);
      assertEquals(exp.length, got.length, key);
      for (int i = 0; i < exp.length; i++) {
        assertArrayEquals(exp[i], got[i], 0f, key + " anchor " + i);
      }
    }
  }

  @Test
  void letterboxGeometry() {
    for (Object o : list(g.get("letterboxes"))) {
      Map<String, Object> c = map(o);
      BlazeFace.Letterbox lb =
          new BlazeFace.Letterbox(128, (int) dbl(c.get("w")), (int) dbl(c.get("h")));
      assertEquals((int) dbl(c.get("px")), lb.padX, c.toString());
      assertEquals((int) dbl(c.get("py")), lb.padY, c.toString());
      assertEquals(dbl(c.get("sx")), lb.scaleX, 1e-15, c.toString());
      assertEquals(dbl(c.get("sy")), lb.scaleY, 1e-15, c.toString());
      assertEquals((int) dbl(c.get("step")), lb.step, c.toString());
    }
  }

  @Test
  void decodeAndWeightedNmsOnRealOutputs() {
    BlazeFace bf = new BlazeFace(BlazeFace.Spec.SHORT, (float) dbl(g.get("score_threshold")),
        (float) dbl(g.get("iou_threshold")));
    for (Object o : list(g.get("cases"))) {
      Map<String, Object> c = map(o);
      RgbImage img = image(map(c.get("image")));
      BlazeFace.Letterbox lb = bf.letterbox(img);
      assertEquals((int) dbl(c.get("px")), lb.padX);
      assertEquals((int) dbl(c.get("py")), lb.padY);
      List<Detection> got =
          bf.decode(f32((String) c.get("regressors")), f32((String) c.get("logits")), lb);
      List<Object> exp = list(c.get("detections"));
      assertEquals(exp.size(), got.size(), c.get("name") + ": number of faces");
      assertTrue(got.size() >= 1, "the photo has a face");
      for (int i = 0; i < exp.size(); i++) {
        Map<String, Object> e = map(exp.get(i));
        Detection d = got.get(i);
        assertArrayEquals(floats(e.get("box")), d.box, 1e-3f, c.get("name") + " box " + i);
        assertEquals(dbl(e.get("score")), d.score, 1e-6, c.get("name") + " score " + i);
        float[][] k = floats2(e.get("keypoints"));
        for (int j = 0; j < k.length; j++) {
          assertArrayEquals(k[j], d.keypoints[j], 1e-3f, c.get("name") + " keypoint " + j);
        }
        assertEquals(e.get("source"), d.source);
      }
    }
  }

  /** Each model's default score and IoU thresholds are Python's (0.6 for the back model). */
  @Test
  void defaultThresholdsPerModelAsPython() {
    Map<String, Object> d = map(g.get("default_thresholds"));
    for (BlazeFace.Spec spec : BlazeFace.Spec.values()) {
      double[] exp = doubles(d.get(spec.name().toLowerCase()));
      BlazeFace bf = new BlazeFace(spec);
      assertEquals((float) exp[0], bf.scoreThreshold, spec + " score threshold");
      assertEquals((float) exp[1], bf.iouThreshold, spec + " IoU threshold");
      assertEquals((float) exp[0], spec.defaultScoreThreshold, spec + " spec default");
    }
    assertEquals((float) dbl(g.get("refine_iou")), Refine.IOU, "Refine.IOU is Python's REFINE_IOU");
  }

  @Test
  void inputTensorMatchesPythonLetterbox(TestReporter report) {
    // Both photos are larger than the input: Java's INTER_AREA shrink vs OpenCV's, a grey
    // level being 2/255 in the [-1, 1] tensor.
    BlazeFace bf = new BlazeFace(BlazeFace.Spec.SHORT);
    for (Object o : list(g.get("cases"))) {
      Map<String, Object> c = map(o);
      RgbImage img = image(map(c.get("image")));
      BlazeFace.Letterbox lb = bf.letterbox(img);
      assertTrue(lb.shrinks);
      double[] d = Tolerances.assertSameImage(f32((String) c.get("input")), bf.inputTensor(img, lb),
          2.0 / 255.0, (String) c.get("name"));
      report.publishEntry(c.get("name") + " mean / max difference (grey levels)", d[0] + " / " + d[1]);
    }
  }
}
