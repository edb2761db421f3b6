package com.google.ai.edge.litert;

/**
 * Desktop stand-in for LiteRT's {@code com.google.ai.edge.litert.Accelerator} (Kotlin enum,
 * Common.kt): same constants and values. The desktop bridge runs {@link #CPU} only.
 */
public enum Accelerator {
  NONE(0),
  CPU(1),
  GPU(2),
  NPU(3);

  private final int value;

  Accelerator(int value) {
    this.value = value;
  }

  public int getValue() {
    return value;
  }
}
