package com.google.ai.edge.litert;

/**
 * Desktop stand-in for LiteRT's {@code Status} (LiteRtException.kt): the subset of status
 * codes this bridge reports, with the real codes.
 */
public enum Status {
  Ok(0),
  ErrorInvalidArgument(1),
  ErrorRuntimeFailure(3),
  ErrorUnsupported(5),
  ErrorNotFound(6),
  ErrorFileIO(500),
  ErrorInvalidFlatbuffer(501);

  private final int code;

  Status(int code) {
    this.code = code;
  }

  public int getCode() {
    return code;
  }
}
