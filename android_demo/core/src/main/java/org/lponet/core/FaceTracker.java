package org.lponet.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Video smoothing for several faces ({@code lponet_tf.inference.smoothing.Tracker}): a face
 * given the id of a live track (the caller followed it from that track's last face) continues
 * it; the other faces are matched to the remaining live tracks by the assignment of maximum
 * total box IoU against each track's last raw box (pairs below {@code iouThreshold} do not
 * match); a matched face is smoothed by its
 * track's One-Euro filters (box, landmarks, rotation); an unmatched face starts a new track
 * (unsmoothed on its first frame); a track unmatched for more than {@code maxMissed}
 * consecutive frames is dropped.
 *
 * <p>The assignment is exact at any number of faces and tracks: {@link Assignment}, the
 * shortest augmenting path solver of scipy's {@code linear_sum_assignment}, on the same float32
 * IoUs and with scipy's tie rules, so tied overlaps give Python's ids (O(n^2 m) per frame).
 */
public final class FaceTracker {
  /** Box filter parameters: Python's BOX_DEFAULTS (checked by the JVM tests). */
  public static final double BOX_MIN_CUTOFF = 0.3, BOX_BETA = 16.0, BOX_D_CUTOFF = 1.0;

  /** One face of one frame after smoothing. */
  public static final class Tracked {
    public final int trackId;
    public final float[] box;
    /** Null when the frame gave no landmarks for this face. */
    public final float[][] landmarks;
    /** Null when the frame gave no rotation for this face. */
    public final double[] rotation;
    public final boolean isNew;
    public final int age;

    Tracked(int trackId, float[] box, float[][] landmarks, double[] rotation, boolean isNew, int age) {
      this.trackId = trackId;
      this.box = box;
      this.landmarks = landmarks;
      this.rotation = rotation;
      this.isNew = isNew;
      this.age = age;
    }
  }

  private static final class Track {
    final int id;
    final OneEuroFilter boxFilter;
    final LandmarkFilter landmarkFilter;
    final RotationFilter rotationFilter;
    float[] rawBox;
    float[] box;
    float[][] landmarks;
    double[] rotation;
    int age = -1;
    int missed;
    double seenAt; // time of rawBox
    double[] velocity; // of rawBox's centre, px / s; null until seen twice

    /** The track's raw box at {@code now}, and its centre's velocity from the last one. */
    void see(float[] b, double now) {
      if (rawBox != null) {
        double dt = now - seenAt;
        double[] step = {
          (((double) b[0] + b[2]) - ((double) rawBox[0] + rawBox[2])) / 2.0 / dt,
          (((double) b[1] + b[3]) - ((double) rawBox[1] + rawBox[3])) / 2.0 / dt
        };
        // averaged with the last: a face being hidden has a few noisy boxes
        velocity =
            velocity == null
                ? step
                : new double[] {(step[0] + velocity[0]) / 2.0, (step[1] + velocity[1]) / 2.0};
      }
      rawBox = b.clone();
      seenAt = now;
    }

    /**
     * IoU of {@code b} with the track at {@code now}: with its last raw box, or, while it is
     * missed, with that box or the box its velocity puts it in now, whichever is more (a face
     * hidden behind another goes on moving; a face the detector missed stayed).
     */
    float overlap(float[] b, double now) {
      float iou = BlazeFace.iou(b, rawBox);
      if (missed == 0 || velocity == null) {
        return iou;
      }
      double dx = velocity[0] * (now - seenAt), dy = velocity[1] * (now - seenAt);
      float[] moved = {
        (float) (rawBox[0] + dx), (float) (rawBox[1] + dy),
        (float) (rawBox[2] + dx), (float) (rawBox[3] + dy)
      };
      return Math.max(iou, BlazeFace.iou(b, moved));
    }

    Track(int id, double frequency) {
      this.id = id;
      boxFilter =
          new OneEuroFilter(
              BOX_MIN_CUTOFF, BOX_BETA, BOX_D_CUTOFF, OneEuroFilter.Speed.NORM, 4, frequency);
      landmarkFilter = new LandmarkFilter(LandmarkFilter.MIN_CUTOFF, LandmarkFilter.BETA, LandmarkFilter.D_CUTOFF, frequency);
      rotationFilter = new RotationFilter(RotationFilter.MIN_CUTOFF, RotationFilter.BETA, RotationFilter.D_CUTOFF, frequency);
    }
  }

