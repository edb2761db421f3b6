package org.lponet.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The rule of Python's {@code lponet_tf.inference.candidate_check} (on by default): when the
 * detector finds no face in an image, the BlazeFace back model's ({@code model}: its index among
 * the detector's models, the primary of the default detector) best {@code maxCandidates}
 * detections down to {@code candidateScore} are analysed like detections, and a face is kept
 * when the network sees a confident, partly hidden face: mean landmark score at least
 * {@code minConfidence} and mean visibility below {@code maxVisible} (a masked face the
 * detector scored too low). Two kept candidates whose landmark boxes overlap by
 * {@code sameFaceIou} are one face (the more confident is kept). The app reads the constants
 * from the sidecar; the caller (the app's engine) runs the models.
 */
public final class CandidateCheck {
  /** Python's {@code candidate_check.SAME_FACE_IOU}: the detector's faces are one face above it. */
  public static final double SAME_FACE_IOU = 0.5;

  public final double candidateScore, minConfidence, maxVisible, sameFaceIou;
  public final int model, maxCandidates;

  public CandidateCheck(int model, double candidateScore, int maxCandidates, double minConfidence,
      double maxVisible, double sameFaceIou) {
    for (double v : new double[] {candidateScore, minConfidence, maxVisible, sameFaceIou}) {
      if (!(v >= 0 && v <= 1)) {
        throw new IllegalArgumentException("candidate-check constants must be in [0, 1]");
      }
    }
    if (maxCandidates < 1 || model < 0) {
      throw new IllegalArgumentException(
          "maxCandidates must be >= 1 and model >= 0, got " + maxCandidates + ", " + model);
    }
    this.model = model;
    this.candidateScore = candidateScore;
    this.maxCandidates = maxCandidates;
    this.minConfidence = minConfidence;
    this.maxVisible = maxVisible;
    this.sameFaceIou = sameFaceIou;
  }

  /** The best {@code maxCandidates} of the candidate model's detections, best score first. */
  public List<Detection> candidates(List<Detection> decoded) {
    List<Detection> sorted = new ArrayList<>(decoded);
    sorted.sort(Comparator.comparingDouble(d -> -d.score));
    return sorted.size() > maxCandidates ? new ArrayList<>(sorted.subList(0, maxCandidates)) : sorted;
  }

  /** Whether an analysed candidate is kept (finite landmarks, confident, partly hidden). */
  public boolean accepts(Face face) {
    for (float[] p : face.landmarks) {
      if (!Float.isFinite(p[0]) || !Float.isFinite(p[1])) {
        return false;
      }
    }
    double visible = 0;
    for (float v : face.visibility) {
      visible += v;
    }
    return face.confidence() >= minConfidence && visible / face.visibility.length < maxVisible;
  }

  /** The kept faces, most confident first, without repeats of one face. */
  public List<Face> distinct(List<Face> faces) {
    List<Face> sorted = new ArrayList<>();
    for (Face f : faces) {
      if (accepts(f)) {
        sorted.add(f);
      }
    }
    sorted.sort(Comparator.comparingDouble(f -> -f.confidence()));
    return withoutRepeats(sorted, sameFaceIou);
  }

  /**
   * {@code faces} in their order, without any whose landmark box overlaps an earlier kept one's
   * by {@code sameFaceIou} or more, or has its centre inside it (Python's {@code
   * distinct_faces(..., by_confidence=False)}):
   * the detector's whole-face box and its box on the lower half of a close-up face, which the
   * refinement takes onto the same face.
   */
  public static List<Face> withoutRepeats(List<Face> faces, double sameFaceIou) {
    List<float[][]> landmarks = new ArrayList<>();
    for (Face f : faces) {
      landmarks.add(f.landmarks);
    }
    List<Face> kept = new ArrayList<>();
    for (int i : distinctIndices(landmarks, sameFaceIou)) {
      kept.add(faces.get(i));
    }
    return kept;
  }

  /** The indices {@link #withoutRepeats} keeps, from the faces' landmarks. */
  public static List<Integer> distinctIndices(List<float[][]> landmarks, double sameFaceIou) {
    List<Integer> kept = new ArrayList<>();
    for (int i = 0; i < landmarks.size(); i++) {
      float[] box = Refine.landmarkBox(landmarks.get(i));
      boolean repeat = false;
      for (int k : kept) {
        float[] other = Refine.landmarkBox(landmarks.get(k));
        repeat |= Refine.iou(box, other) >= sameFaceIou
            || ConfirmedDetection.centreInside(box, other);
      }
      if (!repeat) {
        kept.add(i);
      }
    }
    return kept;
  }
}
