package org.tensorflow.lite;

/** Subset of {@code org.tensorflow.lite.DataType} (desktop shim). */
public enum DataType {
  FLOAT32(1, 4),
  INT32(2, 4),
  UINT8(3, 1),
  INT64(4, 8),
  BOOL(6, 1),
  INT16(7, 2),
  INT8(9, 1),
  FLOAT16(10, 2);

  private final int tfliteType;
  private final int byteSize;

  DataType(int tfliteType, int byteSize) {
    this.tfliteType = tfliteType;
    this.byteSize = byteSize;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  static DataType fromTfLiteType(int t) {
    for (DataType d : values()) {
      if (d.tfliteType == t) {
        return d;
      }
    }
    throw new IllegalArgumentException("unsupported TfLiteType " + t);
  }
}
