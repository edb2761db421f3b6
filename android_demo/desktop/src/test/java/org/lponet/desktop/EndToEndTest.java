package org.lponet.desktop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lponet.core.Goldens.*;

import java.nio.file.Files;
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
import org.junit.jupiter.api.io.TempDir;
import org.lponet.core.CropTransform;
import org.lponet.core.Detection;
import org.lponet.core.Face;
import org.lponet.core.RgbImage;
import org.lponet.demo.engine.FacePipeline;
import org.lponet.demo.engine.FaceTrackingSession;
import org.lponet.demo.engine.TfliteLandmarkModel;

/**
 * End to end on a real photo with the app's own assets: android_demo/tools/export_assets.py
 * (the library's TFLite exporter) wrote {@code lponet.tflite}, the detector model and
 * {@code lponet_android.json}; the app's engine classes (compiled unchanged from
 * android_demo/app) and the Java core run them through LiteRT's C library, configured from the
 * sidecar exactly as the app does, and must return the faces Python's {@code FaceAnalyzer}
 * returns: same detections, landmarks within 0.1 px of Python's or of one of its near-tie
 * alternatives ({@link LandmarkMatch}), pose within 0.1 degree, same scores, visibility and
 * visible-face mask (absolute 1e-3: probabilities, and peaks / 60).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EndToEndTest {
  static final double POSE_DEG = 0.1;
  /** Boxes (px): detector boxes, and landmark boxes of landmarks within LANDMARK_PX. */
  static final float BOX_PX = 0.1f;

  private Map<String, Object> g;
  private RgbImage image;
  private AppAssets app;
  private TfliteLandmarkModel model;
  private FacePipeline pipeline;

  @BeforeAll
  void load() throws Exception {
    g = json("e2e.json");
    image = image(map(g.get("image")));
    app = new AppAssets(Path.of((String) g.get("assets")));
    model = app.model;
    pipeline = app.pipeline;
    assertEquals((int) dbl(app.model().get("input_size")), model.inputSize(), "sidecar input size");
  }

  @AfterAll
  void close() {
    app.close();
  }

  /** A sidecar of another layout is refused before any model is opened, naming the file. */
  @Test
  void aSidecarOfAnotherFormatIsRefused(@TempDir Path dir) throws Exception {
    for (String format : new String[] {"2", "0", "\"1\""}) {
      Files.writeString(dir.resolve("lponet_android.json"), "{\"format\": " + format + "}");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AppAssets(dir));
      assertTrue(e.getMessage().startsWith("lponet_android.json: sidecar format "), e.getMessage());
    }
    assertEquals(AppAssets.SIDECAR_FORMAT, (int) dbl(app.sidecar.get("format")));
  }

  private List<Object> pyFaces() {
    return list(g.get("faces"));
  }

  /**
   * Python's zoom_out_every and candidate_check_every on face-free frames
   * (tests/test_analyzer_video.py): the second look and the candidate check run on the first
   * face-free frame and then on one in zoomOutEvery / candidateCheckEvery.
   */
  @Test
  void trackingRunsTheZoomOutPassAndTheCandidateCheckOnOneFaceFreeFrameInN() {
    byte[] gray = new byte[96 * 64 * 3];
    java.util.Arrays.fill(gray, (byte) 90);
    RgbImage empty = new RgbImage(96, 64, gray);
    for (int every : new int[] {1, 3}) {
      FaceTrackingSession session = new FaceTrackingSession(pipeline, 10, every, every, 0.2f, true);
      int before = pipeline.zoomOutsRun(), checksBefore = pipeline.checksRun();
      for (int i = 0; i < 7; i++) {
        assertEquals(0, session.step(empty, 40.0 * i).size(), "a face-free frame has no face");
      }
      assertEquals(every == 1 ? 7 : 3, pipeline.zoomOutsRun() - before, "zoom-out passes, every " + every);
      // the candidate check (candidateCheckEvery = every here) on the same frames
      assertEquals(every == 1 ? 7 : 3, pipeline.checksRun() - checksBefore, "candidate checks, every " + every);
      assertEquals(7, session.detectionsRun(), "the detector runs on every face-free frame");
    }
  }

  /** MainActivity resets the session exactly when accepts() refuses the frame's time. */
  @Test
  void sessionAcceptsOnlyLaterFiniteTimestamps() {
    byte[] gray = new byte[32 * 24 * 3];
    RgbImage empty = new RgbImage(32, 24, gray);
    FaceTrackingSession session = new FaceTrackingSession(pipeline, 10, 1, 1, 0.2f, true);
    assertTrue(session.accepts(100.0), "first frame");
    assertTrue(!session.accepts(Double.NaN) && !session.accepts(Double.POSITIVE_INFINITY), "non-finite");
    session.step(empty, 100.0);
    assertTrue(!session.accepts(100.0) && !session.accepts(50.0), "not after the previous frame");
    assertTrue(session.accepts(100.5), "later");
    assertThrows(IllegalArgumentException.class, () -> session.step(empty, 100.0));
    session.reset();
    assertTrue(session.accepts(50.0), "after reset");
  }

  /**
   * The app's tracking session (detection reuse, merging, One-Euro smoothing) vs
   * FaceAnalyzer.track on a 12-frame video. Each frame's next boxes come from its unsmoothed
   * landmarks, so a landmark that legitimately took a near-tie alternative (see
   * {@link LandmarkMatch}) makes that track's later frames differ from Python's by more than
   * rounding: from that frame on the track is no longer compared (its face count and id
   * still are), and at least half of all frame-faces must have been compared.
   */
  @Test
  void videoTrackingMatchesPython(TestReporter report) {
    compareVideo("video", report);
  }

  /**
   * Fast motion: the two faces move a quarter of their width per frame, so the previous
   * frame's landmark box cuts them; as in Python's track() (FaceAnalyzer.refine_faces, whose
   * golden checks that it ran), the session refines them on their new landmark boxes: same
   * boxes (the last crop's), landmarks and ids as Python, the detector on the first frame only.
   * Without that refinement the landmarks collapse into the crop and the boxes differ.
   */
  @Test
  void fastVideoTrackingRefinesAsPython(TestReporter report) {
    compareVideo("fast_video", report);
  }

  /**
   * One of two faces hidden for two frames while the other stays tracked: the session looks for
   * it on every frame while its track is missing (FaceTracker.missing), so it is back with its
   * id on the first frame it can be seen, as in Python, not at the next detection frame.
   */
  @Test
  void hiddenFaceComesBackWithItsIdAsPython(TestReporter report) {
    compareVideo("hidden_video", report);
  }

  private void compareVideo(String key, TestReporter report) {
    Map<String, Object> v = map(g.get(key));
    Map<String, Object> an = app.analyzer();
    FaceTrackingSession session = new FaceTrackingSession(pipeline, (int) dbl(an.get("detect_every")),
        (int) dbl(an.get("zoom_out_every")), (int) dbl(an.get("candidate_check_every")),
        (float) dbl(an.get("min_tracking_confidence")), true);
    List<Object> frames = list(v.get("frames")), expected = list(v.get("faces"));
    Map<Integer, String> diverged = new HashMap<>();
    int compared = 0, total = 0;
    double worst = 0, worstDeg = 0;
    for (int i = 0; i < frames.size(); i++) {
      Map<String, Object> fr = map(frames.get(i));
      List<FaceTrackingSession.Tracked> got = session.step(image(map(fr.get("image"))), dbl(fr.get("timestamp_ms")));
      List<Object> exp = list(expected.get(i));
      assertEquals(exp.size(), got.size(), "frame " + i + ": number of faces");
      for (int k = 0; k < exp.size(); k++) {
        Map<String, Object> e = map(exp.get(k));
        FaceTrackingSession.Tracked t = got.get(k);
        String where = "frame " + i + " face " + k;
        assertEquals((int) dbl(e.get("track_id")), t.trackId, where + " track id");
        total++;
        if (diverged.containsKey(t.trackId)) {
          continue;
        }
        assertArrayEquals(floats(e.get("box")), t.face.faceBox, BOX_PX, where + " box");
        int[] which = LandmarkMatch.match(floats2(e.get("raw_landmarks")), list(e.get("alternatives")),
            t.face.landmarks, where + " unsmoothed landmarks");
        String alt = LandmarkMatch.tookAlternative(which);
        if (!alt.isEmpty()) {
          diverged.put(t.trackId, "from frame " + i + " (landmarks " + alt + ")");
          continue;
        }
        float[][] lm = floats2(e.get("landmarks"));
        for (int j = 0; j < lm.length; j++) {
          worst = Math.max(worst, LandmarkMatch.dist(lm[j], t.landmarks[j]));
        }
        double[] eu = doubles(e.get("euler"));
        for (int j = 0; j < 3; j++) {
          worstDeg = Math.max(worstDeg, Math.abs(eu[j] - t.euler[j]));
        }
        assertTrue(worst <= LandmarkMatch.LANDMARK_PX, where + ": smoothed landmarks differ by up to " + worst + " px");
        assertTrue(worstDeg <= POSE_DEG, where + ": smoothed pose differs by up to " + worstDeg + " deg");
        compared++;
      }
    }
    report.publishEntry(key + " tracking: max smoothed landmark / pose difference over the compared frames",
        worst + " px / " + worstDeg + " deg, " + compared + " of " + total
            + " frame-faces compared, detector ran on " + session.detectionsRun() + " of " + frames.size() + " frames");
    report.publishEntry(key + " tracks that took a near-tie alternative", diverged.toString());
    assertTrue(2 * compared >= total, "only " + compared + " of " + total + " frame-faces could be compared "
        + "(tracks diverged at near-ties: " + diverged + "): the golden video is too ill-conditioned to test anything");
    assertEquals((int) dbl(v.get("detections_run")), session.detectionsRun(), "frames that ran the detector");
  }

  @Test
  void bundledModelIsTheInt8Export(TestReporter report) {
    // The default asset: the int8 export with an int8 input (quantised here from the crop with
    // the sidecar's scale and zero point) and float outputs (the rotation unrounded); its
    // tensors were found by their signature names.
    report.publishEntry("model", (String) g.get("model_description"));
    assertEquals("int8", app.model().get("quantization"));
    assertEquals("int8", app.model().get("io_dtype"));
    assertTrue(model.quantizedInput(), "the app's model code did not see an int8 input");
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
      // The letterbox is within a grey level of OpenCV's (BlazeFaceGoldenTest).
      assertArrayEquals(pb, dets.get(i).box, BOX_PX, "box " + i);
      assertEquals(dbl(pd.get("score")), dets.get(i).score, 1e-3, "score " + i);
      assertEquals(pd.get("source"), dets.get(i).source);
    }
  }

  @Test
  void facesFromPythonBoxesMatchPython(TestReporter report) {
    // Same landmark box as Python: the crop is within a grey level of OpenCV's, and the
    // runtime differs (LiteRT CompiledModel here, the Python TFLite interpreter there).
    // Python's faces are refined (a second pass on their own landmark box): face_box is the
    // box of the pass that gave the landmarks.
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
      assertArrayEquals(floats(pf.get("face_box")), faces.get(i).faceBox, BOX_PX, "face box " + i);
      assertFaceMatches(pf, faces.get(i), "app pipeline face " + i, report);
    }
    report.publishEntry("timings (ms)", "detect " + pipeline.lastDetectMillis() + ", landmarks "
        + pipeline.lastLandmarkMillis());
  }

  @Test
  void confirmedDetectorMatchesPython(TestReporter report) {
    // The default detector (the back model, its low-score faces confirmed by the short one):
    // a "masked" face below `accept` kept because the second model agrees, and a candidate
    // it does not see dropped (the golden checks that both paths are taken in Python).
    // (With another default detector the same images just compare its detections.)
    report.publishEntry("detector", (String) map(app.sidecar.get("detector")).get("name"));
    detectionsMatch("confirm", list(g.get("confirm_cases")), report);
  }

  @Test
  void zoomOutPassMatchesPython(TestReporter report) {
    // The default detector's second look: a masked close-up the first pass misses, found on
    // the image inside a gray border (the golden checks that the first pass misses it).
    List<Object> cases = list(g.get("zoom_cases"));
    String name = (String) map(app.sidecar.get("detector")).get("name");
    assertEquals(name.endsWith("_zoom"), !cases.isEmpty(), "zoom golden for detector " + name);
    detectionsMatch("zoom", cases, report);
  }

  @Test
  void candidateCheckMatchesPython(TestReporter report) {
    // When the detector finds nothing, the network checks the back model's low-score
    // candidates: a face with sunglasses and a mask the check keeps, and a close-up whose
    // candidates it rejects (the golden checks that the detector finds nothing in both).
    List<Object> cases = list(g.get("check_cases"));
    assertEquals(app.analyzer().get("candidate_check") != null, !cases.isEmpty(),
        "candidate-check golden present exactly when the sidecar enables the check");
    for (int c = 0; c < cases.size(); c++) {
      Map<String, Object> cs = map(cases.get(c));
      RgbImage img = image(map(cs.get("image")));
      assertEquals(0, pipeline.detect(img).size(), "check case " + c + ": the detector finds nothing");
      int before = pipeline.checksRun();
      List<Face> faces = pipeline.analyze(img);
      assertEquals(1, pipeline.checksRun() - before, "check case " + c + ": the check ran");
      List<Object> exp = list(cs.get("faces"));
      assertEquals(exp.size(), faces.size(), "check case " + c + ": faces kept");
      for (int i = 0; i < faces.size(); i++) {
        Map<String, Object> pf = map(exp.get(i));
        assertArrayEquals(floats(pf.get("face_box")), faces.get(i).faceBox, BOX_PX, "check case " + c + " face box");
        assertFaceMatches(pf, faces.get(i), "check case " + c + " face " + i, report);
      }
      report.publishEntry("check case " + c, faces.size() + " faces kept");
    }
  }

  /** The app pipeline's detections on each case's image equal Python's. */
  private void detectionsMatch(String what, List<Object> cases, TestReporter report) {
    for (int c = 0; c < cases.size(); c++) {
      Map<String, Object> cs = map(cases.get(c));
      List<Detection> got = pipeline.detect(image(map(cs.get("image"))));
      List<Object> exp = list(cs.get("detections"));
      String label = what + " case " + c;
      assertEquals(exp.size(), got.size(), label + ": number of faces");
      for (int i = 0; i < got.size(); i++) {
        Map<String, Object> pd = map(exp.get(i));
        assertArrayEquals(floats(pd.get("box")), got.get(i).box, BOX_PX, label + " box " + i);
        assertEquals(dbl(pd.get("score")), got.get(i).score, 1e-3, label + " score " + i);
        assertEquals(pd.get("source"), got.get(i).source);
      }
      report.publishEntry(label, got.size() + " faces");
    }
  }

  @Test
  void smallFaceInTheFrameUsesTheGuardedMappingLikePython(TestReporter report) {
    // The whole astronaut photo: the keypoint-linear mapping would make the face box ~1.9x
    // too wide; the guard falls back to the constant mapping (the golden checks it fires).
    Map<String, Object> a = map(g.get("astronaut"));
    RgbImage img = image(map(a.get("image")));
    List<Object> exp = list(a.get("faces"));
    List<Face> faces = pipeline.analyze(img);
    assertEquals(exp.size(), faces.size(), "faces in the astronaut photo");
    assertTrue(faces.size() >= 1);
    for (int i = 0; i < faces.size(); i++) {
      Map<String, Object> pf = map(exp.get(i));
      assertArrayEquals(floats(map(pf.get("detection")).get("box")), faces.get(i).detection.box, BOX_PX,
          "astronaut detection " + i);
      assertArrayEquals(floats(pf.get("face_box")), faces.get(i).faceBox, BOX_PX, "astronaut face box " + i);
      assertFaceMatches(pf, faces.get(i), "astronaut face " + i, report);
    }
  }

  @Test
  void refineMatchesPython(TestReporter report) {
    // Given boxes (Python's BoxesDetector: identity mapping): one off the face, which Python
    // analysed again on its landmark box, and one on it (no second pass).
    List<Object> cases = list(g.get("refine_cases"));
    List<Detection> given = new ArrayList<>();
    for (Object o : cases) {
      given.add(new Detection(floats(map(o).get("given")), 1f, null, "boxes"));
    }
    List<Face> faces = pipeline.analyzeDetections(image, given);
    assertEquals(cases.size(), faces.size());
    for (int i = 0; i < faces.size(); i++) {
      Map<String, Object> pf = map(cases.get(i));
      assertArrayEquals(floats(pf.get("face_box")), faces.get(i).faceBox, BOX_PX, "refined box " + i);
      assertFaceMatches(pf, faces.get(i), "refine case " + i, report);
    }
  }

  @Test
  void gpuModelEntryMatchesPythonOnTheCpu(TestReporter report) throws Exception {
    // The sidecar's "gpu_model" (float I/O, the preset's fp16 export) through the same model
    // code, on the CPU here (the desktop bridge has no GPU accelerator).
    try (AppAssets gpu = new AppAssets(Path.of((String) g.get("assets")), "gpu_model")) {
      assertTrue(!gpu.model.quantizedInput(), "the GPU model entry has float I/O");
      List<Object> cases = list(g.get("gpu_model_faces"));
      assertEquals(pyFaces().size(), cases.size());
      for (int i = 0; i < cases.size(); i++) {
        Map<String, Object> pf = map(cases.get(i));
        List<float[]> boxes = new ArrayList<>();
        boxes.add(floats(pf.get("face_box")));
        assertFaceMatches(pf, gpu.pipeline.analyzeBoxes(image, boxes).get(0), "gpu model face " + i, report);
      }
    }
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
    List<Object> alternatives = list(pf.get("alternatives"));
    int[] which = LandmarkMatch.match(lm, alternatives, f.landmarks, what);
    // Visibility is sampled at the landmark: at the alternative's position where it took one.
    float[] vis = floats(pf.get("visibility"));
    for (int k = 0; k < which.length; k++) {
      if (which[k] >= 0) {
        vis[k] = floats(list(alternatives.get(k)).get(which[k]))[2];
      }
    }
    double[] e = doubles(pf.get("euler"));
    double worstDeg = 0;
    for (int k = 0; k < 3; k++) {
      worstDeg = Math.max(worstDeg, Math.abs(e[k] - f.euler[k]));
    }
    report.publishEntry(what + " max landmark / pose difference", LandmarkMatch.worstDirect(lm, f.landmarks, which)
        + " px / " + worstDeg + " deg; near-tie alternatives taken by landmarks [" + LandmarkMatch.tookAlternative(which) + "]");
    assertTrue(worstDeg <= POSE_DEG, what + ": pose differs by up to " + worstDeg + " deg");
    assertArrayEquals(doubles(pf.get("rotation")), f.rotation, 1e-3, what + " rotation");
    assertArrayEquals(floats(pf.get("landmark_scores")), f.landmarkScores, 1e-3f, what + " landmark scores");
    assertArrayEquals(vis, f.visibility, 1e-3f, what + " visibility");
    assertArrayEquals(f32((String) pf.get("mask")), f.mask, 1e-3f, what + " mask");
    assertArrayEquals(floats(pf.get("crop_box")),
        CropTransform.squareBox(f.faceBox, CropTransform.DEFAULT_ENLARGE), 1e-2f, what + " crop box");
  }
}
