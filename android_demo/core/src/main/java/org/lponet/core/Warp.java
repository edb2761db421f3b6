package org.lponet.core;

/**
 * Affine resampling identical to OpenCV 5's {@code cv2.warpAffine(img, M, (w, h),
 * INTER_LINEAR, BORDER_CONSTANT, 0)} on 8-bit images, which is what the Python library uses to
 * build the network input ({@code lponet_tf.codec.crop.CropTransform.warp}).
 *
 * <p>Why emulate bit for bit instead of "some bilinear": a crop that differs by one grey level
 * in a few pixels changes the network's output slightly, and the end-to-end test compares the
 * Java pipeline's landmarks with Python's at sub-pixel tolerance. OpenCV (since 4.11) computes
 * in float32: source coordinates {@code sx = fma(x, M0, y * M1 + M2)} with the inverted matrix
 * cast to float, {@code ix = floor(sx)}, fractional weights, a fused-multiply-add lerp along x
 * then y, and round-half-even to uint8. Out-of-image neighbours read 0. The probe that pinned
 * this down (150 random crops and rotations, zero differing bytes) is in the JVM golden test.
 */
public final class Warp {
  private Warp() {}

  /**
   * Resample {@code image} through the image->destination affine {@code m} (row-major 2x3) into
   * an {@code outW x outH} float RGB buffer (values 0..255, NHWC, batch of one).
   */
  public static float[] affineBilinear(RgbImage image, double[] m, int outW, int outH) {
    float[] out = new float[outW * outH * 3];
    affineBilinear(image, m, outW, outH, out);
    return out;
  }

  /** As {@link #affineBilinear(RgbImage, double[], int, int)}, into a caller's buffer. */
  public static void affineBilinear(RgbImage image, double[] m, int outW, int outH, float[] out) {
    affineBilinear(image.rgb, image.width, image.height, m, outW, outH, out);
  }

  /** As above, from the first {@code w * h} RGB pixels of {@code src} (a reused buffer). */
  static void affineBilinear(byte[] src, int w, int h, double[] m, int outW, int outH, float[] out) {
    if (out.length < outW * outH * 3) {
      throw new IllegalArgumentException("output buffer too small");
    }
    // Inverse exactly as cv::warpAffine computes it (1/D then products), then float.
    double d = m[0] * m[4] - m[1] * m[3];
    d = d != 0 ? 1.0 / d : 0;
    double a11 = m[4] * d, a22 = m[0] * d, a12 = -m[1] * d, a21 = -m[3] * d;
    double b1 = -a11 * m[2] - a12 * m[5];
    double b2 = -a21 * m[2] - a22 * m[5];
    float m0 = (float) a11, m1 = (float) a12, m2 = (float) b1;
    float m3 = (float) a21, m4 = (float) a22, m5 = (float) b2;

    float[] p00 = new float[3], p01 = new float[3], p10 = new float[3], p11 = new float[3];
    int o = 0;
    for (int y = 0; y < outH; y++) {
      float fy = y;
      float rowX = fy * m1 + m2;
      float rowY = fy * m4 + m5;
      for (int x = 0; x < outW; x++) {
        float fx = x;
        float sx = FloatMath.fma(fx, m0, rowX);
        float sy = FloatMath.fma(fx, m3, rowY);
        int ix = (int) Math.floor(sx);
        int iy = (int) Math.floor(sy);
        float ax = sx - ix;
        float ay = sy - iy;
        fetch(src, w, h, ix, iy, p00);
        fetch(src, w, h, ix + 1, iy, p01);
        fetch(src, w, h, ix, iy + 1, p10);
        fetch(src, w, h, ix + 1, iy + 1, p11);
        for (int c = 0; c < 3; c++) {
          float v0 = FloatMath.fma(ax, p01[c] - p00[c], p00[c]);
          float v1 = FloatMath.fma(ax, p11[c] - p10[c], p10[c]);
          float v = FloatMath.fma(ay, v1 - v0, v0);
          out[o++] = saturateU8(v);
        }
      }
    }
  }

  private static void fetch(byte[] src, int w, int h, int x, int y, float[] px) {
    if (x < 0 || y < 0 || x >= w || y >= h) {
      px[0] = px[1] = px[2] = 0f;
      return;
    }
    int i = (y * w + x) * 3;
    px[0] = src[i] & 0xff;
    px[1] = src[i + 1] & 0xff;
    px[2] = src[i + 2] & 0xff;
  }

  /** OpenCV's saturate_cast<uchar>(float): round half to even, clamp to 0..255. */
  static float saturateU8(float v) {
    float r = (float) Math.rint(v);
    return r < 0 ? 0f : (r > 255 ? 255f : r);
  }
}
