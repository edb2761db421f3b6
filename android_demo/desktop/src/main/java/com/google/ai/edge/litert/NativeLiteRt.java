package com.google.ai.edge.litert;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads the JNI bridge (lponet_litert_jni.c) and, through it, LiteRT's C library
 * {@code libLiteRt.so} from the {@code ai-edge-litert} wheel. Desktop-only: on Android the
 * real {@code com.google.ai.edge.litert} classes come from Maven (litert AAR) and this class does not exist.
 *
 * <p>System properties:
 *
 * <ul>
 *   <li>{@code lponet.jni.lib}: absolute path of the compiled bridge
 *       ({@code liblponet_litert_jni.so}).
 *   <li>{@code lponet.litert.lib}: absolute path of {@code libLiteRt.so} inside the wheel.
 * </ul>
 *
 * The wheel version is read from the {@code ai_edge_litert-X.Y.Z.dist-info} folder next to the
 * library's package folder; the bridge refuses anything but the version it declares (2.3.0),
 * because LiteRT's C ABI changes between releases.
 */
final class NativeLiteRt {
  static final String PINNED_VERSION = "2.3.0";
  private static boolean loaded;

  private NativeLiteRt() {}

  static synchronized void ensureLoaded() {
    if (loaded) {
      return;
    }
    String jni = requireProperty("lponet.jni.lib");
    String litert = requireProperty("lponet.litert.lib");
    System.load(new File(jni).getAbsolutePath());
    nativeLoad(new File(litert).getAbsolutePath(), wheelVersion(Path.of(litert)));
    loaded = true;
  }

  /** The version of the ai-edge-litert wheel that holds {@code libLiteRt.so}. */
  static String wheelVersion(Path litertLib) {
    Path sitePackages = litertLib.toAbsolutePath().getParent().getParent();
    try (DirectoryStream<Path> dirs =
        Files.newDirectoryStream(sitePackages, "ai_edge_litert-*.dist-info")) {
      for (Path d : dirs) {
        String name = d.getFileName().toString();
        return name.substring("ai_edge_litert-".length(), name.length() - ".dist-info".length());
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot list " + sitePackages, e);
    }
    throw new IllegalStateException(
        "no ai_edge_litert-*.dist-info next to " + litertLib + ": cannot check the version");
  }

  private static String requireProperty(String key) {
    String v = System.getProperty(key);
    if (v == null || v.isEmpty()) {
      throw new IllegalStateException("system property " + key + " is not set");
    }
    return v;
  }

  static native void nativeLoad(String litertLibPath, String wheelVersion);

  static native long nativeCreateFromFile(String path, int numThreads);

  static native long nativeCreateFromBytes(byte[] model, int numThreads);

  static native void nativeClose(long handle);

  static native int nativeCount(long handle, boolean input);

  static native String nativeSignatureKey(long handle);

  static native int nativeGraphToSignature(long handle, boolean input, int graphIndex);

  static native String nativeName(long handle, boolean input, int sigIndex, boolean tensorName);

  static native int[] nativeShape(long handle, boolean input, int sigIndex);

  static native int nativeElementType(long handle, boolean input, int sigIndex);

  static native void nativeRun(long handle, Object[] inputs, Object[] outputs);
}
