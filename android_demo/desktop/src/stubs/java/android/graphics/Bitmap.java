package android.graphics;

/**
 * Compile-only stub of {@code android.graphics.Bitmap}: the members LponetEngine.kt calls
 * ({@code getConfig}, {@code copy(Config, boolean)}, {@code getWidth}, {@code getHeight},
 * {@code getPixels(int[], int, int, int, int, int, int)}), signatures as in the Android API
 * reference. Never run.
 */
public final class Bitmap {
  /** The constants of {@code Bitmap.Config} (API 33 and earlier). */
  public enum Config {
    ALPHA_8,
    RGB_565,
    ARGB_4444,
    ARGB_8888,
    RGBA_F16,
    HARDWARE,
    RGBA_1010102
  }

  private Bitmap() {}

  public final Config getConfig() {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public Bitmap copy(Config config, boolean isMutable) {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public final int getWidth() {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public final int getHeight() {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public void getPixels(int[] pixels, int offset, int stride, int x, int y, int width, int height) {
    throw new UnsupportedOperationException("compile-only stub");
  }
}
