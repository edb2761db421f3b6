package org.lponet.core;

/**
 * Image resizing: {@link #areaU8} reproduces OpenCV's {@code cv2.resize(..., INTER_AREA)} on
 * 8-bit images bit for bit (the Python library shrinks detector inputs and large faces with
 * it); {@link #bilinear} enlarges with pixel-centre alignment
 * ({@code src = (dst + 0.5) / scale - 0.5}, edge clamped) like {@code INTER_LINEAR}, but in
 * float rather than OpenCV's 11-bit fixed point, so enlarged images (smaller than the detector
 * input) can differ from Python's by a grey level.
 */
public final class Resize {
  private Resize() {}

  /** Shrink with {@link #areaU8} when both sides shrink, else enlarge bilinearly. */
  public static float[] resize(RgbImage img, int outW, int outH) {
    if (outW <= img.width && outH <= img.height) {
      byte[] b = areaU8(img, outW, outH).rgb;
      float[] out = new float[b.length];
      for (int i = 0; i < b.length; i++) {
        out[i] = b[i] & 0xff;
      }
      return out;
    }
    return bilinear(img, outW, outH);
  }

  /**
   * {@code cv2.resize(img, (outW, outH), interpolation=cv2.INTER_AREA)} for a shrink, bit for
   * bit: OpenCV's integer-factor fast path (a 2x2 block rounds half up, other blocks multiply
   * the integer sum by the float reciprocal of the area), and otherwise its general path:
   * per-axis tables of (source, destination, float weight) from the cells' overlap, a row pass
   * and a column pass accumulated in float32 in OpenCV's order, round half to even.
   */
  public static RgbImage areaU8(RgbImage img, int outW, int outH) {
    final int w = img.width, h = img.height, cn = 3;
    double scaleX = 1.0 / ((double) outW / w), scaleY = 1.0 / ((double) outH / h);
    int ix = (int) Math.rint(scaleX), iy = (int) Math.rint(scaleY);
    byte[] out = new byte[outW * outH * cn];
    if (Math.abs(scaleX - ix) < 2.220446049250313e-16 && Math.abs(scaleY - iy) < 2.220446049250313e-16) {
      int area = ix * iy;
      float inv = 1.0f / area;
      for (int y = 0; y < outH; y++) {
        for (int x = 0; x < outW; x++) {
          for (int c = 0; c < cn; c++) {
            int sum = 0;
            for (int dy = 0; dy < iy; dy++) {
              int row = ((y * iy + dy) * w + x * ix) * cn + c;
              for (int dx = 0; dx < ix; dx++) {
                sum += img.rgb[row + dx * cn] & 0xff;
              }
            }
            int v = (ix == 2 && iy == 2) ? (sum + 2) >> 2 : (int) Math.rint(sum * inv);
            out[(y * outW + x) * cn + c] = (byte) Math.min(255, Math.max(0, v));
          }
        }
      }
      return new RgbImage(outW, outH, out);
    }
    int[][] xt = areaTable(w, outW, cn, scaleX);
    float[] xa = areaAlphas(w, outW, scaleX);
    int[][] yt = areaTable(h, outH, 1, scaleY);
    float[] ya = areaAlphas(h, outH, scaleY);
    int rowLen = outW * cn;
    float[] buf = new float[rowLen], sum = new float[rowLen];
    int prev = yt[0][0];
    for (int j = 0; j < yt.length; j++) {
      int dy = yt[j][0], sy = yt[j][1];
      float beta = ya[j];
      java.util.Arrays.fill(buf, 0f);
      int base = sy * w * cn;
      for (int k = 0; k < xt.length; k++) {
        int dxn = xt[k][0], sxn = xt[k][1];
        float a = xa[k];
        for (int c = 0; c < cn; c++) {
          buf[dxn + c] = buf[dxn + c] + (img.rgb[base + sxn + c] & 0xff) * a;
        }
      }
      if (dy != prev) {
        store(sum, out, prev * rowLen);
        for (int d = 0; d < rowLen; d++) {
          sum[d] = beta * buf[d];
        }
        prev = dy;
      } else {
        for (int d = 0; d < rowLen; d++) {
          sum[d] += beta * buf[d];
        }
      }
    }
    store(sum, out, prev * rowLen);
    return new RgbImage(outW, outH, out);
  }

