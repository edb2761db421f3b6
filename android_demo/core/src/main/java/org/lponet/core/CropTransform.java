package org.lponet.core;

/**
 * The crop protocol of {@code lponet_tf/data/crop.py}: a tight face box, enlarged by 10% of
 * its size on each side, made square (longer side, same centre) and mapped onto an S x S crop.
 *
 * <p>Coordinates follow docs/CONVENTIONS.md: 0-based pixels, a pixel's centre at its integer
 * coordinate, so a pixel {@code i} covers {@code [i - 0.5, i + 0.5]}; the square box
 * {@code [x0, x0 + side]} maps onto the crop's pixel extent {@code [-0.5, S - 0.5]} and the
 * box centre onto {@code (S - 1) / 2}.
 *
 * <p>The affine {@code matrix} (2 x 3, row-major {@code a b c / d e f}) maps image pixels to
 * crop pixels; {@link #inverse()} maps crop (network) coordinates back to the image. Python
 * stores the square box as float32 before building the matrix; this class does the same so
 * the two matrices agree to the last bit that matters.
 */
public final class CropTransform {
  /** The paper enlarges the face box by 10% of its size on each side. */
  public static final double DEFAULT_ENLARGE = 0.10;

  /** Image -> crop, row-major 2x3. */
  public final double[] matrix;
  /** Crop side S. */
  public final int size;

  public CropTransform(double[] matrix, int size) {
    if (matrix.length != 6) {
      throw new IllegalArgumentException("matrix must have 6 entries");
    }
    this.matrix = matrix.clone();
    this.size = size;
  }

  /** Crop of a tight face box {@code (x0, y0, x1, y1)} with the paper's 10% enlargement. */
  public static CropTransform fromBox(float[] box, int size) {
    return fromBox(box, size, DEFAULT_ENLARGE);
  }

  public static CropTransform fromBox(float[] box, int size, double enlarge) {
    return new CropTransform(boxToCropMatrix(squareBox(box, enlarge), size), size);
  }

  /**
   * Enlarge by {@code enlarge} of the box size per side, then square it around its centre
   * (float32 result, as Python's {@code square_box}).
   */
  public static float[] squareBox(float[] box, double enlarge) {
    double x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];
    double w = x1 - x0, h = y1 - y0;
    if (!(w >= 0 && h >= 0)) {
      throw new IllegalArgumentException("box must have x1 >= x0 and y1 >= y0");
    }
    double side = Math.max(w, h) * (1.0 + 2.0 * enlarge);
    // A degenerate box (one point) would give a zero-size crop; fall back to 1 px.
    side = Math.max(side, 1.0);
    double cx = (x0 + x1) / 2.0, cy = (y0 + y1) / 2.0, half = side / 2.0;
    return new float[] {(float) (cx - half), (float) (cy - half), (float) (cx + half), (float) (cy + half)};
  }

  /** 2x3 affine taking a square box onto an {@code size x size} crop. */
  public static double[] boxToCropMatrix(float[] box, int size) {
    double x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];
    double side = Math.max(x1 - x0, y1 - y0);
    double s = size / side;
    double cx = (x0 + x1) / 2.0, cy = (y0 + y1) / 2.0;
    double c = (size - 1) / 2.0;
    return new double[] {s, 0.0, c - s * cx, 0.0, s, c - s * cy};
  }

  /** Exact inverse of a 2x3 affine. */
  public static double[] invert(double[] m) {
    double det = m[0] * m[4] - m[1] * m[3];
    if (det == 0) {
      throw new IllegalArgumentException("singular affine");
    }
    double a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det;
    return new double[] {a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])};
  }

  /** Crop -> image, row-major 2x3. */
  public double[] inverse() {
    return invert(matrix);
  }

  /** Image pixel coordinates -> crop pixel coordinates; {@code pts[i] = {x, y}}. */
  public float[][] toCrop(float[][] pts) {
    return apply(matrix, pts);
  }

  /** Crop pixel coordinates (e.g. decoded landmarks) -> image pixel coordinates. */
  public float[][] toImage(float[][] pts) {
    return apply(inverse(), pts);
  }

  /** Apply a 2x3 affine to points (computed in double, returned as float like Python). */
  public static float[][] apply(double[] m, float[][] pts) {
    float[][] out = new float[pts.length][2];
    for (int i = 0; i < pts.length; i++) {
      double x = pts[i][0], y = pts[i][1];
      out[i][0] = (float) (m[0] * x + m[1] * y + m[2]);
      out[i][1] = (float) (m[3] * x + m[4] * y + m[5]);
    }
    return out;
  }

  /**
   * Resample {@code image} into the S x S crop as float32 RGB values 0..255, NHWC order: the
   * model's input (it normalises internally). Bit-identical to Python's
   * {@code CropTransform.warp} + {@code astype(float32)}; see {@link Warp}.
   */
  public float[] warp(RgbImage image) {
    return Warp.affineBilinear(image, matrix, size, size);
  }
}
