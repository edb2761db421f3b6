package org.lponet.demo.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.lponet.core.BlazeFace;
import org.lponet.core.Face;
import org.lponet.core.FaceTracker;
import org.lponet.core.Refine;
import org.lponet.core.RgbImage;
import org.lponet.core.Rotations;

/**
 * Camera mode: Python's {@code FaceAnalyzer.track} ({@code lponet_tf.inference.video
 * .TrackingSession}, MediaPipe's VIDEO mode in outline), step for step.
 *
 * <ul>
 *   <li>Detection reuse: the detector runs on the first frame, at least every
 *       {@code detectEvery} frames, and whenever a tracked face is lost; in between a face's box
 *       is the tight box of its previous landmarks (the box the network's crops are made of);
 *       a face whose new landmarks disagree with that box (it moved) is analysed again on them
 *       ({@link FacePipeline#refine}, Python's {@code refine_faces}) before the loss test;
 *       two tracked faces that end on one face are one ({@link FacePipeline#distinct}: the one
 *       whose landmarks stayed on its crop keeps it). A face that moved the same way on its last
 *       three frames is cropped where that motion puts it now (5% to 50% of its width, not onto
 *       another face), so a face moving steadily needs no second look.
 *   <li>Second looks: while no face is tracked, a frame in which the detector's first pass finds
 *       nothing gets the zoom-out pass on the first such frame and then on one in
 *       {@code zoomOutEvery}; after unsure first-pass faces it always runs. The candidate check
 *       (the network's look at the detector's low-score candidates when it finds nothing)
 *       runs, while no face is tracked, on the first frame in which the detector finds nothing
 *       and then on one such frame in {@code candidateCheckEvery}.
 *   <li>Loss: a reused face whose mean landmark score drops below
 *       {@code minTrackingConfidence}, or whose landmarks collapse, is dropped.
 *   <li>Merging on detection frames: a tracked face a detection confirms (IoU >= 0.5) is kept,
 *       one that drifted is replaced by the detection, unmatched detections are added.
 *   <li>Identity and smoothing: a face followed from the previous frame keeps its track (and so
 *       does a detection that replaces it); {@link FaceTracker} matches the others by box IoU
 *       (One-Euro on landmarks and rotation). The next frame's boxes come from the raw
 *       landmarks, so smoothing never makes the crop lag.
 * </ul>
 *
 * Plain Java, compared with Python on a real image sequence by the JVM tests.
 */
public final class FaceTrackingSession {
  static final float SAME_FACE_IOU = 0.3f, AGREE_IOU = 0.5f, MIN_FACE_SIDE = 4f;
  /**
   * A followed face moving steadily is cropped where its motion puts it now, when that is at
   * least {@code AHEAD_MIN} of its box's width (a still face's jitter is below it) and at most
   * {@code AHEAD_MAX}; steadily: its last two motions within {@code STEADY_DEG} degrees
   * (Python's {@code _AHEAD_MIN}, {@code _AHEAD_MAX}, {@code _STEADY_DEG}).
   */
  static final double AHEAD_MIN = 0.05, AHEAD_MAX = 0.5, STEADY_DEG = 60.0;

  /** One face of one frame: the analysis plus the track id and the smoothed values. */
  public static final class Tracked {
    public final Face face;
    public final int trackId;
    public final float[][] landmarks;
    public final double[] rotation;
    public final double[] euler;

    Tracked(Face face, int trackId, float[][] landmarks, double[] rotation, double[] euler) {
      this.face = face;
      this.trackId = trackId;
      this.landmarks = landmarks;
      this.rotation = rotation;
      this.euler = euler;
    }
  }

