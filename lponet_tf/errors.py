"""Typed errors. Each names the file (and line) it is about, so bad data is easy to find."""
from __future__ import annotations

import os
from typing import Optional


class LPONetError(Exception):
    """Base class of every error this library raises on purpose."""


class DataError(LPONetError, ValueError):
    """A dataset file is missing, unreadable or malformed.

    Args:
        path: the offending file.
        message: what is wrong with it.
        line: 1-based line number inside ``path`` when the format is line based.
    """

    def __init__(self, path, message: str, line: Optional[int] = None):
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class ModelFileError(LPONetError, ValueError):
    """A model file (.keras / .tflite / .onnx) is missing, corrupt or not an LPONet."""

    def __init__(self, path, message: str):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")


class ImageError(LPONetError, ValueError):
    """An input image cannot be decoded or has an unusable shape / dtype."""


class ModelConfigError(LPONetError, ValueError):
    """An :class:`~lponet_tf.config.LPONetConfig` field has a wrong type or value.

    Args:
        field: the field's name (``"channels"``).
        value: the offending value.
        allowed: what the field accepts (``"a multiple of 8 in 8..512"``).
    """

    def __init__(self, field: str, value, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        shown = repr(value)
        if len(shown) > 80:  # a crafted file may hold megabytes in one field
            shown = shown[:77] + "..."
        super().__init__(f"LPONetConfig.{field} = {shown} is not allowed: must be {allowed}")


class ClosedError(LPONetError, RuntimeError):
    """A model runner or detector used after its ``close()`` (a call that was waiting for
    the model while another thread closed it gets this too)."""


class DataWarning(UserWarning):
    """Data that is read, but in a way its owner should know about (e.g. a labelled image
    turned upright by its EXIF orientation: its labels are taken to be in that frame)."""
