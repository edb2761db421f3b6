package org.lponet.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Supplier;

/**
 * The rule of Python's {@code lponet_tf.detection.confirm.ConfirmedDetector} (the default
 * detector, {@code blazeface_confirmed}): one BlazeFace model whose low-score detections are
 * kept only when a second model finds the same face (a mask or a hand lowers the score of a
 * real face; two models rarely fire on the same background patch). For an image whose longer
 * side is {@code L}:
 *
 * <ol>
 *   <li>the primary model's detections at its own threshold are kept when their score is at
 *       least {@code accept}, or their box is narrower than {@code smallFace * L};
 *   <li>every other primary detection down to {@code min(low, primary threshold)} that agrees
 *       with no kept one ({@link #boxesAgree}) is kept when the second model, decoded at {@code
 *       confirmThreshold}, has a detection that agrees with it and with no face kept in step 1;
 *       each such detection confirms one candidate (of those agreeing, the one it overlaps most,
 *       then the best scoring). The second model runs only when there is such a candidate.
 * </ol>
 *
 * Detections keep the primary's source (its box mapping applies). The models are run by the
 * caller (the app's engine); this class holds the constants and the selection.
 */
public final class ConfirmedDetection {
  /** {@code lponet_tf.detection.confirm.AGREE_IOU}. */
  public static final float AGREE_IOU = 0.3f;

  public final double accept, low, confirmThreshold, smallFace;

  public ConfirmedDetection(double accept, double low, double confirmThreshold, double smallFace) {
    for (double v : new double[] {accept, low, confirmThreshold, smallFace}) {
      if (!(v >= 0f && v <= 1f)) {
        throw new IllegalArgumentException("confirmed-detector constants must be in [0, 1]");
      }
    }
    this.accept = accept;
    this.low = low;
    this.confirmThreshold = confirmThreshold;
    this.smallFace = smallFace;
  }

  /**
   * Two boxes mark the same face: IoU at least {@link #AGREE_IOU}, or either box's centre
   * inside the other (edges included).
   */
  public static boolean boxesAgree(float[] a, float[] b) {
    if (Refine.iou(a, b) >= AGREE_IOU) {
      return true;
    }
    return centreInside(a, b) || centreInside(b, a);
  }

  /** Box {@code a}'s centre inside box {@code b}, edges included. */
  static boolean centreInside(float[] a, float[] b) {
    double cx = ((double) a[0] + a[2]) / 2, cy = ((double) a[1] + a[3]) / 2;
    return cx >= b[0] && cx <= b[2] && cy >= b[1] && cy <= b[3];
  }

  /**
   * The faces, best score first.
   *
   * @param sure the primary's detections at its own threshold
   * @param candidates the primary's detections (same inference) at {@code min(low, its
   *     threshold)}
   * @param second runs the second model and decodes it at {@link #confirmThreshold}; called
   *     only when some candidate needs confirming
   * @param longerSide the image's longer side {@code L}, pixels
   */
  public List<Detection> select(
      List<Detection> sure, List<Detection> candidates, Supplier<List<Detection>> second,
      int longerSide) {
    double limit = smallFace * longerSide;
    List<Detection> kept = new ArrayList<>();
    for (Detection d : sure) {
      if (d.score >= accept || d.width() < limit) {
        kept.add(d);
      }
    }
    List<Detection> rest = new ArrayList<>();
    for (Detection d : candidates) {
      boolean agrees = false;
      for (Detection k : kept) {
        agrees |= boxesAgree(d.box, k.box);
      }
      if (!agrees) {
        rest.add(d);
      }
    }
    if (!rest.isEmpty()) {
      // A second-model box is one face: one that agrees with a kept face confirms nothing
      // more (on a close-up it would vouch for an ear), and each confirms one candidate.
      List<Detection> other = new ArrayList<>();
      for (Detection s : second.get()) {
        boolean explained = false;
        for (Detection k : kept) {
          explained |= boxesAgree(s.box, k.box);
        }
        if (!explained) {
          other.add(s);
        }
      }
      boolean[] confirmed = new boolean[rest.size()];
      for (Detection s : other) {
        int best = -1;
        double bestIou = -1;
        for (int i = 0; i < rest.size(); i++) {
          Detection d = rest.get(i);
          if (confirmed[i] || !boxesAgree(d.box, s.box)) {
            continue;
          }
          double iou = Refine.iou(d.box, s.box);
          if (best < 0 || iou > bestIou || (iou == bestIou && d.score > rest.get(best).score)) {
            best = i;
            bestIou = iou;
          }
        }
        if (best >= 0) {
          confirmed[best] = true;
        }
      }
      for (int i = 0; i < rest.size(); i++) {
        if (confirmed[i]) {
          kept.add(rest.get(i));
        }
      }
    }
    kept.sort(Comparator.comparingDouble(d -> -d.score));
    return kept;
  }
}
