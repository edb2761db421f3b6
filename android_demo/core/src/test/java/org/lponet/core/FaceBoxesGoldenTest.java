package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lponet.core.Goldens.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The box helpers of refine and of the confirmed detector vs Python's
 * {@code box_from_landmarks}, {@code box_iou}, {@code box_in_image} and {@code boxes_agree}.
 */
class FaceBoxesGoldenTest {
  private final Map<String, Object> g = json("face_boxes.json");

  @Test
  void iouAgreementAndInImageMatchPython() {
    List<Object> pairs = list(g.get("pairs"));
    double[] iou = doubles(g.get("iou"));
    List<Object> agree = list(g.get("agree")), inImage = list(g.get("in_image"));
    double[] shape = doubles(g.get("image_shape"));
    int h = (int) shape[0], w = (int) shape[1];
    for (int i = 0; i < pairs.size(); i++) {
      float[][] p = floats2(pairs.get(i));
      assertEquals(iou[i], Refine.iou(p[0], p[1]), 1e-6, "iou " + i);
      assertEquals(agree.get(i), ConfirmedDetection.boxesAgree(p[0], p[1]), "agree " + i);
      List<Object> in = list(inImage.get(i));
      assertEquals(in.get(0), Refine.inImage(p[0], w, h), "in image a " + i);
      assertEquals(in.get(1), Refine.inImage(p[1], w, h), "in image b " + i);
    }
  }

  @Test
  void landmarkBoxIgnoresNonFiniteRowsLikePython() {
    float[] all = f32((String) g.get("landmarks"));
    List<Object> exp = list(g.get("landmark_boxes"));
    for (int f = 0; f < exp.size(); f++) {
      float[][] lm = new float[68][2];
      for (int k = 0; k < 68; k++) {
        lm[k][0] = all[(f * 68 + k) * 2];
        lm[k][1] = all[(f * 68 + k) * 2 + 1];
      }
      assertArrayEquals(floats(exp.get(f)), Refine.landmarkBox(lm), 0f, "face " + f);
    }
  }
}
