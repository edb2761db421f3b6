package com.google.ai.edge.litert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The version pin: the bridge declares the LiteRT 2.3.0 C API and refuses any other wheel. */
class NativeLiteRtTest {
  @Test
  void wheelVersionIsThePinnedOne() {
    Path lib = Path.of(System.getProperty("lponet.litert.lib"));
    assertEquals(NativeLiteRt.PINNED_VERSION, NativeLiteRt.wheelVersion(lib));
  }

  @Test
  void bridgeRefusesAnotherVersion() {
    NativeLiteRt.ensureLoaded();
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> NativeLiteRt.nativeLoad(System.getProperty("lponet.litert.lib"), "2.4.0"));
    assertTrue(e.getMessage().contains("2.3.0"), e.getMessage());
  }
}
