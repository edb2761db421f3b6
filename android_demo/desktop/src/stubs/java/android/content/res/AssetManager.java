package android.content.res;

import java.io.IOException;
import java.io.InputStream;

/**
 * Compile-only stub of {@code android.content.res.AssetManager} ({@code public final class};
 * {@code public final InputStream open(String fileName) throws IOException}). Never run.
 */
public final class AssetManager {
  private AssetManager() {}

  public final InputStream open(String fileName) throws IOException {
    throw new UnsupportedOperationException("compile-only stub");
  }
}