  private final FacePipeline pipeline;
  private final int detectEvery;
  private final int zoomOutEvery;
  private final int candidateCheckEvery;
  private final float minTrackingConfidence;
  private final boolean smoothing;
  private FaceTracker tracker = new FaceTracker();
  private List<Face> previous = new ArrayList<>();
  /** The track id of each face of {@link #previous}. */
  private List<Integer> previousIds = new ArrayList<>();
  /** Per track id: {t, cx, cy} of its landmark box on its last frame. */
  private Map<Integer, double[]> centres = new HashMap<>();
  /** Per track id: its velocity {vx, vy} (px / s), when followed on its last two frames. */
  private Map<Integer, double[]> velocities = new HashMap<>();
  /** The track ids moving steadily. */
  private Set<Integer> steady = new HashSet<>();
  private Integer framesSinceDetection;
  private double lastT = Double.NaN;
  private int detectionsRun;
  private int facelessFrames;

  public FaceTrackingSession(
      FacePipeline pipeline, int detectEvery, int zoomOutEvery, int candidateCheckEvery,
      float minTrackingConfidence, boolean smoothing) {
    if (detectEvery < 1 || zoomOutEvery < 1 || candidateCheckEvery < 1) {
      throw new IllegalArgumentException("detectEvery, zoomOutEvery and candidateCheckEvery must be >= 1");
    }
    this.pipeline = pipeline;
    this.detectEvery = detectEvery;
    this.zoomOutEvery = zoomOutEvery;
    this.candidateCheckEvery = candidateCheckEvery;
    this.minTrackingConfidence = minTrackingConfidence;
    this.smoothing = smoothing;
  }

  /** How many frames ran the detector. */
  public int detectionsRun() {
    return detectionsRun;
  }

  /** Start a new video (camera switched, app resumed). */
  public void reset() {
    tracker = new FaceTracker();
    previous = new ArrayList<>();
    previousIds = new ArrayList<>();
    centres = new HashMap<>();
    velocities = new HashMap<>();
    steady = new HashSet<>();
    framesSinceDetection = null;
    lastT = Double.NaN;
    detectionsRun = 0;
    facelessFrames = 0;
  }

  /**
   * Whether {@link #step} takes a frame at {@code timestampMs}: finite and after the previous
   * frame's. A caller whose clock restarted (camera rebound) {@link #reset}s first, rather than
   * treating every {@code IllegalArgumentException} of {@code step} as a clock problem.
   */
  public boolean accepts(double timestampMs) {
    double t = timestampMs / 1000.0;
    return Double.isFinite(t) && (Double.isNaN(lastT) || t > lastT);
  }

