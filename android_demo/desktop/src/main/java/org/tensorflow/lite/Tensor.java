package org.tensorflow.lite;

/**
 * Subset of {@code org.tensorflow.lite.Tensor} (an interface in the real API too), so code
 * calling {@code shape()}, {@code name()}, {@code dataType()}, {@code numElements()} and
 * {@code numBytes()} compiles against both.
 */
public interface Tensor {
  DataType dataType();

  int numDimensions();

  int[] shape();

  int numElements();

  int numBytes();

  /** The graph tensor's name (e.g. {@code StatefulPartitionedCall:0}), as in the real API. */
  String name();

  /** Index of the tensor in the interpreter's input or output list. */
  int index();
}