  private final double iouThreshold;
  private final int maxMissed;
  private final double frequency;
  private List<Track> tracks = new ArrayList<>();
  private int nextId = 1;
  private double t;
  private boolean started;

  public FaceTracker() {
    this(0.3, 5, 30.0);
  }

  public FaceTracker(double iouThreshold, int maxMissed, double frequency) {
    if (!(iouThreshold >= 0 && iouThreshold <= 1)) {
      throw new IllegalArgumentException("iouThreshold must be in [0, 1]");
    }
    if (maxMissed < 0) {
      throw new IllegalArgumentException("maxMissed must be >= 0");
    }
    this.iouThreshold = iouThreshold;
    this.maxMissed = maxMissed;
    this.frequency = frequency;
  }

  /** Drop every track (scene cut, camera switch). */
  public void reset() {
    tracks = new ArrayList<>();
    nextId = 1;
    started = false;
  }

  /**
   * Add one frame's faces; returns one result per input face, in order.
   *
   * <p>All inputs are checked before any state changes (as Python's {@code Tracker.update}
   * checks the boxes first): a refused call leaves the tracker as it was, so the same frame
   * may be given again with the same timestamp.
   *
   * @param boxes {@code (N, 4)} boxes
   * @param timestamp seconds, strictly increasing; NaN = previous + 1/frequency
   * @param landmarks N landmark sets (or null entries / null list)
   * @param rotations N row-major rotations (or null entries / null list)
   * @throws IllegalArgumentException a non-finite box, landmark or rotation, a box not of 4
   *     values, fewer than 2 landmarks or a landmark count that differs from the matched
   *     track's, lengths that disagree, or a timestamp that does not increase
   */
  public List<Tracked> update(
      List<float[]> boxes, double timestamp, List<float[][]> landmarks, List<double[]> rotations) {
    return update(boxes, timestamp, landmarks, rotations, null);
  }

  /**
   * {@link #update(List, double, List, List)} with the track each face was followed from.
   *
   * @param trackIds N ids, {@code null} entries (or a null list) for faces not followed from a
   *     track; an id of a track that has ended is ignored (that face is matched by IoU)
   * @throws IllegalArgumentException as the other overload, or an id given to two faces
   */
  public List<Tracked> update(
      List<float[]> boxes, double timestamp, List<float[][]> landmarks, List<double[]> rotations,
      List<Integer> trackIds) {
    int n = boxes.size();
    if (landmarks != null && landmarks.size() != n || rotations != null && rotations.size() != n
        || trackIds != null && trackIds.size() != n) {
      throw new IllegalArgumentException("landmarks / rotations / track ids must match the boxes");
    }
    if (trackIds != null) {
      java.util.Set<Integer> seen = new java.util.HashSet<>();
      for (Integer id : trackIds) {
        if (id != null && !seen.add(id)) {
          throw new IllegalArgumentException("a track id given to two faces: " + trackIds);
        }
      }
    }
    for (float[] b : boxes) {
      if (b.length != 4 || !finite(b)) {
        throw new IllegalArgumentException("boxes must be 4 finite values each (NaN or inf found)");
      }
    }
    for (int fi = 0; fi < n; fi++) {
      float[][] lm = landmarks == null ? null : landmarks.get(fi);
      if (lm != null) {
        if (lm.length < 2) {
          throw new IllegalArgumentException("need at least 2 landmarks");
        }
        for (float[] p : lm) {
          if (p.length != 2 || !finite(p)) {
            throw new IllegalArgumentException("landmarks must be finite (x, y) pairs");
          }
        }
      }
      if (rotations != null && rotations.get(fi) != null) {
        RotationFilter.check(rotations.get(fi));
      }
    }
    double now = nextTime(timestamp);
    int[] match = associate(boxes, trackIds, now); // face -> track index or -1; reads the tracks only
    for (int fi = 0; fi < n; fi++) {
      float[][] lm = landmarks == null ? null : landmarks.get(fi);
      float[][] had = match[fi] < 0 ? null : tracks.get(match[fi]).landmarks;
      if (lm != null && had != null && lm.length != had.length) {
        throw new IllegalArgumentException(
            "face " + fi + " has " + lm.length + " landmarks, its track " + had.length);
      }
    }
    // Nothing below throws for checked inputs: the state changes from here on.
    t = now;
    started = true;
    boolean[] matched = new boolean[tracks.size()];
    for (int m : match) {
      if (m >= 0) {
        matched[m] = true;
      }
    }
    for (int ti = 0; ti < tracks.size(); ti++) {
      if (!matched[ti]) {
        tracks.get(ti).missed++;
      }
    }
    Track[] assigned = new Track[n];
    for (int fi = 0; fi < n; fi++) {
      assigned[fi] = match[fi] >= 0 ? tracks.get(match[fi]) : null;
    }
    for (int fi = 0; fi < n; fi++) {
      if (assigned[fi] == null) {
        Track tr = new Track(nextId++, frequency);
        tracks.add(tr);
        assigned[fi] = tr;
      }
    }
    List<Tracked> out = new ArrayList<>();
    for (int fi = 0; fi < n; fi++) {
      Track tr = assigned[fi];
      float[] b = boxes.get(fi);
      tr.missed = 0;
      tr.age++;
      tr.see(b, now);
      // In double, as Python: a float product of a huge finite box would overflow to inf.
      double size = Math.sqrt(Math.max(((double) b[2] - b[0]) * ((double) b[3] - b[1]), 1.0));
      double[] fb = tr.boxFilter.filter(new double[] {b[0], b[1], b[2], b[3]}, now, size);
      tr.box = new float[] {(float) fb[0], (float) fb[1], (float) fb[2], (float) fb[3]};
      if (landmarks != null && landmarks.get(fi) != null) {
        tr.landmarks = tr.landmarkFilter.filter(landmarks.get(fi), now);
      }
      if (rotations != null && rotations.get(fi) != null) {
        tr.rotation = tr.rotationFilter.filter(rotations.get(fi), now);
      }
      out.add(new Tracked(tr.id, tr.box.clone(), tr.landmarks, tr.rotation, tr.age == 0, tr.age));
    }
    List<Track> keep = new ArrayList<>();
    for (Track tr : tracks) {
      if (tr.missed <= maxMissed) {
        keep.add(tr);
      }
    }
    tracks = keep;
    return out;
  }