  /**
   * Faces of one frame taken at {@code timestampMs} (strictly increasing).
   *
   * @throws IllegalArgumentException a timestamp {@link #accepts} refuses
   */
  public List<Tracked> step(RgbImage frame, double timestampMs) {
    double t = timestampMs / 1000.0;
    if (!Double.isFinite(t) || (!Double.isNaN(lastT) && !(t > lastT))) {
      throw new IllegalArgumentException("timestamps must be finite and strictly increase");
    }
    lastT = t;
    boolean due = framesSinceDetection == null || previous.isEmpty()
        || framesSinceDetection + 1 >= detectEvery;
    List<Face> faces = new ArrayList<>();
    List<Integer> ids = new ArrayList<>(); // the track each face continues (null: none)
    if (!previous.isEmpty()) {
      List<float[]> boxes = new ArrayList<>();
      List<Integer> followedIds = new ArrayList<>();
      float[] scores = new float[previous.size()];
      List<float[]> crops = cropBoxesNow(t), expected = expectedBoxes(t), followedExpected = new ArrayList<>();
      for (int i = 0; i < previous.size(); i++) {
        float[] box = crops.get(i);
        if (Refine.inImage(box, frame.width, frame.height)) { // analyzeBoxes skips the others
          scores[boxes.size()] = previous.get(i).score;
          boxes.add(box);
          followedIds.add(previousIds.get(i));
          followedExpected.add(expected.get(i));
        }
      }
      // a face that moved is cut by last frame's box: re-cropped on its new landmarks (as a
      // detector box is) before it is judged
      List<Face> analysed = pipeline.refine(frame, pipeline.analyzeBoxes(frame, boxes, scores));
      List<float[]> faceExpected = new ArrayList<>();
      for (int k = 0; k < analysed.size(); k++) {
        if (stillAFace(analysed.get(k))) {
          faces.add(analysed.get(k));
          ids.add(followedIds.get(k));
          faceExpected.add(followedExpected.get(k));
        }
      }
      // one face per person, as in findFaces: the refinement may take a weak track beside a
      // face (a half face, a face passing behind another) onto that face; of two, the one that
      // ended where its track was expected keeps the face (its track was on it), in their order
      List<Face> kept = onePerPerson(faces, faceExpected);
      ids = idsOf(kept, faces, ids);
      faces = kept;
      due = due || faces.size() < previous.size();
    }
    // a face lost a moment ago (behind another, out of the frame) is looked for on every frame
    // while its track lives, so that it keeps its id when it comes back; these looks leave the
    // detectEvery schedule as it was
    boolean looking = !due && tracker.missing() > 0;
    List<Face> moved = new ArrayList<>(faces); // followed faces: their change of place is motion
    if (due || looking) {
      boolean zoom = !previous.isEmpty() || facelessFrames % zoomOutEvery == 0;
      // the candidate check only where no face is tracked (the merge keeps a missed tracked face)
      boolean check = previous.isEmpty() && facelessFrames % candidateCheckEvery == 0;
      faces = merge(faces, pipeline.findFaces(frame, zoom, check), ids);
      framesSinceDetection = looking ? framesSinceDetection + 1 : 0;
      detectionsRun++;
    } else {
      framesSinceDetection++;
    }
    if (faces.size() > pipeline.maxFaces) {
      faces = new ArrayList<>(faces.subList(0, pipeline.maxFaces));
      ids = new ArrayList<>(ids.subList(0, pipeline.maxFaces));
    }
    List<float[]> boxes = new ArrayList<>();
    List<float[][]> lms = new ArrayList<>();
    List<double[]> rots = new ArrayList<>();
    for (Face f : faces) {
      boxes.add(landmarkBox(f.landmarks));
      lms.add(f.landmarks);
      rots.add(f.rotation);
    }
    List<FaceTracker.Tracked> snaps = tracker.update(boxes, t, lms, rots, ids);
    facelessFrames = previous.isEmpty() ? facelessFrames + 1 : 0;
    rememberMotion(faces, snaps, moved, t);
    previous = faces;
    previousIds = new ArrayList<>();
    for (FaceTracker.Tracked s : snaps) {
      previousIds.add(s.trackId);
    }
    List<Tracked> out = new ArrayList<>();
    for (int i = 0; i < faces.size(); i++) {
      Face f = faces.get(i);
      FaceTracker.Tracked s = snaps.get(i);
      if (smoothing) {
        out.add(new Tracked(f, s.trackId, s.landmarks, s.rotation, Rotations.matrixToEuler(s.rotation)));
      } else {
        out.add(new Tracked(f, s.trackId, f.landmarks, f.rotation, f.euler));
      }
    }
    return out;
  }

  private boolean stillAFace(Face f) {
    for (float[] p : f.landmarks) {
      if (!Float.isFinite(p[0]) || !Float.isFinite(p[1])) {
        return false;
      }
    }
    if (f.confidence() < minTrackingConfidence) {
      return false;
    }
    float[] b = landmarkBox(f.landmarks);
    return Math.min(b[2] - b[0], b[3] - b[1]) >= MIN_FACE_SIDE;
  }

  /**
   * The boxes to crop the previous frame's faces on at time {@code t}: each one's landmark box,
   * moved on by its velocity when it moves steadily and that moves it {@code AHEAD_MIN} to
   * {@code AHEAD_MAX} of the box's width, unless the moved box would overlap another face's box
   * (moved or not) (Python's {@code TrackingSession._crop_boxes_now}).
   */
  private List<float[]> cropBoxesNow(double t) {
    int n = previous.size();
    List<float[]> last = new ArrayList<>(), ahead = expectedBoxes(t);
    boolean[] moves = new boolean[n];
    for (int i = 0; i < n; i++) {
      last.add(landmarkBox(previous.get(i).landmarks));
      moves[i] = shiftNow(previousIds.get(i), last.get(i), t) != null;
    }
    List<float[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      float[] box = ahead.get(i);
      for (int j = 0; moves[i] && j < n; j++) {
        if (j != i && (Refine.iou(box, last.get(j)) > 0 || Refine.iou(box, ahead.get(j)) > 0)) {
          box = last.get(i); // not onto another face
        }
      }
      out.add(box);
    }
    return out;
  }

