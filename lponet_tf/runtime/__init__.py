"""Backend runners with one interface for Keras, LiteRT (``.tflite``) and onnxruntime.

``load_runner(path_or_model)`` picks the backend from the file (or takes a Keras model)
and returns a :class:`~lponet_tf.runtime.base.Runner`::

    runner = load_runner("face_int8.tflite", threads=2)
    out = runner(crops)          # (N, S, S, 3) float32 0..255
    out["heatmaps"], out["pose"], out["occlusion"]
    runner.metadata.input_size   # read back from the file

Quantised inputs/outputs are handled inside. Only the chosen backend is imported: a
``.tflite`` runner never imports TensorFlow. Every runner checks the model's tensor shapes and
types against the LPONet contract and the file's metadata, and may be shared by threads
(:class:`~lponet_tf.runtime.base.Runner`).
"""
from __future__ import annotations

import os
from typing import Optional

from lponet_tf.errors import ModelFileError
from lponet_tf.runtime.base import Runner

BACKENDS = ("keras", "tflite", "onnx")
_SUFFIXES = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx"}
_ALIASES = {"litert": "tflite", "onnxruntime": "onnx", "ort": "onnx"}


def detect_backend(path) -> str:
    """Backend of a model file from its suffix, else from its first bytes.

    Raises:
        ModelFileError: missing file, or a format none of the backends reads.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(path, "model file not found")
    suffix = os.path.splitext(path)[1].lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] == b"TFL3":
        return "tflite"
    if head[:2] == b"PK":
        return "keras"
    raise ModelFileError(
        path, f"unknown model format (suffix {suffix or 'none'}; expected .keras, .tflite, .onnx)"
    )


def load_runner(path_or_model, backend: str = "auto", threads: Optional[int] = None,
                **options) -> Runner:
    """A runner for an LPONet file or in-memory Keras model.

    Args:
        path_or_model: ``.keras`` / ``.tflite`` / ``.onnx`` path, or a Keras LPONet.
        backend: ``"auto"`` (from the file), ``"keras"``, ``"tflite"`` (``"litert"``) or
            ``"onnx"`` (``"onnxruntime"``).
        threads: CPU threads of the backend (None: its default).
        **options: backend extras (``preset=`` for Keras models).

    Returns:
        A :class:`Runner`: ``runner(images) -> {"heatmaps", "pose", "occlusion"}`` and
        ``runner.metadata``.

    Raises:
        ModelFileError: the file is missing, corrupt, of another format, or not an LPONet
            (its tensors' shapes or types differ from the contract or its own metadata);
            the message names the file and what differs.

    Example:
        >>> runner = load_runner("lponet_lite.onnx", threads=1)   # doctest: +SKIP
        >>> runner.metadata.preset                                 # doctest: +SKIP
        'lponet_lite'
    """
    backend = _ALIASES.get(backend, backend)
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
    if not isinstance(path_or_model, (str, os.PathLike)):
        if backend not in ("auto", "keras"):
            raise ValueError(f"an in-memory model runs on the keras backend, not {backend!r}")
        from lponet_tf.runtime.keras_runner import KerasRunner

        return KerasRunner(path_or_model, threads=threads, **options)
    if backend == "auto":
        backend = detect_backend(path_or_model)
    elif not os.path.isfile(os.fspath(path_or_model)):
        raise ModelFileError(path_or_model, "model file not found")
    if backend == "tflite":
        from lponet_tf.runtime.tflite_runner import TFLiteRunner

        return TFLiteRunner(path_or_model, threads=threads)
    if backend == "onnx":
        from lponet_tf.runtime.onnx_runner import ONNXRunner

        return ONNXRunner(path_or_model, threads=threads)
    from lponet_tf.runtime.keras_runner import KerasRunner

    return KerasRunner(path_or_model, threads=threads, **options)


__all__ = ["BACKENDS", "Runner", "detect_backend", "load_runner"]
