package com.google.ai.edge.litert;

/**
 * Desktop stand-in for LiteRT's {@code LiteRtException} (LiteRtException.kt): a checked
 * exception (the Kotlin methods declare it with {@code @Throws}), carrying a {@link Status}.
 */
public class LiteRtException extends Exception {
  private static final long serialVersionUID = 1L;
  private final transient Status status;

  public LiteRtException(Status status, String message) {
    super(message);
    this.status = status;
  }

  /** The status (a private property in the Kotlin class; here for the tests). */
  Status status() {
    return status;
  }
}