  /**
   * Where the followed faces are expected at {@code t}: each one's landmark box on its last
   * frame, moved on as {@link #shiftNow} says, whether or not it is cropped there (Python's
   * {@code TrackingSession._expected_boxes}).
   */
  private List<float[]> expectedBoxes(double t) {
    List<float[]> out = new ArrayList<>();
    for (int i = 0; i < previous.size(); i++) {
      float[] box = landmarkBox(previous.get(i).landmarks);
      double[] shift = shiftNow(previousIds.get(i), box, t);
      out.add(shift == null ? box : new float[] {(float) (box[0] + shift[0]),
          (float) (box[1] + shift[1]), (float) (box[2] + shift[0]), (float) (box[3] + shift[1])});
    }
    return out;
  }

  /** {dx, dy} a steadily moving face has moved since its last frame, or null. */
  private double[] shiftNow(Integer trackId, float[] box, double t) {
    if (trackId == null || !steady.contains(trackId)) {
      return null;
    }
    double[] v = velocities.get(trackId);
    double dt = t - centres.get(trackId)[0];
    double sx = v[0] * dt, sy = v[1] * dt;
    double share = Math.hypot(sx, sy) / Math.max((double) (box[2] - box[0]), 1e-6);
    return share >= AHEAD_MIN && share <= AHEAD_MAX ? new double[] {sx, sy} : null;
  }

  /**
   * Each track's landmark-box centre at {@code t}, its velocity where the face was followed (in
   * {@code moved}: a detection that replaced a drifted face jumped, it did not move), and whether
   * it moved steadily: its last two velocities within {@code STEADY_DEG} degrees.
   */
  private void rememberMotion(List<Face> faces, List<FaceTracker.Tracked> snaps, List<Face> moved,
      double t) {
    Map<Integer, double[]> c = new HashMap<>(), v = new HashMap<>();
    Set<Integer> s = new HashSet<>();
    double cosSteady = Math.cos(Math.toRadians(STEADY_DEG));
    for (int i = 0; i < faces.size(); i++) {
      Face f = faces.get(i);
      int id = snaps.get(i).trackId;
      float[] b = landmarkBox(f.landmarks);
      double cx = ((double) b[0] + b[2]) / 2.0, cy = ((double) b[1] + b[3]) / 2.0;
      double[] last = centres.get(id), before = velocities.get(id);
      boolean followed = false;
      for (Face m : moved) {
        followed |= m == f;
      }
      if (last != null && followed) {
        double[] vel = {(cx - last[1]) / (t - last[0]), (cy - last[2]) / (t - last[0])};
        v.put(id, vel);
        if (before != null && vel[0] * before[0] + vel[1] * before[1]
            >= cosSteady * Math.hypot(vel[0], vel[1]) * Math.hypot(before[0], before[1])) {
          s.add(id);
        }
      }
      c.put(id, new double[] {t, cx, cy});
    }
    centres = c;
    velocities = v;
    steady = s;
  }

  /**
   * {@code faces} without the ones another kept face repeats ({@link FacePipeline#distinct}),
   * trying them in order of how well their landmarks stay where their track was expected (the
   * face whose track was on it first), kept in their order (Python's {@code _one_face_per_person}).
   */
  private List<Face> onePerPerson(List<Face> faces, List<float[]> crops) {
    List<Integer> order = new ArrayList<>();
    float[] onCrop = new float[faces.size()];
    for (int i = 0; i < faces.size(); i++) {
      order.add(i);
      onCrop[i] = Refine.iou(landmarkBox(faces.get(i).landmarks), crops.get(i));
    }
    order.sort((a, b) -> Float.compare(onCrop[b], onCrop[a])); // stable: ties keep their order
    List<Face> tried = new ArrayList<>();
    for (int i : order) {
      tried.add(faces.get(i));
    }
    List<Face> kept = pipeline.distinct(tried), out = new ArrayList<>();
    for (Face f : faces) {
      for (Face k : kept) {
        if (k == f) {
          out.add(f);
          break;
        }
      }
    }
    return out;
  }

