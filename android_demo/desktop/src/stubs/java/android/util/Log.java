package android.util;

/** Compile-only stub of {@code android.util.Log}: {@code public static int w(String, String, Throwable)}. */
public final class Log {
  private Log() {}

  public static int w(String tag, String msg, Throwable tr) {
    throw new UnsupportedOperationException("compile-only stub");
  }
}
