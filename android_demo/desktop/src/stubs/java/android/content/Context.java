package android.content;

import android.content.res.AssetManager;

/**
 * Compile-only stub of {@code android.content.Context}: the one member the app's
 * LponetEngine.kt calls (signature as in the Android API reference). Never run.
 */
public abstract class Context {
  public abstract AssetManager getAssets();
}
