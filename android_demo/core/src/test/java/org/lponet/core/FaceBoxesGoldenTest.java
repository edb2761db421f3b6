package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.lponet.core.Goldens.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The box helpers of refine and of the default detector vs Python's
 * {@code box_from_landmarks}, {@code box_iou}, {@code box_in_image}, {@code boxes_agree},
 * {@code zoom_out} and {@code zoomed_back}.
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

  @Test
  void zoomOutPadsAndMapsBackLikePython() {
    Map<String, Object> z = map(g.get("zoom_out"));
    ZoomOut zoom = new ZoomOut(dbl(z.get("pad")), (int) dbl(z.get("fill")), Double.NaN, 0);
    RgbImage img = image(map(z.get("image")));
    ZoomOut.View view = zoom.view(img);
    assertEquals((int) dbl(z.get("border")), view.border);
    assertEquals(1.0, view.sx);
    assertEquals(1.0, view.sy);
    sameImage(image(map(z.get("padded"))), view.image);
    for (Object o : list(z.get("borders"))) {
      double[] b = doubles(o);
      RgbImage blank = new RgbImage((int) b[0], (int) b[1], new byte[(int) b[0] * (int) b[1] * 3]);
      assertEquals((int) b[3], new ZoomOut(b[2], 128, Double.NaN, 0).border(blank), "border of " + o);
    }
    sameDetections(list(z.get("back")),
        ZoomOut.back(detections(z.get("detections")), view, img.width, img.height));
    // a large image: shrunk (area averaging) before it is padded, detections mapped back
    Map<String, Object> big = map(z.get("shrunk"));
    RgbImage bigImg = image(map(big.get("image")));
    ZoomOut.View bigView = new ZoomOut(1, 128, Double.NaN, (int) dbl(big.get("max_side"))).view(bigImg);
    assertEquals((int) dbl(big.get("border")), bigView.border);
    double[] scale = doubles(big.get("scale"));
    assertEquals(scale[0], bigView.sx, 1e-12);
    assertEquals(scale[1], bigView.sy, 1e-12);
    sameImage(image(map(big.get("padded"))), bigView.image);
    sameDetections(list(big.get("back")),
        ZoomOut.back(detections(big.get("detections")), bigView, bigImg.width, bigImg.height));
  }

  private static void sameImage(RgbImage exp, RgbImage got) {
    assertEquals(exp.width, got.width);
    assertEquals(exp.height, got.height);
    assertArrayEquals(exp.rgb, got.rgb);
  }

  private static void sameDetections(List<Object> exp, List<Detection> got) {
    assertEquals(exp.size(), got.size(), "detections kept");
    for (int i = 0; i < got.size(); i++) {
      Map<String, Object> d = map(exp.get(i));
      assertArrayEquals(floats(d.get("box")), got.get(i).box, 1e-4f, "box " + i);
      assertEquals(dbl(d.get("score")), got.get(i).score, 1e-6, "score " + i);
      if (d.get("keypoints") == null) {
        assertEquals(null, got.get(i).keypoints);
      } else {
        float[][] k = floats2(d.get("keypoints"));
        for (int j = 0; j < k.length; j++) {
          assertArrayEquals(k[j], got.get(i).keypoints[j], 1e-4f, "keypoint " + i + "," + j);
        }
      }
    }
  }

  @Test
  void zoomOutMergesAndRerunsLikePython() {
    Map<String, Object> m = map(map(g.get("zoom_out")).get("merge"));
    List<Detection> first = detections(m.get("first"));
    List<Detection> got = ZoomOut.merge(first, detections(m.get("second")));
    List<Object> exp = list(m.get("merged"));
    assertEquals(exp.size(), got.size(), "merged faces");
    for (int i = 0; i < got.size(); i++) {
      Map<String, Object> d = map(exp.get(i));
      assertArrayEquals(floats(d.get("box")), got.get(i).box, 0f, "box " + i);
      assertEquals(d.get("source"), got.get(i).source, "source " + i);
    }
    // first-pass scores 0.45, 0.75, 0.3, 0.5: rerun below 0.8, not below 0.7; NaN only when empty
    assertEquals(true, new ZoomOut(1, 128, 0.8, 0).needed(first));
    assertEquals(false, new ZoomOut(1, 128, 0.7, 0).needed(first));
    assertEquals(false, new ZoomOut(1, 128, Double.NaN, 0).needed(first));
    assertEquals(true, new ZoomOut(1, 128, Double.NaN, 0).needed(new ArrayList<>()));
  }

  @Test
  void confirmedSelectionMatchesPython() {
    int n = 0;
    for (Object o : list(g.get("confirm"))) {
      Map<String, Object> c = map(o);
      double t = dbl(c.get("primary_threshold"));
      ConfirmedDetection rule = new ConfirmedDetection(0.7, 0.3, 0.45, 0.1);
      List<Detection> sure = scored(c.get("primary"), t, "blazeface_back");
      List<Detection> candidates = scored(c.get("primary"), Math.min(rule.low, t), "blazeface_back");
      List<Detection> second = scored(c.get("second"), rule.confirmThreshold, "blazeface_short");
      List<Detection> got = rule.select(sure, candidates, () -> second,
          (int) dbl(c.get("longer_side")));
      List<Object> exp = list(c.get("kept"));
      assertEquals(exp.size(), got.size(), "case " + n + ": faces kept");
      for (int i = 0; i < got.size(); i++) {
        assertArrayEquals(floats(exp.get(i)), got.get(i).box, 0f, "case " + n + ", face " + i);
      }
      n++;
    }
  }

  @Test
  void distinctFacesMatchPython() {
    Map<String, Object> d = map(g.get("distinct"));
    float[] all = f32((String) d.get("landmarks"));
    List<float[][]> landmarks = new ArrayList<>();
    for (int f = 0; f < (int) dbl(d.get("faces")); f++) {
      float[][] lm = new float[68][2];
      for (int k = 0; k < 68; k++) {
        lm[k][0] = all[(f * 68 + k) * 2];
        lm[k][1] = all[(f * 68 + k) * 2 + 1];
      }
      landmarks.add(lm);
    }
    List<Integer> exp = new ArrayList<>();
    for (double i : doubles(d.get("kept"))) {
      exp.add((int) i);
    }
    assertEquals(CandidateCheck.SAME_FACE_IOU, dbl(d.get("same_face_iou")));
    assertEquals(exp, CandidateCheck.distinctIndices(landmarks, CandidateCheck.SAME_FACE_IOU));
  }

  /** {@code [[box, score], ...]} decoded at {@code threshold}, best score first (as BlazeFace). */
  private static List<Detection> scored(Object json, double threshold, String source) {
    List<Detection> dets = new ArrayList<>();
    for (Object o : list(json)) {
      List<Object> pair = list(o);
      float score = (float) dbl(pair.get(1));
      if (score >= threshold) {
        dets.add(new Detection(floats(pair.get(0)), score, null, source));
      }
    }
    dets.sort(java.util.Comparator.comparingDouble(x -> -x.score));
    return dets;
  }

  private static List<Detection> detections(Object json) {
    List<Detection> dets = new ArrayList<>();
    for (Object o : list(json)) {
      Map<String, Object> d = map(o);
      dets.add(new Detection(floats(d.get("box")), (float) dbl(d.get("score")),
          d.get("keypoints") == null ? null : floats2(d.get("keypoints")), (String) d.get("source")));
    }
    return dets;
  }
}
