package org.lponet.core;

/**
 * The network crop of a face box, as {@code lponet_tf.codec.crop.crop_face} (the crop of
 * training, evaluation and inference): the affine warp ({@link CropTransform#warp},
 * bit-identical to OpenCV), where a face more than twice the crop size is first shrunk by an
 * integer factor with area averaging (only the box's region), because a bilinear warp
 * straight from a 1000 px face to 128 px would alias.
 *
 * <p>The region is derived from the transform, whatever enlargement built it.
 *
 * <p>Both steps reproduce OpenCV ({@link Resize#areaU8}, {@link Warp}) bit for bit, so the
 * crop equals Python's exactly (the JVM tests check it).
 */
public final class FaceCrop {
  private FaceCrop() {}

  // Python's _ROUND_TOL: a region edge within rounding of an integer is that integer.
  private static final double ROUND_TOL = 1e-9;

  /** Per-thread scratch for the shrunk region (grown as needed, never shrunk). */
  private static final ThreadLocal<byte[][]> SMALL = ThreadLocal.withInitial(() -> new byte[1][0]);

  /**
   * Crop of {@code t} (from {@link CropTransform#fromBox}, any enlargement). {@code box} is
   * not used: the region read is derived from {@code t}, as Python's {@code crop_face} does
   * (kept for callers of the earlier signature).
   */
  public static float[] crop(RgbImage image, float[] box, CropTransform t) {
    return crop(image, t);
  }

  /** The S x S float crop of {@code t}, a new array. */
  public static float[] crop(RgbImage image, CropTransform t) {
    float[] out = new float[t.size * t.size * 3];
    crop(image, t, out);
    return out;
  }

  /**
   * As {@link #crop(RgbImage, CropTransform)}, into {@code out} (at least S * S * 3 floats).
   * Thread-safe: the region's shrunk copy is per-thread scratch.
   */
  public static void crop(RgbImage image, CropTransform t, float[] out) {
    int size = t.size;
    double[] mt = t.matrix;
    // Python's shrink_factor, in double: a huge box's factor exceeds int (and overflowed).
    double scale = Math.max(Math.hypot(mt[0], mt[3]), Math.hypot(mt[1], mt[4]));
    double factor = scale > 0 ? Math.floor(1.0 / scale) : 1.0;
    int w = image.width, h = image.height;
    if (!(factor >= 2) || 2 * factor > Math.min(w, h)) { // also a factor too big for any region
      Warp.affineBilinear(image, mt, size, size, out);
      return;
    }
    // The region the crop reads: its pixel extent mapped back into the image (Python's
    // _area_preshrink), plus one shrink block of margin for the bilinear taps. In double,
    // clamped to the image before any int conversion.
    double[] inv = t.inverse();
    double lo = -0.5, hi = size - 0.5;
    double cx0 = Double.POSITIVE_INFINITY, cy0 = cx0, cx1 = Double.NEGATIVE_INFINITY, cy1 = cx1;
    for (double[] c : new double[][] {{lo, lo}, {hi, lo}, {lo, hi}, {hi, hi}}) {
      double x = inv[0] * c[0] + inv[1] * c[1] + inv[2], y = inv[3] * c[0] + inv[4] * c[1] + inv[5];
      cx0 = Math.min(cx0, x);
      cx1 = Math.max(cx1, x);
      cy0 = Math.min(cy0, y);
      cy1 = Math.max(cy1, y);
    }
    double fx0 = Math.max(0, Math.floor(cx0 + ROUND_TOL) - factor);
    double fy0 = Math.max(0, Math.floor(cy0 + ROUND_TOL) - factor);
    double fx1 = Math.min(w, Math.ceil(cx1 - ROUND_TOL) + factor + 1);
    double fy1 = Math.min(h, Math.ceil(cy1 - ROUND_TOL) + factor + 1);
    if (!(fx1 - fx0 >= 2 * factor && fy1 - fy0 >= 2 * factor)) { // crop (almost) outside
      Warp.affineBilinear(image, mt, size, size, out);
      return;
    }
    int f = (int) factor, x0 = (int) fx0, y0 = (int) fy0;
    int rw = (int) fx1 - x0, rh = (int) fy1 - y0;
    int nw = Math.max(1, (int) Math.rint((double) rw / f));
    int nh = Math.max(1, (int) Math.rint((double) rh / f));
    byte[][] holder = SMALL.get();
    if (holder[0].length < nw * nh * 3) {
      holder[0] = new byte[nw * nh * 3];
    }
    byte[] small = holder[0];
    Resize.areaU8(image.rgb, w, x0, y0, rw, rh, nw, nh, small);
    double sx = (double) nw / rw, sy = (double) nh / rh;
    // Image -> small pixels (pixel centres at integers): x_s = (x - x0 + 0.5) * sx - 0.5.
    double[] toSmall = {sx, 0, (0.5 - x0) * sx - 0.5, 0, sy, (0.5 - y0) * sy - 0.5};
    double[] m = compose(mt, CropTransform.invert(toSmall));
    Warp.affineBilinear(small, nw, nh, m, size, size, out);
  }

  /** {@code a o b}: the affine mapping p to a(b(p)) (row-major 2x3 each). */
  static double[] compose(double[] a, double[] b) {
    return new double[] {
      a[0] * b[0] + a[1] * b[3], a[0] * b[1] + a[1] * b[4], a[0] * b[2] + a[1] * b[5] + a[2],
      a[3] * b[0] + a[4] * b[3], a[3] * b[1] + a[4] * b[4], a[3] * b[2] + a[4] * b[5] + a[5]
    };
  }
}
