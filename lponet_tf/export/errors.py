"""The export package's error type."""
from __future__ import annotations

from lponet_tf.errors import LPONetError


class ExportError(LPONetError, RuntimeError):
    """A conversion failed, or the options ask for an impossible combination."""
