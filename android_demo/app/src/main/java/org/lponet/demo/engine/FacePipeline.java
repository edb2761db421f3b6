package org.lponet.demo.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.lponet.core.BoxMapping;
import org.lponet.core.CandidateCheck;
import org.lponet.core.ConfirmedDetection;
import org.lponet.core.DecodeSettings;
import org.lponet.core.Detection;
import org.lponet.core.Face;
import org.lponet.core.FaceAnalyzer;
import org.lponet.core.Refine;
import org.lponet.core.RgbImage;
import org.lponet.core.ZoomOut;

/**
 * What the app runs per image, the steps of Python's {@code FaceAnalyzer.analyze}: the
 * detector (one model; or the first model confirmed by the second, Python's default
 * {@code ConfirmedDetector}, see {@link ConfirmedDetection}; or models tried in order until one
 * finds a face, Python's {@code FallbackDetector}); when it finds no sure face and a
 * {@link ZoomOut} is given (Python's default, {@code blazeface_confirmed_zoom}), the same models
 * once more on the image inside a gray border, with their own confirmation rule, the two passes
 * merged; detections at or above the analyzer's score
 * threshold, best first, at most {@code maxFaces}; each mapped to a landmark box by its source's {@link BoxMapping} (a box
 * outside the image is skipped); then the per-face network pass; then, with {@code refine}
 * (Python's default), a second pass on its own landmark box for each confident face whose
 * landmarks disagree with the box it was cropped from ({@link Refine}); when the detector finds
 * nothing and a {@link CandidateCheck} is given (Python's default {@code candidate_check}), the
 * back model's best low-score detections analysed and kept where the network sees a
 * confident, partly hidden face. Plain Java (compiled
 * and run by the JVM end-to-end test). Not thread-safe: one pipeline per inference thread.
 */
public final class FacePipeline {
  private final List<TfliteBlazeFace> detectors;
  /** Non-null: detectors[0] confirmed by detectors[1] (Python's ConfirmedDetector). */
  private final ConfirmedDetection confirm;
  /** Non-null: a second pass on the padded image when the first finds no sure face. */
  private final ZoomOut zoomOut;
  /** The second pass's rule (null: the first pass's). */
  private final ConfirmedDetection zoomConfirm;
  private final Map<String, BoxMapping> mappings;
  private final FaceAnalyzer analyzer;
  private final float scoreThreshold;
  final int maxFaces;
  private final boolean refine;
  private final float refineMinConfidence;
  private final float refineIou;
  private final int refinePasses;
  /** Non-null: the network's look at low-score candidates when the detector finds nothing. */
  private final CandidateCheck check;
  private long detectNanos, landmarkNanos;
  private int zoomOutsRun, checksRun;

  public FacePipeline(
      List<TfliteBlazeFace> detectors, ConfirmedDetection confirm, ZoomOut zoomOut,
      ConfirmedDetection zoomConfirm, Map<String, BoxMapping> mappings, TfliteLandmarkModel model, DecodeSettings decode,
      float scoreThreshold, int maxFaces, boolean refine, float refineMinConfidence,
      float refineIou, int refinePasses, CandidateCheck check) {
    if (detectors.isEmpty()) {
      throw new IllegalArgumentException("need at least one detector");
    }
    if (confirm != null && detectors.size() != 2) {
      throw new IllegalArgumentException("a confirmed detector needs two models, got " + detectors.size());
    }
    this.detectors = detectors;
    this.confirm = confirm;
    this.zoomOut = zoomOut;
    this.zoomConfirm = zoomConfirm == null ? confirm : zoomConfirm;
    if (this.zoomConfirm != null && detectors.size() != 2) {
      throw new IllegalArgumentException("a confirmed detector needs two models, got " + detectors.size());
    }
    this.mappings = mappings;
    this.analyzer = new FaceAnalyzer(model, decode);
    this.scoreThreshold = scoreThreshold;
    this.maxFaces = maxFaces;
    this.refine = refine;
    this.refineMinConfidence = refineMinConfidence;
    this.refineIou = refineIou;
    this.refinePasses = refinePasses;
    if (check != null && check.model >= detectors.size()) {
      throw new IllegalArgumentException("candidate-check model " + check.model + " of " + detectors.size());
    }
    this.check = check;
  }