  private static void store(float[] sum, byte[] out, int offset) {
    for (int d = 0; d < sum.length; d++) {
      out[offset + d] = (byte) (int) Warp.saturateU8(sum[d]);
    }
  }

  /** OpenCV's computeResizeAreaTab: rows of {destination * cn, source * cn}. */
  private static int[][] areaTable(int ssize, int dsize, int cn, double scale) {
    java.util.List<int[]> t = new java.util.ArrayList<>();
    for (int dx = 0; dx < dsize; dx++) {
      double fsx1 = dx * scale, fsx2 = fsx1 + scale;
      int sx1 = (int) Math.ceil(fsx1), sx2 = (int) Math.floor(fsx2);
      sx2 = Math.min(sx2, ssize - 1);
      sx1 = Math.min(sx1, sx2);
      if (sx1 - fsx1 > 1e-3) {
        t.add(new int[] {dx * cn, (sx1 - 1) * cn});
      }
      for (int sx = sx1; sx < sx2; sx++) {
        t.add(new int[] {dx * cn, sx * cn});
      }
      if (fsx2 - sx2 > 1e-3) {
        t.add(new int[] {dx * cn, sx2 * cn});
      }
    }
    return t.toArray(new int[0][]);
  }

  /** The float weights matching {@link #areaTable}, entry for entry. */
  private static float[] areaAlphas(int ssize, int dsize, double scale) {
    java.util.List<Float> a = new java.util.ArrayList<>();
    for (int dx = 0; dx < dsize; dx++) {
      double fsx1 = dx * scale, fsx2 = fsx1 + scale;
      double cellWidth = Math.min(scale, ssize - fsx1);
      int sx1 = (int) Math.ceil(fsx1), sx2 = (int) Math.floor(fsx2);
      sx2 = Math.min(sx2, ssize - 1);
      sx1 = Math.min(sx1, sx2);
      if (sx1 - fsx1 > 1e-3) {
        a.add((float) ((sx1 - fsx1) / cellWidth));
      }
      for (int sx = sx1; sx < sx2; sx++) {
        a.add((float) (1.0 / cellWidth));
      }
      if (fsx2 - sx2 > 1e-3) {
        a.add((float) (Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth));
      }
    }
    float[] out = new float[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i);
    }
    return out;
  }

  public static float[] bilinear(RgbImage img, int outW, int outH) {
    double sx = (double) img.width / outW, sy = (double) img.height / outH;
    float[] out = new float[outW * outH * 3];
    for (int oy = 0; oy < outH; oy++) {
      double fy = Math.min(Math.max((oy + 0.5) * sy - 0.5, 0.0), img.height - 1.0);
      int y0 = (int) Math.floor(fy), y1 = Math.min(y0 + 1, img.height - 1);
      double ay = fy - y0;
      for (int ox = 0; ox < outW; ox++) {
        double fx = Math.min(Math.max((ox + 0.5) * sx - 0.5, 0.0), img.width - 1.0);
        int x0 = (int) Math.floor(fx), x1 = Math.min(x0 + 1, img.width - 1);
        double ax = fx - x0;
        int o = (oy * outW + ox) * 3;
        for (int c = 0; c < 3; c++) {
          double top = img.get(x0, y0, c) * (1 - ax) + img.get(x1, y0, c) * ax;
          double bot = img.get(x0, y1, c) * (1 - ax) + img.get(x1, y1, c) * ax;
          out[o + c] = (float) (top * (1 - ay) + bot * ay);
        }
      }
    }
    return out;
  }
}
