package org.lponet.desktop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lponet.core.Goldens.*;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestReporter;
import org.lponet.core.BlazeFace;
import org.lponet.core.BoxMapping;
import org.lponet.core.CropTransform;
import org.lponet.core.Detection;
import org.lponet.core.Face;
import org.lponet.core.RgbImage;
import org.lponet.demo.engine.FacePipeline;
import org.lponet.demo.engine.TfliteBlazeFace;
import org.lponet.demo.engine.TfliteLandmarkModel;
import org.tensorflow.lite.Interpreter;

/**
 * End to end on a real photo with the app's own assets: android_demo/tools/export_assets.py
 * (the library's TFLite exporter) wrote {@code lponet.tflite}, the detector model and
 * {@code lponet_android.json}; the app's engine classes (compiled unchanged from
 * android_demo/app) and the Java core run them through LiteRT's C library, configured from the
 * sidecar exactly as the app does, and must return the faces Python's {@code FaceAnalyzer}
 * returns: same detections, landmarks within 0.5 px, pose within 0.5 degree, same scores,
 * visibility and visible-face mask.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EndToEndTest {
  static final float LANDMARK_PX = 0.5f;
  static final double POSE_DEG = 0.5;

  private Map<String, Object> g;
  private RgbImage image;
  private final List<Interpreter> interpreters = new ArrayList<>();
  private TfliteLandmarkModel model;
  private FacePipeline pipeline;

  @BeforeAll
  void load() {
    g = json("e2e.json");
    image = image(map(g.get("image")));
    Path assets = Path.of((String) g.get("assets"));
    Map<String, Object> side = jsonFile(assets.resolve("lponet_android.json"));
    Map<String, Object> det = map(side.get("detector"));
    List<TfliteBlazeFace> detectors = new ArrayList<>();
    for (Object o : list(det.get("models"))) {
      Map<String, Object> m = map(o);
      Interpreter it = new Interpreter(assets.resolve((String) m.get("file")).toFile());
      interpreters.add(it);
      detectors.add(new TfliteBlazeFace(it, BlazeFace.Spec.valueOf((String) m.get("spec")),
          (float) dbl(det.get("score_threshold")), (float) dbl(det.get("iou_threshold"))));
    }
    Map<String, BoxMapping> mappings = new HashMap<>();
    for (Map.Entry<String, Object> e : map(side.get("box_mappings")).entrySet()) {
      Map<String, Object> m = map(e.getValue());
      Object w = m.get("keypoint_weights");
      mappings.put(e.getKey(), new BoxMapping(dbl(m.get("dx")), dbl(m.get("dy")), dbl(m.get("sx")),
          dbl(m.get("sy")), w == null ? null : doubles2(w)));
    }
    Map<String, Object> modelInfo = map(side.get("model"));
    Interpreter lp = new Interpreter(assets.resolve((String) modelInfo.get("file")).toFile(),
        new Interpreter.Options().setNumThreads(2));
    interpreters.add(lp);
    model = new TfliteLandmarkModel(lp);
    assertEquals((int) dbl(modelInfo.get("input_size")), model.inputSize(), "sidecar input size");
    Map<String, Object> an = map(side.get("analyzer"));
    pipeline = new FacePipeline(detectors, mappings, model, (float) dbl(an.get("score_threshold")),
        (int) dbl(an.get("max_faces")));
  }

  @AfterAll
  void close() {
    for (Interpreter it : interpreters) {
      it.close();
    }
  }

  private List<Object> pyFaces() {
    return list(g.get("faces"));
  }

  @Test
  void exportedModelKeepsTheOutputNames(TestReporter report) {
    report.publishEntry("model", (String) g.get("model_description"));
    assertTrue(model.usesSignature(), "exported model lacks the heatmaps/pose/occlusion signature names");
  }

  @Test
  void detectionsMatchPython(TestReporter report) {
    List<Detection> dets = pipeline.detect(image);
    assertEquals(pyFaces().size(), dets.size(), "number of faces");
    assertTrue(dets.size() >= 2, "the test photo has two faces");
    for (int i = 0; i < dets.size(); i++) {
      Map<String, Object> pd = map(map(pyFaces().get(i)).get("detection"));
      float[] pb = floats(pd.get("box"));
      report.publishEntry("detection " + i + " max box difference (px)", String.valueOf(maxAbs(pb, dets.get(i).box)));
      // The detector's letterbox resampling is not OpenCV's: about a pixel, not the bit.
      assertArrayEquals(pb, dets.get(i).box, 1.5f, "box " + i);
      assertEquals(dbl(pd.get("score")), dets.get(i).score, 0.02, "score " + i);
      assertEquals(pd.get("source"), dets.get(i).source);
    }
  }

  @Test
  void facesFromPythonBoxesMatchPython(TestReporter report) {
    // Same landmark box as Python: the crop is bit-identical, so only the runtime differs
    // (LiteRT CompiledModel here, the Python TFLite interpreter there).
    for (int i = 0; i < pyFaces().size(); i++) {
      Map<String, Object> pf = map(pyFaces().get(i));
      List<float[]> boxes = new ArrayList<>();
      boxes.add(floats(pf.get("face_box")));
      Face f = pipeline.analyzeBoxes(image, boxes).get(0);
      assertFaceMatches(pf, f, "face " + i, report);
    }
  }

  @Test
  void appPipelineMatchesPython(TestReporter report) {
    List<Face> faces = pipeline.analyze(image);
    assertEquals(pyFaces().size(), faces.size());
    for (int i = 0; i < faces.size(); i++) {
      Map<String, Object> pf = map(pyFaces().get(i));
      assertArrayEquals(floats(pf.get("face_box")), faces.get(i).faceBox, 1.5f, "face box " + i);
      assertFaceMatches(pf, faces.get(i), "app pipeline face " + i, report);
    }
    report.publishEntry("timings (ms)", "detect " + pipeline.lastDetectMillis() + ", landmarks "
        + pipeline.lastLandmarkMillis());
  }

  private static float maxAbs(float[] a, float[] b) {
    float m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  private void assertFaceMatches(Map<String, Object> pf, Face f, String what, TestReporter report) {
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
    assertTrue(worst <= LANDMARK_PX, what + ": landmarks differ by up to " + worst + " px");
    assertTrue(worstDeg <= POSE_DEG, what + ": pose differs by up to " + worstDeg + " deg");
    assertArrayEquals(doubles(pf.get("rotation")), f.rotation, 1e-3, what + " rotation");
    assertArrayEquals(floats(pf.get("landmark_scores")), f.landmarkScores, 1e-3f, what + " landmark scores");
    assertArrayEquals(floats(pf.get("visibility")), f.visibility, 1e-3f, what + " visibility");
    assertArrayEquals(f32((String) pf.get("mask")), f.mask, 1e-3f, what + " mask");
    assertArrayEquals(floats(pf.get("crop_box")),
        CropTransform.squareBox(f.faceBox, CropTransform.DEFAULT_ENLARGE), 1e-2f, what + " crop box");
  }
}
