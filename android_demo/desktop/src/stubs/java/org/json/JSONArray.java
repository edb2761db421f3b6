package org.json;

/** Compile-only stub of Android's {@code org.json.JSONArray}: the members LponetEngine.kt calls. */
public class JSONArray {
  public int length() {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public JSONObject getJSONObject(int index) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public JSONArray getJSONArray(int index) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }

  public double getDouble(int index) throws JSONException {
    throw new UnsupportedOperationException("compile-only stub");
  }
}
