package org.json;

/** Compile-only stub of Android's {@code org.json.JSONException} (checked, as on Android). */
public class JSONException extends Exception {
  private static final long serialVersionUID = 1L;

  public JSONException(String s) {
    super(s);
  }
}
