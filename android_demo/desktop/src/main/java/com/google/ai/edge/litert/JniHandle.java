package com.google.ai.edge.litert;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Desktop stand-in for LiteRT's {@code JniHandle} (Common.kt): the base of
 * {@link CompiledModel} and {@link TensorBuffer}; {@link #close} releases once, and any use
 * after it throws {@link IllegalStateException}, as in the real class.
 */
public abstract class JniHandle implements AutoCloseable {
  private final AtomicBoolean destroyed = new AtomicBoolean(false);

  JniHandle() {}

  protected final void assertNotDestroyed() {
    if (destroyed.get()) {
      throw new IllegalStateException("The handle has been destroyed.");
    }
  }

  protected abstract void destroy();

  @Override
  public final void close() {
    if (destroyed.compareAndSet(false, true)) {
      destroy();
    }
  }
}
