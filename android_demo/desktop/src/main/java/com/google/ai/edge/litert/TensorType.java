package com.google.ai.edge.litert;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Desktop stand-in for LiteRT's {@code TensorType} (Model.kt, a Kotlin data class): element
 * type and layout of a model input or output, as {@link CompiledModel#getInputTensorType}
 * returns it. Getters are the ones Kotlin generates for Java callers.
 */
public final class TensorType {
  /** Element types of the Kotlin API (2.x): INT, FLOAT, INT8, BOOLEAN, INT64. */
  public enum ElementType {
    INT,
    FLOAT,
    INT8,
    BOOLEAN,
    INT64
  }

  /** Dimensions (and optional strides) of a tensor. */
  public static final class Layout {
    private final List<Integer> dimensions;
    private final List<Integer> strides;

    public Layout(List<Integer> dimensions, List<Integer> strides) {
      this.dimensions = Collections.unmodifiableList(new ArrayList<>(dimensions));
      this.strides = Collections.unmodifiableList(new ArrayList<>(strides));
    }

    public Layout(List<Integer> dimensions) {
      this(dimensions, List.of());
    }

    public List<Integer> getDimensions() {
      return dimensions;
    }

    public List<Integer> getStrides() {
      return strides;
    }

    public int getRank() {
      return dimensions.size();
    }

    public boolean getHasStrides() {
      return !strides.isEmpty();
    }
  }

  private final ElementType elementType;
  private final Layout layout;

  public TensorType(ElementType elementType, Layout layout) {
    this.elementType = elementType;
    this.layout = layout;
  }

  public ElementType getElementType() {
    return elementType;
  }

  /** Nullable in the Kotlin API. */
  public Layout getLayout() {
    return layout;
  }

  /** TfLiteType / LiteRtElementType numbering -> the Kotlin enum. */
  static ElementType fromLiteRt(int t) throws LiteRtException {
    switch (t) {
      case 1:
        return ElementType.FLOAT;
      case 2:
        return ElementType.INT;
      case 4:
        return ElementType.INT64;
      case 6:
        return ElementType.BOOLEAN;
      case 9:
        return ElementType.INT8;
      default:
        throw new LiteRtException(
            Status.ErrorUnsupported, "element type " + t + " has no TensorType.ElementType");
    }
  }
}
