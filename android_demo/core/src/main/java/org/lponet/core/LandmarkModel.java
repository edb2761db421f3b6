package org.lponet.core;

/**
 * An LPONet inference model: takes the S x S float RGB crop (0..255, NHWC) and returns its
 * outputs. Implemented in the app over LiteRT's {@code CompiledModel} (and in the JVM
 * tests over the same CompiledModel API backed by LiteRT's C library); the core only needs this.
 */
public interface LandmarkModel {
  /** Input side S (the crop is S x S). */
  int inputSize();

  /**
   * Run on one crop of {@code S * S * 3} floats. The array is the caller's scratch
   * ({@link FaceAnalyzer} reuses it for the next face): read it during the call, do not keep it.
   */
  ModelOutputs run(float[] crop);
}
