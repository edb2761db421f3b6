package org.lponet.desktop;

import static org.junit.jupiter.api.Assertions.fail;
import static org.lponet.core.Goldens.*;

import java.util.List;

/**
 * Landmarks vs Python's, where the decoding itself may be ill-conditioned.
 *
 * <p>The top-2 refined argmax jumps by up to a heatmap cell (several image pixels) when the
 * second and third highest cells swap order; when two cells are tied within a fraction of a
 * unit (tests/jvm_goldens.py's TIE_MARGIN), a grey level of resampling difference decides
 * the order. Python's golden lists, per landmark, every position its decoding takes for any
 * order of such near-tied cells ("alternatives", empty for a well-posed landmark). A Java
 * landmark must be within {@link #LANDMARK_PX} of Python's landmark or of one of these
 * alternatives: nowhere else, however close.
 */
final class LandmarkMatch {
  /** Landmark tolerance (image pixels). Measured: 2e-3 px, with OpenCV 5.0 and 5.1 goldens. */
  static final float LANDMARK_PX = 0.1f;

  private LandmarkMatch() {}

  /**
   * Which reference each landmark matched: -1 Python's landmark, {@code j >= 0} its alternative
   * {@code j} ({@code alternatives.get(k).get(j) = [x, y, visibility]}). Fails naming the first
   * landmark that matches none.
   */
  static int[] match(float[][] expected, List<Object> alternatives, float[][] got, String what) {
    if (expected.length != got.length || alternatives.size() != got.length) {
      fail(what + ": " + got.length + " landmarks, Python has " + expected.length);
    }
    int[] which = new int[got.length];
    for (int k = 0; k < got.length; k++) {
      double best = dist(expected[k], got[k]);
      which[k] = -1;
      List<Object> alts = list(alternatives.get(k));
      for (int j = 0; j < alts.size() && best > LANDMARK_PX; j++) {
        double d = dist(floats(alts.get(j)), got[k]);
        if (d <= LANDMARK_PX) {
          best = d;
          which[k] = j;
        }
      }
      if (best > LANDMARK_PX) {
        fail(what + ": landmark " + k + " is " + (float) best + " px from Python's ("
            + expected[k][0] + ", " + expected[k][1] + ") and matches none of its " + alts.size()
            + " near-tie alternatives");
      }
    }
    return which;
  }

  /** Largest distance (px) of landmarks that matched Python's own landmark. */
  static double worstDirect(float[][] expected, float[][] got, int[] which) {
    double worst = 0;
    for (int k = 0; k < got.length; k++) {
      if (which[k] < 0) {
        worst = Math.max(worst, dist(expected[k], got[k]));
      }
    }
    return worst;
  }

  /** Indices of the landmarks that took an alternative. */
  static String tookAlternative(int[] which) {
    StringBuilder b = new StringBuilder();
    for (int k = 0; k < which.length; k++) {
      if (which[k] >= 0) {
        b.append(b.length() == 0 ? "" : ", ").append(k);
      }
    }
    return b.toString();
  }

  static double dist(float[] a, float[] b) {
    return Math.hypot(a[0] - b[0], a[1] - b[1]);
  }
}