  /**
   * Live tracks that no face continued on the last frame (faces lost a moment ago, still looked
   * for: {@link #update} drops them after {@code maxMissed} frames).
   */
  public int missing() {
    int n = 0;
    for (Track tr : tracks) {
      if (tr.missed > 0) {
        n++;
      }
    }
    return n;
  }

  private static boolean finite(float[] v) {
    for (float x : v) {
      if (!Float.isFinite(x)) {
        return false;
      }
    }
    return true;
  }

  /** The time of the next frame, checked; commits nothing. */
  private double nextTime(double timestamp) {
    if (Double.isNaN(timestamp)) {
      return started ? t + 1.0 / frequency : 0.0;
    }
    if (Double.isInfinite(timestamp)) {
      throw new IllegalArgumentException("timestamp must be finite");
    }
    if (started && !(timestamp > t)) {
      throw new IllegalArgumentException("timestamps must strictly increase");
    }
    return timestamp;
  }

  /**
   * face index -> track index (or -1): faces with the id of a live track to it, the others
   * maximising the total IoU of a complete matching with the remaining tracks (a missed
   * track's moved on by its motion: {@link Track#overlap}).
   */
  private int[] associate(List<float[]> boxes, List<Integer> trackIds, double now) {
    int[] res = new int[boxes.size()];
    java.util.Arrays.fill(res, -1);
    boolean[] taken = new boolean[tracks.size()];
    for (int i = 0; trackIds != null && i < res.length; i++) {
      for (int j = 0; trackIds.get(i) != null && j < tracks.size(); j++) {
        if (tracks.get(j).id == trackIds.get(i)) {
          res[i] = j;
          taken[j] = true;
        }
      }
    }
    List<Integer> faces = new ArrayList<>(), free = new ArrayList<>();
    for (int i = 0; i < res.length; i++) {
      if (res[i] < 0) {
        faces.add(i);
      }
    }
    for (int j = 0; j < tracks.size(); j++) {
      if (!taken[j]) {
        free.add(j);
      }
    }
    int n = faces.size(), m = free.size();
    if (n == 0 || m == 0) {
      return res;
    }
    float[][] iou = new float[n][m];
    double[][] cost = new double[n][m];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < m; j++) {
        iou[i][j] = tracks.get(free.get(j)).overlap(boxes.get(faces.get(i)), now);
        cost[i][j] = -iou[i][j];
      }
    }
    int[] best = Assignment.minimize(cost);
    for (int i = 0; i < n; i++) {
      int j = best[i];
      if (j >= 0 && iou[i][j] >= iouThreshold && iou[i][j] > 0) {
        res[faces.get(i)] = free.get(j);
      }
    }
    return res;
  }
}