  public FaceAnalyzer analyzer() {
    return analyzer;
  }

  /** The faces found, best score first, at most maxFaces. */
  public List<Detection> detect(RgbImage image) {
    return detect(image, true);
  }

  /**
   * The faces found; {@code zoomOutWhenEmpty} false skips the zoom-out pass when the first pass
   * finds nothing at all (Python's {@code FaceAnalyzer.detect(rgb, zoom_out_when_empty=False)}:
   * the tracking session's face-free frames).
   */
  public List<Detection> detect(RgbImage image, boolean zoomOutWhenEmpty) {
    long t0 = System.nanoTime();
    List<Detection> found = detectOnce(image, confirm);
    if (zoomOut != null && zoomOut.needed(found) && (zoomOutWhenEmpty || !found.isEmpty())) {
      zoomOutsRun++;
      ZoomOut.View view = zoomOut.view(image);
      found = ZoomOut.merge(found, ZoomOut.back(detectOnce(view.image, zoomConfirm), view,
          image.width, image.height));
    }
    List<Detection> kept = new ArrayList<>();
    for (Detection d : found) {
      if (d.score >= scoreThreshold && finite(d.box)) {
        kept.add(d);
      }
    }
    kept.sort(Comparator.comparingDouble(d -> -d.score));
    detectNanos = System.nanoTime() - t0;
    return kept.size() > maxFaces ? new ArrayList<>(kept.subList(0, maxFaces)) : kept;
  }

  /** One pass of the detector: confirmed by the second model with {@code rule}, or in order. */
  private List<Detection> detectOnce(RgbImage image, ConfirmedDetection rule) {
    if (rule != null) {
      TfliteBlazeFace primary = detectors.get(0), second = detectors.get(1);
      TfliteBlazeFace.Raw raw = primary.infer(image);
      float low = (float) Math.min(rule.low, primary.blazeFace().scoreThreshold);
      return rule.select(
          primary.decode(raw, primary.blazeFace().scoreThreshold), primary.decode(raw, low),
          () -> second.decode(second.infer(image), (float) rule.confirmThreshold),
          Math.max(image.width, image.height));
    }
    List<Detection> found = new ArrayList<>();
    for (TfliteBlazeFace d : detectors) {
      found = d.detect(image);
      if (!found.isEmpty()) {
        break;
      }
    }
    return found;
  }

  /** Detect, then analyse every face (with the candidate check when nothing is detected). */
  public List<Face> analyze(RgbImage image) {
    return findFaces(image, true, true);
  }

  /**
   * Python's {@code FaceAnalyzer.find_faces}: {@link #detect}, then {@link #analyzeDetections}
   * without repeats of one face;
   * when the detector returns nothing and {@code checkCandidates}, the candidate check on the
   * candidate model's detections down to {@code max(candidateScore, scoreThreshold)}.
   */
  public List<Face> findFaces(RgbImage image, boolean zoomOutWhenEmpty, boolean checkCandidates) {
    List<Detection> found = detect(image, zoomOutWhenEmpty);
    if (!found.isEmpty() || !checkCandidates || check == null) {
      // one face per person: on a close-up the detector may also box the lower half of the
      // face, and the refinement takes both boxes onto the same face
      return distinct(analyzeDetections(image, found));
    }
    checksRun++;
    TfliteBlazeFace model = detectors.get(check.model);
    float low = (float) Math.max(check.candidateScore, scoreThreshold);
    List<Face> kept = check.distinct(analyzeDetections(image,
        check.candidates(model.decode(model.infer(image), low))));
    return kept.size() > maxFaces ? new ArrayList<>(kept.subList(0, maxFaces)) : kept;
  }

