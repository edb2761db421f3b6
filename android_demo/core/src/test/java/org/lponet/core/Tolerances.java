package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What "the same" means where another library's numerics decide (OpenCV's resampling, whose
 * fixed-point rounding changed between releases: 5.1 moved some warp and area-shrink pixels of
 * 5.0 by one grey level).
 *
 * <p>Images: every value within {@link #MAX_GREY} grey level, and the mean difference at most
 * {@link #MEAN_GREY} (at most 5% of the values a level off). A rounding tie decided the other
 * way passes; a shifted grid, a wrong weight or a rounding rule off by half a level does not
 * (each moves most values, or some by several levels).
 */
public final class Tolerances {
  private Tolerances() {}

  public static final double MAX_GREY = 1.0;
  public static final double MEAN_GREY = 0.05;

  /** Mean and max absolute difference of two images, in units of {@code level}. */
  public static double[] greyDifference(float[] expected, float[] got, double level) {
    assertEquals(expected.length, got.length, "number of values");
    double sum = 0, max = 0;
    for (int i = 0; i < got.length; i++) {
      double d = Math.abs((double) expected[i] - got[i]) / level;
      sum += d;
      max = Math.max(max, d);
    }
    return new double[] {got.length == 0 ? 0 : sum / got.length, max};
  }

  /**
   * Asserts two images (any layout, values in grey levels times {@code level}) are the same up
   * to OpenCV's rounding; returns {mean, max} difference in grey levels for the report.
   */
  public static double[] assertSameImage(float[] expected, float[] got, double level, String what) {
    double[] d = greyDifference(expected, got, level);
    // A little slack for float noise on scaled values (level = 2/255 for [-1, 1] tensors).
    assertTrue(d[1] <= MAX_GREY + 1e-3, what + ": values differ by up to " + d[1] + " grey levels");
    assertTrue(d[0] <= MEAN_GREY, what + ": mean difference " + d[0] + " grey levels");
    return d;
  }

  public static double[] assertSameImage(byte[] expected, byte[] got, String what) {
    return assertSameImage(unsigned(expected), unsigned(got), 1.0, what);
  }

  private static float[] unsigned(byte[] b) {
    float[] out = new float[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = b[i] & 0xff;
    }
    return out;
  }
}
