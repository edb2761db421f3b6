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
    byte[] out = new byte[outW * outH * 3];
    areaU8(img.rgb, img.width, 0, 0, img.width, img.height, outW, outH, out);
    return new RgbImage(outW, outH, out);
  }

  /**
   * {@link #areaU8(RgbImage, int, int)} of the {@code w x h} region at {@code (x0, y0)} of an
   * RGB image {@code stride} pixels wide, into {@code out} (at least {@code outW * outH * 3}
   * bytes): no copy of the region, no new output.
   */
  static void areaU8(
      byte[] src, int stride, int x0, int y0, int w, int h, int outW, int outH, byte[] out) {
    final int cn = 3;
    double scaleX = 1.0 / ((double) outW / w), scaleY = 1.0 / ((double) outH / h);
    int ix = (int) Math.rint(scaleX), iy = (int) Math.rint(scaleY);
    final int rowBytes = stride * cn, origin = (y0 * stride + x0) * cn;
    if (Math.abs(scaleX - ix) < 2.220446049250313e-16 && Math.abs(scaleY - iy) < 2.220446049250313e-16) {
      int area = ix * iy;
      float inv = 1.0f / area;
      for (int y = 0; y < outH; y++) {
        for (int x = 0; x < outW; x++) {
          for (int c = 0; c < cn; c++) {
            int sum = 0;
            for (int dy = 0; dy < iy; dy++) {
              int row = origin + (y * iy + dy) * rowBytes + x * ix * cn + c;
              for (int dx = 0; dx < ix; dx++) {
                sum += src[row + dx * cn] & 0xff;
              }
            }
            int v = (ix == 2 && iy == 2) ? (sum + 2) >> 2 : (int) Math.rint(sum * inv);
            out[(y * outW + x) * cn + c] = (byte) Math.min(255, Math.max(0, v));
          }
        }
      }
      return;
    }
    AreaTable xt = AreaTable.of(w, outW, cn), yt = AreaTable.of(h, outH, 1);
    int rowLen = outW * cn;
    float[] buf = new float[rowLen], sum = new float[rowLen];
    int prev = yt.dst[0];
    for (int j = 0; j < yt.size; j++) {
      int dy = yt.dst[j], sy = yt.src[j];
      float beta = yt.alpha[j];
      java.util.Arrays.fill(buf, 0f);
      int base = origin + sy * rowBytes;
      for (int k = 0; k < xt.size; k++) {
        int dxn = xt.dst[k], sxn = xt.src[k];
        float a = xt.alpha[k];
        for (int c = 0; c < cn; c++) {
          buf[dxn + c] = buf[dxn + c] + (src[base + sxn + c] & 0xff) * a;
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
  }

  private static void store(float[] sum, byte[] out, int offset) {
    for (int d = 0; d < sum.length; d++) {
      out[offset + d] = (byte) (int) Warp.saturateU8(sum[d]);
    }
  }

  /**
   * OpenCV's computeResizeAreaTab for one axis: entries of (destination * cn, source * cn,
   * float weight). Cached per (source size, destination size, cn): a video's frames and the
   * detector's letterbox repeat the same few, and rebuilding them was most of a shrink's
   * garbage.
   */
  static final class AreaTable {
    private static final int CACHED = 16;
    private static final java.util.Map<Long, AreaTable> CACHE =
        new java.util.LinkedHashMap<Long, AreaTable>(32, 0.75f, true) {
          private static final long serialVersionUID = 1L;

          @Override
          protected boolean removeEldestEntry(java.util.Map.Entry<Long, AreaTable> e) {
            return size() > CACHED;
          }
        };

    final int size;
    final int[] dst, src;
    final float[] alpha;

    private AreaTable(int size) {
      this.size = size;
      dst = new int[size];
      src = new int[size];
      alpha = new float[size];
    }

    static AreaTable of(int ssize, int dsize, int cn) {
      Long key = ((long) ssize << 34) | ((long) dsize << 2) | cn;
      synchronized (CACHE) {
        AreaTable t = CACHE.get(key);
        if (t == null) {
          t = build(ssize, dsize, cn);
          CACHE.put(key, t);
        }
        return t;
      }
    }

    private static AreaTable build(int ssize, int dsize, int cn) {
      double scale = 1.0 / ((double) dsize / ssize);
      AreaTable t = new AreaTable(fill(null, ssize, dsize, cn, scale));
      fill(t, ssize, dsize, cn, scale);
      return t;
    }

    /** Counts the entries (t null) or writes them. */
    private static int fill(AreaTable t, int ssize, int dsize, int cn, double scale) {
      int k = 0;
      for (int dx = 0; dx < dsize; dx++) {
        double fsx1 = dx * scale, fsx2 = fsx1 + scale;
        double cellWidth = Math.min(scale, ssize - fsx1);
        int sx1 = (int) Math.ceil(fsx1), sx2 = (int) Math.floor(fsx2);
        sx2 = Math.min(sx2, ssize - 1);
        sx1 = Math.min(sx1, sx2);
        if (sx1 - fsx1 > 1e-3) {
          k = put(t, k, dx * cn, (sx1 - 1) * cn, (float) ((sx1 - fsx1) / cellWidth));
        }
        for (int sx = sx1; sx < sx2; sx++) {
          k = put(t, k, dx * cn, sx * cn, (float) (1.0 / cellWidth));
        }
        if (fsx2 - sx2 > 1e-3) {
          k = put(t, k, dx * cn, sx2 * cn, (float) (Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth));
        }
      }
      return k;
    }

    private static int put(AreaTable t, int k, int d, int s, float a) {
      if (t != null) {
        t.dst[k] = d;
        t.src[k] = s;
        t.alpha[k] = a;
      }
      return k + 1;
    }
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