  /**
   * Analyse given detections (each mapped by its source's box mapping; boxes outside the
   * image skipped), then {@link #refine} (Python's {@code FaceAnalyzer.analyze_detections}).
   */
  public List<Face> analyzeDetections(RgbImage image, List<Detection> detections) {
    long t0 = System.nanoTime();
    List<Face> faces = new ArrayList<>();
    for (Detection d : detections) {
      float[] box = mapping(d.source).apply(d.box, d.keypoints);
      if (Refine.inImage(box, image.width, image.height)) {
        faces.add(analyzer.analyzeBox(image, box, d));
      }
    }
    faces = refine(image, faces);
    landmarkNanos = System.nanoTime() - t0;
    return faces;
  }

  /**
   * Python's {@code FaceAnalyzer.refine_faces}: with {@code refine} (else {@code faces}
   * unchanged), each confident face whose landmarks disagree with the box its crop came from
   * ({@link Refine#refinedBox}) analysed again on its own landmark box, at most
   * {@code refinePasses} times ({@code REFINE_PASSES}). For the faces of detector boxes
   * ({@link #analyzeDetections}) and of the previous frame's landmark boxes
   * ({@code FaceTrackingSession}: a face that moved far enough for that crop to cut it).
   *
   * @return a new list, the faces in the same order
   */
  public List<Face> refine(RgbImage image, List<Face> faces) {
    List<Face> out = new ArrayList<>(faces);
    if (!refine) {
      return out;
    }
    long t0 = System.nanoTime();
    for (int i = 0; i < out.size(); i++) {
      for (int pass = 0; pass < refinePasses; pass++) {
        Face f = out.get(i);
        float[] box = Refine.refinedBox(f, refineMinConfidence, refineIou, image.width, image.height);
        if (box == null) {
          break;
        }
        out.set(i, analyzer.analyzeBox(image, box, f.detection, f.score));
      }
    }
    landmarkNanos += System.nanoTime() - t0;
    return out;
  }

  /**
   * One face per person, the first of each kept ({@link CandidateCheck#withoutRepeats}, Python's
   * {@code distinct_faces(..., by_confidence=False)}): boxes the refinement took onto one face.
   */
  public List<Face> distinct(List<Face> faces) {
    return CandidateCheck.withoutRepeats(faces,
        check != null ? check.sameFaceIou : CandidateCheck.SAME_FACE_IOU);
  }

  /** Analyse given landmark boxes (e.g. from the previous frame's landmarks when tracking). */
  public List<Face> analyzeBoxes(RgbImage image, List<float[]> boxes) {
    return analyzeBoxes(image, boxes, null);
  }

  /**
   * As above with the scores to report per box (null: 1). Boxes with no finite area or
   * entirely outside the image are skipped (Python's {@code analyze_boxes}: nothing of a face
   * can be seen there), so the result may be shorter than {@code boxes}.
   */
  public List<Face> analyzeBoxes(RgbImage image, List<float[]> boxes, float[] scores) {
    long t0 = System.nanoTime();
    List<Face> faces = new ArrayList<>();
    for (int i = 0; i < boxes.size(); i++) {
      if (Refine.inImage(boxes.get(i), image.width, image.height)) {
        faces.add(analyzer.analyzeBox(image, boxes.get(i), null, scores == null ? 1f : scores[i]));
      }
    }
    landmarkNanos = System.nanoTime() - t0;
    return faces;
  }

  public BoxMapping mapping(String source) {
    BoxMapping m = mappings.get(source);
    return m == null ? BoxMapping.IDENTITY : m;
  }

  /** How many images ran the candidate check (for tests and benchmarks). */
  public int checksRun() {
    return checksRun;
  }

  /** How many {@link #detect} calls ran the zoom-out pass (for tests and benchmarks). */
  public int zoomOutsRun() {
    return zoomOutsRun;
  }

  /** Wall time of the last {@link #detect} call, milliseconds. */
  public double lastDetectMillis() {
    return detectNanos / 1e6;
  }

  /** Wall time of the last landmark pass (all faces), milliseconds. */
  public double lastLandmarkMillis() {
    return landmarkNanos / 1e6;
  }

  private static boolean finite(float[] b) {
    for (float v : b) {
      if (!Float.isFinite(v)) {
        return false;
      }
    }
    return true;
  }
}
