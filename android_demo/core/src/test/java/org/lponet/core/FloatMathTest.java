package org.lponet.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The API-24-safe float fma equals the JDK's correctly rounded Math.fma. */
class FloatMathTest {
  @Test
  void equalsMathFmaOnRandomAndWarpLikeOperands() {
    SplittableRandom r = new SplittableRandom(3);
    for (int i = 0; i < 3_000_000; i++) {
      float a, b, c;
      switch (i % 3) {
        case 0: // the warp's coordinates: x * M0 + row offset
          a = r.nextInt(512);
          b = (float) (r.nextDouble(-4, 4));
          c = (float) (r.nextDouble(-2000, 2000));
          break;
        case 1: // the warp's lerp: alpha * (p1 - p0) + p0 on pixel values
          a = (float) r.nextDouble();
          b = r.nextInt(-255, 256);
          c = r.nextInt(0, 256);
          break;
        default: // anything, including cancellations and magnitude gaps
          a = Float.intBitsToFloat(r.nextInt()) ;
          b = Float.intBitsToFloat(r.nextInt());
          c = Float.intBitsToFloat(r.nextInt());
      }
      float exp = Math.fma(a, b, c), got = FloatMath.fma(a, b, c);
      if (Float.floatToIntBits(exp) != Float.floatToIntBits(got) && !(Float.isNaN(exp) && Float.isNaN(got))) {
        assertEquals(exp, got, 0f, a + " * " + b + " + " + c);
      }
    }
  }

  @Test
  void roundsTheDoubleRoundingMidpointCorrectly() {
    // (1 + 2^-12)^2 + 2^-80 = 1 + 2^-11 + 2^-24 + 2^-80: the double sum drops 2^-80 and lands
    // on the midpoint between two floats; a naive (float) of it rounds to even, down, while
    // the exact value is above the midpoint.
    float a = 1 + 0x1p-12f, c = 0x1p-80f;
    float naive = (float) ((double) a * a + c);
    assertEquals(1 + 0x1p-11f + 0x1p-23f, Math.fma(a, a, c), 0f);
    assertEquals(Math.fma(a, a, c), FloatMath.fma(a, a, c), 0f);
    org.junit.jupiter.api.Assertions.assertNotEquals(Math.fma(a, a, c), naive, "case must need the fix");
  }
}
