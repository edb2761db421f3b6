"""The one interface every backend runner has: ``runner(images) -> outputs dict``."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

from lponet_tf.errors import ImageError, ModelFileError
from lponet_tf.metadata import OUTPUT_NAMES, ModelMetadata


class Runner:
    """Runs an LPONet on batches of face crops, whatever the file format.

    Subclasses implement :meth:`_run` for one batch of float32 pixels; this class checks
    the input, splits batches the backend cannot take in one call, and returns float32
    arrays under the fixed output names.

    Attributes:
        metadata: :class:`~lponet_tf.metadata.ModelMetadata` read from the model.
        backend: ``"keras"``, ``"tflite"`` or ``"onnx"``.
        path: the model file, or None for an in-memory Keras model.
        max_batch: largest batch one backend call accepts (None: any).

    Example:
        >>> runner = load_runner("lponet_lite_int8.tflite", threads=2)   # doctest: +SKIP
        >>> out = runner(np.zeros((4, 128, 128, 3), np.float32))          # doctest: +SKIP
        >>> out["heatmaps"].shape                                          # doctest: +SKIP
        (4, 32, 32, 68)
    """

    backend = "base"
    max_batch: Optional[int] = None

    def __init__(self, metadata: ModelMetadata, path=None):
        self.metadata = metadata
        self.path = None if path is None else os.fspath(path)

    def __call__(self, images) -> Dict[str, np.ndarray]:
        """Analyse face crops.

        Args:
            images: ``(N, S, S, 3)`` (or one ``(S, S, 3)`` crop, treated as N = 1) RGB
                pixels in ``metadata.pixel_range`` (0..255), any numeric dtype.

        Returns:
            ``{"heatmaps": (N, S/4, S/4, K), "pose": (N, 3, 3) | (N, 3),
            "occlusion": (N, S/4, S/4, 2)}`` float32 numpy arrays, dequantised.

        Raises:
            ImageError: wrong rank or size.
        """
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        s = self.metadata.input_size
        if x.ndim != 4 or x.shape[1:] != (s, s, 3):
            raise ImageError(f"expected images of shape (N, {s}, {s}, 3), got {x.shape}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        step = self.max_batch or max(len(x), 1)
        parts = [self._run(x[i : i + step]) for i in range(0, len(x), step)]
        if len(parts) == 1:
            out = parts[0]
        else:
            out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return {k: np.asarray(out[k], np.float32) for k in OUTPUT_NAMES}

    def _run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the backend's resources (the runner is unusable afterwards)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        m = self.metadata
        return (f"{type(self).__name__}({self.path or 'in-memory'}, {m.input_size}px, "
                f"quantization={m.quantization}, io={m.io_dtype})")


def require_outputs(path, names, what: str = "outputs") -> None:
    """Raise :class:`ModelFileError` unless every LPONet output name is in ``names``."""
    missing = [n for n in OUTPUT_NAMES if n not in set(names)]
    if missing:
        raise ModelFileError(
            path, f"not an LPONet model: {what} {sorted(names)} lack {missing}"
        )


def metadata_from_shapes(input_shape, output_shapes: Dict[str, tuple], **fields) -> ModelMetadata:
    """Metadata of a file written without it (e.g. by another tool), from tensor shapes."""
    pose_shape = tuple(output_shapes["pose"])
    return ModelMetadata(
        input_size=int(input_shape[1]),
        num_landmarks=int(output_shapes["heatmaps"][-1]),
        pose="6d" if len(pose_shape) == 3 else "euler",
        **fields,
    )


def check_metadata(path, metadata: ModelMetadata, input_shape) -> None:
    """The stored metadata must describe the graph it travels with."""
    size = input_shape[1]
    if size not in (None, -1) and int(size) != metadata.input_size:
        raise ModelFileError(
            path, f"metadata says input_size={metadata.input_size} but the model takes {size}"
        )
