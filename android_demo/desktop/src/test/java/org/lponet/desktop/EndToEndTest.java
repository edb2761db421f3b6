package org.lponet.desktop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lponet.core.Goldens.*;

import java.io.File;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.TestInstance;
import org.lponet.core.BlazeFace;
import org.lponet.core.BoxMapping;
import org.lponet.core.Detection;
import org.lponet.core.Face;
import org.lponet.core.FaceAnalyzer;
import org.lponet.core.RgbImage;
import org.lponet.demo.engine.TfliteBlazeFace;
import org.lponet.demo.engine.TfliteLandmarkModel;
import org.tensorflow.lite.Interpreter;

/**
 * End to end on a real photo: the app's engine classes (compiled unchanged from
 * android_demo/app) and the Java core run the exported LPONet and the BlazeFace detector
 * through LiteRT's C library, and must return the faces the Python library returns for the
 * same image: same detections, and for each face the same landmarks, pose, per-landmark
 * scores and visible-face mask.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EndToEndTest {
  // Tolerances of the comparison (the brief: landmarks ~0.5 px, pose ~0.5 degree).
  static final float LANDMARK_PX = 0.5f;
  static final double POSE_DEG = 0.5;

  private Map<String, Object> g;
  private RgbImage image;
  private Interpreter blazeInterp, lponetInterp;
  private TfliteBlazeFace detector;
  private TfliteLandmarkModel model;
  private FaceAnalyzer analyzer;

  @BeforeAll
  void load() {
    g = json("e2e.json");
    image = image(map(g.get("image")));
    blazeInterp = new Interpreter(new File((String) g.get("blazeface_model")));
    lponetInterp = new Interpreter(new File((String) g.get("model")), new Interpreter.Options().setNumThreads(2));
    detector = new TfliteBlazeFace(blazeInterp, BlazeFace.Spec.SHORT);
    model = new TfliteLandmarkModel(lponetInterp);
    analyzer = new FaceAnalyzer(model);
  }

  @AfterAll
  void close() {
    blazeInterp.close();
    lponetInterp.close();
  }

  private List<Object> pyFaces() {
    return list(g.get("faces"));
  }

  @Test
  void modelOutputsAreFoundByTheirSignatureNames() {
    assertTrue(model.usesSignature(), "exported model lacks heatmaps/pose/occlusion signature names");
    assertEquals((int) dbl(g.get("input_size")), model.inputSize());
  }

  @Test
  void javaDetectionsMatchPython(TestReporter report) {
    List<Detection> dets = detector.detect(image);
    assertEquals(pyFaces().size(), dets.size(), "number of faces");
    assertTrue(dets.size() >= 2, "the test photo has two faces");
    for (int i = 0; i < dets.size(); i++) {
      Map<String, Object> pd = map(map(pyFaces().get(i)).get("detection"));
      // The letterbox resampling differs (Java area average vs OpenCV INTER_AREA): boxes
      // agree to about a pixel, not to the bit.
      float[] pb = floats(pd.get("box"));
      report.publishEntry("detection " + i + " max box difference (px)", String.valueOf(maxAbs(pb, dets.get(i).box)));
      assertArrayEquals(pb, dets.get(i).box, 1.5f, "box " + i);
      assertEquals(dbl(pd.get("score")), dets.get(i).score, 0.02, "score " + i);
    }
  }

  @Test
  void facesFromPythonBoxesMatchPython(TestReporter report) {
    // Same landmark box as Python: the crop is bit-identical, so the only difference left is
    // the runtime (LiteRT CompiledModel here, the Python TFLite interpreter there).
    for (int i = 0; i < pyFaces().size(); i++) {
      Map<String, Object> pf = map(pyFaces().get(i));
      Face f = analyzer.analyzeBox(image, floats(pf.get("face_box")), null);
      assertFaceMatches(pf, f, "face " + i, LANDMARK_PX, report);
    }
  }

  @Test
  void fullJavaPipelineMatchesPython(TestReporter report) {
    Map<String, Object> m = map(g.get("mapping"));
    Object w = m.get("keypoint_weights");
    BoxMapping mapping =
        new BoxMapping(dbl(m.get("dx")), dbl(m.get("dy")), dbl(m.get("sx")), dbl(m.get("sy")),
            w == null ? null : doubles2(w));
    List<Face> faces = analyzer.analyze(image, detector.detect(image), mapping);
    assertEquals(pyFaces().size(), faces.size());
    for (int i = 0; i < faces.size(); i++) {
      Map<String, Object> pf = map(pyFaces().get(i));
      assertArrayEquals(floats(pf.get("face_box")), faces.get(i).faceBox, 1.5f, "face box " + i);
      assertFaceMatches(pf, faces.get(i), "Java-detected face " + i, LANDMARK_PX, report);
    }
  }

  private static float maxAbs(float[] a, float[] b) {
    float m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  private void assertFaceMatches(
      Map<String, Object> pf, Face f, String what, float px, TestReporter report) {
    float[][] lm = floats2(pf.get("landmarks"));
    float worst = 0;
    for (int k = 0; k < lm.length; k++) {
      worst = Math.max(worst, Math.max(Math.abs(lm[k][0] - f.landmarks[k][0]), Math.abs(lm[k][1] - f.landmarks[k][1])));
    }
    double[] e = doubles(pf.get("euler"));
    double worstDeg = 0;
    for (int k = 0; k < 3; k++) {
      worstDeg = Math.max(worstDeg, Math.abs(e[k] - f.euler[k]));
    }
    report.publishEntry(what + " max landmark / pose difference", worst + " px / " + worstDeg + " deg");
    assertTrue(worst <= px, what + ": landmarks differ by up to " + worst + " px");
    for (int k = 0; k < 3; k++) {
      assertEquals(e[k], f.euler[k], POSE_DEG, what + " euler " + k);
    }
    assertArrayEquals(doubles(pf.get("rotation")), f.rotation, 1e-3, what + " rotation");
    assertArrayEquals(floats(pf.get("scores")), f.landmarkScores, 1e-2f, what + " scores");
    float[] mask = f32((String) pf.get("mask"));
    assertArrayEquals(mask, f.mask, 1e-3f, what + " mask");
  }
}
