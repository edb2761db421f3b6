package org.json;

import java.util.Iterator;

/**
 * Compile-only stub of Android's {@code org.json.JSONObject}: the members LponetEngine.kt
 * calls, signatures as in the Android API reference. Never run.
 */
public class JSONObject {
  public JSONObject(String json) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public JSONObject getJSONObject(String name) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public JSONObject optJSONObject(String name) {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public JSONArray getJSONArray(String name) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public JSONArray optJSONArray(String name) {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public String getString(String name) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public double getDouble(String name) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public int getInt(String name) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public int optInt(String name, int fallback) {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public boolean getBoolean(String name) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public boolean isNull(String name) {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public Iterator<String> keys() {
    throw new UnsupportedOperationException("compile-only stub");
  }
}