  /** The ids of {@code kept}, a sub-list of {@code faces} (the same objects), from {@code ids}. */
  private static List<Integer> idsOf(List<Face> kept, List<Face> faces, List<Integer> ids) {
    List<Integer> out = new ArrayList<>();
    for (Face f : kept) {
      for (int i = 0; i < faces.size(); i++) {
        if (faces.get(i) == f) {
          out.add(ids.get(i));
          break;
        }
      }
    }
    return out;
  }

  /** Tight box of the finite landmarks (Python's {@code landmark_box}). */
  public static float[] landmarkBox(float[][] pts) {
    float[] b = Refine.landmarkBox(pts);
    // No finite landmark: an empty box (no area), which analyzeBoxes skips.
    return b != null ? b : new float[] {Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
  }

  /**
   * Tracked faces corrected or completed by a detection frame's faces: a detection is the same
   * face as a tracked one when IoU >= 0.3 or its centre is inside the tracked box; the tracked
   * face is kept when they agree (IoU >= 0.5), else replaced when the detection's face has the
   * higher confidence (mean landmark score); unmatched detections are added;
   * tracked faces no detection matches are kept.
   *
   * @param ids the track id of each tracked face; on return, of each face returned (a
   *     detection that replaces a tracked face continues its track; an added one has none)
   */
  static List<Face> merge(List<Face> tracked, List<Face> detected, List<Integer> ids) {
    if (tracked.isEmpty() || detected.isEmpty()) {
      for (int k = 0; tracked.isEmpty() && k < detected.size(); k++) {
        ids.add(null);
      }
      return tracked.isEmpty() ? detected : tracked;
    }
    int nd = detected.size(), nt = tracked.size();
    float[][] iou = new float[nd][nt];
    boolean[][] same = new boolean[nd][nt];
    float[] best = new float[nd];
    for (int d = 0; d < nd; d++) {
      float[] db = detected.get(d).faceBox;
      float cx = (db[0] + db[2]) / 2, cy = (db[1] + db[3]) / 2;
      best[d] = Float.NEGATIVE_INFINITY;
      for (int k = 0; k < nt; k++) {
        float[] tb = tracked.get(k).faceBox;
        iou[d][k] = BlazeFace.iou(db, tb);
        boolean inside = cx >= tb[0] && cy >= tb[1] && cx <= tb[2] && cy <= tb[3];
        same[d][k] = iou[d][k] >= SAME_FACE_IOU || inside;
        best[d] = Math.max(best[d], iou[d][k]);
      }
    }
    Integer[] order = new Integer[nd];
    for (int d = 0; d < nd; d++) {
      order[d] = d;
    }
    Arrays.sort(order, (a, b) -> Float.compare(best[b], best[a])); // most certain first
    List<Face> result = new ArrayList<>(tracked);
    List<Face> added = new ArrayList<>();
    Set<Integer> used = new HashSet<>();
    for (int d : order) {
      int pick = -1;
      for (int k = 0; k < nt; k++) {
        if (same[d][k] && !used.contains(k) && (pick < 0 || iou[d][k] > iou[d][pick])) {
          pick = k;
        }
      }
      if (pick < 0) {
        added.add(detected.get(d));
        continue;
      }
      used.add(pick);
      // the same face, drifted: the detection's reading replaces it when it is the surer one
      // (a detection box across two overlapping faces reads neither well)
      if (iou[d][pick] < AGREE_IOU && detected.get(d).confidence() > tracked.get(pick).confidence()) {
        result.set(pick, detected.get(d));
      }
    }
    result.addAll(added);
    for (int k = 0; k < added.size(); k++) {
      ids.add(null);
    }
    return result;
  }
}
