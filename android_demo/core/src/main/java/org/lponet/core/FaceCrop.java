package org.lponet.core;

/**
 * The network crop of a face box, as {@code lponet_tf.codec.crop.crop_face} (the crop of
 * training, evaluation and inference): the affine warp ({@link CropTransform#warp},
 * bit-identical to OpenCV), where a face more than twice the crop size is first shrunk by an
 * integer factor with area averaging (only the box's region), because a bilinear warp
 * straight from a 1000 px face to 128 px would alias.
 *
 * <p>Both steps reproduce OpenCV ({@link Resize#areaU8}, {@link Warp}) bit for bit, so the
 * crop equals Python's exactly (the JVM tests check it).
 */
public final class FaceCrop {
  private FaceCrop() {}

  /** Crop of {@code transform} (from {@link CropTransform#fromBox}) for the box {@code box}. */
  public static float[] crop(RgbImage image, float[] box, CropTransform t) {
    int size = t.size;
    int factor = (int) (1.0 / t.matrix[0]); // image pixels per crop pixel, rounded down
    if (factor < 2) {
      return t.warp(image);
    }
    float[] sq = CropTransform.squareBox(box, CropTransform.DEFAULT_ENLARGE);
    int w = image.width, h = image.height;
    // The square's pixels plus one shrink block of margin for the bilinear taps.
    int x0 = Math.max(0, (int) Math.floor(sq[0]) - factor);
    int y0 = Math.max(0, (int) Math.floor(sq[1]) - factor);
    int x1 = Math.min(w, (int) Math.ceil(sq[2]) + factor + 1);
    int y1 = Math.min(h, (int) Math.ceil(sq[3]) + factor + 1);
    if (x1 - x0 < 2 * factor || y1 - y0 < 2 * factor) { // box (almost) outside the image
      return t.warp(image);
    }
    int rw = x1 - x0, rh = y1 - y0;
    byte[] roi = new byte[rw * rh * 3];
    for (int y = 0; y < rh; y++) {
      System.arraycopy(image.rgb, ((y0 + y) * w + x0) * 3, roi, y * rw * 3, rw * 3);
    }
    int nw = Math.max(1, (int) Math.rint((double) rw / factor));
    int nh = Math.max(1, (int) Math.rint((double) rh / factor));
    RgbImage small = Resize.areaU8(new RgbImage(rw, rh, roi), nw, nh);
    double sx = (double) nw / rw, sy = (double) nh / rh;
    // Image -> small pixels (pixel centres at integers): x_s = (x - x0 + 0.5) * sx - 0.5.
    double[] toSmall = {sx, 0, (0.5 - x0) * sx - 0.5, 0, sy, (0.5 - y0) * sy - 0.5};
    double[] m = compose(t.matrix, CropTransform.invert(toSmall));
    return Warp.affineBilinear(small, m, size, size);
  }

  /** {@code a o b}: the affine mapping p to a(b(p)) (row-major 2x3 each). */
  static double[] compose(double[] a, double[] b) {
    return new double[] {
      a[0] * b[0] + a[1] * b[3], a[0] * b[1] + a[1] * b[4], a[0] * b[2] + a[1] * b[5] + a[2],
      a[3] * b[0] + a[4] * b[3], a[3] * b[1] + a[4] * b[4], a[3] * b[2] + a[4] * b[5] + a[5]
    };
  }
}
