package org.lponet.core;

/**
 * Image resizing for the detector input: area averaging when shrinking (each output pixel is
 * the overlap-weighted mean of the source pixels its footprint covers, the idea of
 * {@code cv2.INTER_AREA}; no aliasing on big reductions) and bilinear with pixel-centre
 * alignment ({@code src = (dst + 0.5) / scale - 0.5}, edge clamped, like
 * {@code cv2.INTER_LINEAR}) when enlarging. Output is float RGB, not rounded.
 */
public final class Resize {
  private Resize() {}

  public static float[] resize(RgbImage img, int outW, int outH) {
    if (outW <= img.width && outH <= img.height) {
      return area(img, outW, outH);
    }
    return bilinear(img, outW, outH);
  }

  static float[] area(RgbImage img, int outW, int outH) {
    double sx = (double) img.width / outW, sy = (double) img.height / outH;
    float[] out = new float[outW * outH * 3];
    double[] acc = new double[3];
    for (int oy = 0; oy < outH; oy++) {
      double y0 = oy * sy, y1 = (oy + 1) * sy;
      for (int ox = 0; ox < outW; ox++) {
        double x0 = ox * sx, x1 = (ox + 1) * sx;
        acc[0] = acc[1] = acc[2] = 0;
        double wsum = 0;
        for (int y = (int) Math.floor(y0); y < Math.min(img.height, (int) Math.ceil(y1)); y++) {
          double wy = Math.min(y + 1, y1) - Math.max(y, y0);
          if (wy <= 0) {
            continue;
          }
          for (int x = (int) Math.floor(x0); x < Math.min(img.width, (int) Math.ceil(x1)); x++) {
            double wx = Math.min(x + 1, x1) - Math.max(x, x0);
            if (wx <= 0) {
              continue;
            }
            double w = wx * wy;
            int i = (y * img.width + x) * 3;
            acc[0] += w * (img.rgb[i] & 0xff);
            acc[1] += w * (img.rgb[i + 1] & 0xff);
            acc[2] += w * (img.rgb[i + 2] & 0xff);
            wsum += w;
          }
        }
        int o = (oy * outW + ox) * 3;
        for (int c = 0; c < 3; c++) {
          out[o + c] = (float) (acc[c] / wsum);
        }
      }
    }
    return out;
  }

  static float[] bilinear(RgbImage img, int outW, int outH) {
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
