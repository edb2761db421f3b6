package org.lponet.core;

/**
 * Fused multiply-add in float32 without {@code Math.fma}, which Android only has from API 33
 * (the app's minSdk is 24). The product of two floats is exact in double; the sum is then
 * rounded once to double, and the TwoSum error term fixes the one case where rounding
 * that double to float would round twice differently from a single rounding: a double that
 * lands exactly on the midpoint between two floats.
 */
public final class FloatMath {
  private FloatMath() {}

  /** {@code a * b + c} with a single rounding to float, equal to {@code Math.fma}. */
  public static float fma(float a, float b, float c) {
    double p = (double) a * b; // exact: 24 + 24 significant bits
    double s = p + c;
    if (Double.isNaN(s) || Double.isInfinite(s)) {
      return (float) s;
    }
    // TwoSum: s + err == p + c exactly.
    double bb = s - p;
    double err = (p - (s - bb)) + (c - bb);
    if (err != 0) {
      float r = (float) s;
      if ((double) r != s) {
        float other = Math.nextAfter(r, s);
        double mid = ((double) r + (double) other) / 2; // exact in double
        if (s == mid) {
          // The exact value lies beyond the midpoint on err's side: round that way.
          s = Math.nextAfter(s, err > 0 ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY);
        }
      }
    }
    return (float) s;
  }
}
