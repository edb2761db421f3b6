package org.lponet.core;

/**
 * An 8-bit RGB image, row-major, channels interleaved ({@code rgb[(y * width + x) * 3 + c]}).
 *
 * <p>The core works on this plain representation so that it runs unchanged on Android (built
 * from {@code Bitmap.getPixels}, see {@link #fromArgb}) and on the desktop JVM (built from the
 * raw bytes the Python tests write).
 */
public final class RgbImage {
  public final int width;
  public final int height;
  /** {@code width * height * 3} bytes, R G B per pixel (unsigned). */
  public final byte[] rgb;

  public RgbImage(int width, int height, byte[] rgb) {
    if (width < 1 || height < 1) {
      throw new IllegalArgumentException("empty image " + width + "x" + height);
    }
    if (rgb.length != width * height * 3) {
      throw new IllegalArgumentException(
          "rgb has " + rgb.length + " bytes, expected " + width * height * 3);
    }
    this.width = width;
    this.height = height;
    this.rgb = rgb;
  }

  /** From packed ARGB ints ({@code android.graphics.Bitmap.getPixels} order); alpha dropped. */
  public static RgbImage fromArgb(int[] argb, int width, int height) {
    if (argb.length != width * height) {
      throw new IllegalArgumentException("argb has " + argb.length + " pixels, expected " + width * height);
    }
    return fromArgb(argb, width, height, new byte[width * height * 3]);
  }

  /**
   * As {@link #fromArgb(int[], int, int)}, into {@code rgb} ({@code width * height * 3} bytes,
   * e.g. a frame buffer reused by a video loop): the image wraps that array, so a later frame
   * written into it changes this image.
   */
  public static RgbImage fromArgb(int[] argb, int width, int height, byte[] rgb) {
    if (argb.length < width * height) {
      throw new IllegalArgumentException("argb has " + argb.length + " pixels, expected " + width * height);
    }
    for (int i = 0, j = 0; i < width * height; i++, j += 3) {
      int p = argb[i];
      rgb[j] = (byte) (p >> 16);
      rgb[j + 1] = (byte) (p >> 8);
      rgb[j + 2] = (byte) p;
    }
    return new RgbImage(width, height, rgb);
  }

  /** Channel {@code c} of pixel (x, y) as 0..255. */
  public int get(int x, int y, int c) {
    return rgb[(y * width + x) * 3 + c] & 0xff;
  }
}
