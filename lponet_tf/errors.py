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
