package org.lponet.core;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Golden values written by the Python library in the same test run
 * (tests/jvm_goldens.py, driven by tests/test_android_core.py): JSON files plus raw little-endian float32 / uint8 arrays, in
 * the directory named by the system property {@code lponet.goldens}. The driver fails before
 * JUnit runs when any golden cannot be written, so a missing file is a failure here too.
 */
public final class Goldens {
  private Goldens() {}

  public static Path dir() {
    String d = System.getProperty("lponet.goldens");
    if (d == null) {
      fail("system property lponet.goldens is not set (run through tests/test_android_core.py)");
    }
    return Path.of(d);
  }

  /** A golden JSON object. */
  public static Map<String, Object> json(String name) {
    Path p = dir().resolve(name);
    if (!Files.exists(p)) {
      fail("golden file missing: " + p);
    }
    return jsonFile(p);
  }

  /** Any JSON file (e.g. the app's lponet_android.json written by the export tool). */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> jsonFile(Path p) {
    try {
      return (Map<String, Object>) new Parser(Files.readString(p, StandardCharsets.UTF_8)).value();
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  public static float[] f32(String name) {
    ByteBuffer b = ByteBuffer.wrap(bytes(name)).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[b.remaining() / 4];
    b.asFloatBuffer().get(out);
    return out;
  }

  public static byte[] bytes(String name) {
    try {
      return Files.readAllBytes(dir().resolve(name));
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  /** An RGB image written as {@code name} (raw bytes) with its JSON shape {@code [h, w, 3]}. */
  public static RgbImage image(Map<String, Object> meta) {
    List<Object> shape = list(meta.get("shape"));
    int h = (int) dbl(shape.get(0)), w = (int) dbl(shape.get(1));
    return new RgbImage(w, h, bytes((String) meta.get("file")));
  }

  // ---- typed accessors ------------------------------------------------------------------
  @SuppressWarnings("unchecked")
  public static Map<String, Object> map(Object o) {
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  public static List<Object> list(Object o) {
    return (List<Object>) o;
  }

  public static double dbl(Object o) {
    return ((Number) o).doubleValue();
  }

  public static double[] doubles(Object o) {
    List<Object> l = flatten(o);
    double[] out = new double[l.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = dbl(l.get(i));
    }
    return out;
  }

  public static float[] floats(Object o) {
    double[] d = doubles(o);
    float[] out = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      out[i] = (float) d[i];
    }
    return out;
  }

  /** {@code [[x, y], ...]} -> {@code float[n][m]}. */
  public static float[][] floats2(Object o) {
    List<Object> rows = list(o);
    float[][] out = new float[rows.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = floats(rows.get(i));
    }
    return out;
  }

  public static double[][] doubles2(Object o) {
    List<Object> rows = list(o);
    double[][] out = new double[rows.size()][];
    for (int i = 0; i < out.length; i++) {
      out[i] = doubles(rows.get(i));
    }
    return out;
  }

  private static List<Object> flatten(Object o) {
    List<Object> out = new ArrayList<>();
    if (o instanceof List) {
      for (Object e : list(o)) {
        out.addAll(flatten(e));
      }
    } else {
      out.add(o);
    }
    return out;
  }

  /** Minimal JSON reader (the JDK has none): objects, arrays, numbers, strings, literals. */
  static final class Parser {
    private final String s;
    private int i;

    Parser(String s) {
      this.s = s;
    }

    Object value() {
      skip();
      char c = s.charAt(i);
      if (c == '{') {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        skip();
        if (s.charAt(i) == '}') {
          i++;
          return m;
        }
        while (true) {
          skip();
          String k = string();
          skip();
          expect(':');
          m.put(k, value());
          skip();
          if (s.charAt(i) == ',') {
            i++;
          } else {
            expect('}');
            return m;
          }
        }
      }
      if (c == '[') {
        List<Object> l = new ArrayList<>();
        i++;
        skip();
        if (s.charAt(i) == ']') {
          i++;
          return l;
        }
        while (true) {
          l.add(value());
          skip();
          if (s.charAt(i) == ',') {
            i++;
          } else {
            expect(']');
            return l;
          }
        }
      }
      if (c == '"') {
        return string();
      }
      if (s.startsWith("true", i)) {
        i += 4;
        return Boolean.TRUE;
      }
      if (s.startsWith("false", i)) {
        i += 5;
        return Boolean.FALSE;
      }
      if (s.startsWith("null", i)) {
        i += 4;
        return null;
      }
      // Python's json writes non-finite floats as these literals.
      for (String lit : new String[] {"NaN", "Infinity", "-Infinity"}) {
        if (s.startsWith(lit, i)) {
          i += lit.length();
          return Double.parseDouble(lit);
        }
      }
      int start = i;
      while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
        i++;
      }
      if (start == i) {
        throw new IllegalArgumentException("bad JSON at " + i);
      }
      return Double.parseDouble(s.substring(start, i));
    }

    private String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      while (s.charAt(i) != '"') {
        char c = s.charAt(i++);
        if (c == '\\') {
          char e = s.charAt(i++);
          switch (e) {
            case 'n': b.append('\n'); break;
            case 't': b.append('\t'); break;
            case 'r': b.append('\r'); break;
            case 'b': b.append('\b'); break;
            case 'f': b.append('\f'); break;
            case 'u':
              b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
              i += 4;
              break;
            default: b.append(e);
          }
        } else {
          b.append(c);
        }
      }
      i++;
      return b.toString();
    }

    private void expect(char c) {
      if (s.charAt(i) != c) {
        throw new IllegalArgumentException("expected '" + c + "' at " + i + " in JSON");
      }
      i++;
    }

    private void skip() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }
  }
}
