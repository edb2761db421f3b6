"""The one interface every backend runner has: ``runner(images) -> outputs dict``, and the
check that a model file's tensors are those of the LPONet contract."""
from __future__ import annotations

import os
import threading
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from lponet_tf.errors import ImageError, ModelFileError
from lponet_tf.metadata import OUTPUT_NAMES, ModelMetadata
from lponet_tf.after_fork import renew_after_fork

#: Landmarks of a file that carries no ``lponet_metadata``: the 68-point iBUG contract
#: (``docs/CONVENTIONS.md``). Files written by our exporters say their own count.
CONTRACT_LANDMARKS = 68
#: Element types a Keras model may compute its input and outputs in (mixed precision
#: and float64 training keep the heads in the variable dtype; outputs are cast to float32).
KERAS_FLOATS = ("float16", "bfloat16", "float32", "float64")

class Runner:
    """Runs an LPONet on batches of face crops, whatever the file format.

    Subclasses implement :meth:`_run` for one batch of float32 pixels; this class checks
    the input, splits batches the backend cannot take in one call, checks that the
    outputs have the contract's shapes, and returns float32 arrays under the fixed
    output names.

    Thread safety: one runner may be called from several threads at once and gives
    each call the result it would get alone. Backends that keep their tensors inside
    one object (a LiteRT interpreter, a Keras model's predict function) take turns on a
    lock per runner; onnxruntime sessions run concurrent calls themselves
    (:attr:`concurrent`). For parallel inference on many cores, use one runner per
    thread (``benchmarks/bench_threads.py`` measures both).

    Attributes:
        metadata: :class:`~lponet_tf.metadata.ModelMetadata` read from the model.
        backend: ``"keras"``, ``"tflite"`` or ``"onnx"``.
        path: the model file, or None for an in-memory Keras model.
        max_batch: largest batch one backend call accepts (None: any).
        concurrent: whether the backend itself runs calls from several threads at once
            (else calls to this runner take turns).

    Example:
        >>> runner = load_runner("lponet_lite_int8.tflite", threads=2)   # doctest: +SKIP
        >>> out = runner(np.zeros((4, 128, 128, 3), np.float32))          # doctest: +SKIP
        >>> out["heatmaps"].shape                                          # doctest: +SKIP
        (4, 32, 32, 68)
    """

    backend = "base"
    max_batch: Optional[int] = None
    concurrent = False

    def __init__(self, metadata: ModelMetadata, path=None):
        self.metadata = metadata
        self.path = None if path is None else os.fspath(path)
        self._lock = threading.Lock()
        self._forked = False  # set in a forked child: the backend is rebuilt by the first call
        renew_after_fork(self)

    def __call__(self, images) -> Dict[str, np.ndarray]:
        """Analyse face crops.

        Args:
            images: ``(N, S, S, 3)`` (or one ``(S, S, 3)`` crop, treated as N = 1) RGB
                pixels in ``metadata.pixel_range`` (0..255), any numeric dtype.

        Returns:
            ``{"heatmaps": (N, S/4, S/4, K), "pose": (N, 3, 3) | (N, 3),
            "occlusion": (N, S/4, S/4, 2)}`` float32 numpy arrays, dequantised
            (N = 0: empty arrays of those shapes, without running the model).

        Raises:
            ImageError: wrong rank or size.
            ModelFileError: the model returned other shapes than its contract (a file
                whose declared shapes left a dimension open).
        """
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        s = self.metadata.input_size
        if x.ndim != 4 or x.shape[1:] != (s, s, 3):
            raise ImageError(f"expected images of shape (N, {s}, {s}, 3), got {x.shape}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) == 0:  # no faces: empty outputs of the contract's shapes, no model call
            shapes = self.metadata.tensor_shapes()
            return {k: np.zeros((0, *shapes[k][1:]), np.float32) for k in OUTPUT_NAMES}
        step = self.max_batch or len(x)
        parts = [self._checked_run(x[i : i + step]) for i in range(0, len(x), step)]
        if len(parts) == 1:
            out = parts[0]
        else:
            out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return {k: np.asarray(out[k], np.float32) for k in OUTPUT_NAMES}

    def _checked_run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        if getattr(self, "_forked", False):  # (a subclass may not have run Runner.__init__)
            with self._lock:
                if self._forked:
                    self._reopen()
                    self._forked = False
        if self.concurrent:
            out = self._run(batch)
        else:
            with self._lock:
                out = self._run(batch)
        expected = self.metadata.tensor_shapes()
        wrong = [f"output {k!r}: expected {format_shape(expected[k], len(batch))}, got "
                 f"{'nothing' if k not in out else format_shape(np.shape(out[k]))}"
                 for k in OUTPUT_NAMES
                 if k not in out or np.shape(out[k]) != (len(batch),) + expected[k][1:]]
        if wrong:
            raise ModelFileError(self.path or "in-memory model",
                                 "the model does not match its contract: " + "; ".join(wrong))
        return out

    def _run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def _after_fork(self) -> None:
        """In a forked child (:mod:`lponet_tf.after_fork`): a lock no parent thread
        holds, and the backend rebuilt by the next call (:meth:`_reopen`)."""
        self._lock = threading.Lock()
        self._forked = True

    def _reopen(self) -> None:
        """Rebuild the backend in a forked child; nothing for a backend that needs nothing."""

    def close(self) -> None:
        """Release the backend's resources (the runner is unusable afterwards; call it
        when no other thread is using the runner)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        m = self.metadata
        return (f"{type(self).__name__}({self.path or 'in-memory'}, {m.input_size}px, "
                f"quantization={m.quantization}, io={m.io_dtype}"
                + (f"/{m.outputs_dtype}" if m.outputs_dtype != m.io_dtype else "") + ")")


def require_outputs(path, names, what: str = "outputs") -> None:
    """Raise :class:`ModelFileError` unless every LPONet output name is in ``names``."""
    missing = [n for n in OUTPUT_NAMES if n not in set(names)]
    if missing:
        raise ModelFileError(
            path, f"not an LPONet model: {what} {sorted(names)} lack {missing}"
        )


def metadata_from_shapes(input_shape, output_shapes: Dict[str, tuple], **fields) -> ModelMetadata:
    """Metadata of a file written without it (e.g. by another tool), from tensor shapes.

    Such a file is held to the default contract: a fixed square input size and
    :data:`CONTRACT_LANDMARKS` landmarks; the pose head is told by the pose output's rank.
    """
    size = normalize_shape(input_shape)[1] if len(input_shape) > 1 else None
    if size is None:
        raise ValueError(f"the input shape {format_shape(input_shape)} has no fixed size")
    pose_shape = tuple(output_shapes["pose"])
    return ModelMetadata(
        input_size=int(size),
        num_landmarks=CONTRACT_LANDMARKS,
        pose="6d" if len(pose_shape) == 3 else "euler",
        **fields,
    )


def normalize_shape(shape) -> Tuple[Optional[int], ...]:
    """A tensor shape with every open dimension (None, -1, a symbolic name) as None."""
    return tuple(int(d) if isinstance(d, (int, np.integer)) and d >= 0 else None
                 for d in shape)


def format_shape(shape, batch=None) -> str:
    """``(N, 64, 64, 3)``: the batch (None) as N unless given, other open dims as ?."""
    dims = list(normalize_shape(shape))
    if dims and dims[0] is None:
        dims[0] = "N" if batch is None else batch
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def _shape_matches(expected: Sequence[Optional[int]], got: Sequence[Optional[int]]) -> bool:
    # An open dimension in the file is checked on the real outputs at run time.
    return len(expected) == len(got) and all(
        e is None or g is None or e == g for e, g in zip(expected, got))


def check_contract(path, metadata: ModelMetadata, inputs: List[Tuple[str, tuple, str]],
                   outputs: Dict[str, Tuple[tuple, str]], dtypes: Iterable[str],
                   stored: bool = True, output_dtypes: Optional[Iterable[str]] = None) -> None:
    """Refuse a model whose tensors are not those ``metadata`` describes.

    Args:
        path: the file (or model name) the error names.
        metadata: the file's stored metadata, or what :func:`metadata_from_shapes` made.
        inputs: ``[(name, shape, dtype name)]`` of the graph's inputs.
        outputs: ``{name: (shape, dtype name)}`` of its outputs (at least the LPONet
            three).
        dtypes: element types the contract allows for the input and the outputs
            (numpy names, e.g. ``("float32",)``; a quantised TFLite: its ``io_dtype``).
        stored: whether ``metadata`` was read from the file (for the message).
        output_dtypes: element types the outputs may have when they differ from the
            input's (an integer input with float outputs); None: ``dtypes``.

    Raises:
        ModelFileError: naming the file and, per tensor, the expected and actual shape or
            type; or what in the stored metadata contradicts itself.
    """
    problems = list(metadata.problems())
    dtypes = tuple(dtypes)
    shapes = metadata.tensor_shapes()
    if len(inputs) != 1:
        problems.append(f"expected one image input, got {[name for name, _, _ in inputs]}")
    tensors = [("input", *inputs[0], shapes["image"])] if inputs else []
    tensors += [("output", k, outputs[k][0], outputs[k][1], shapes[k]) for k in OUTPUT_NAMES]
    out_dtypes = dtypes if output_dtypes is None else tuple(output_dtypes)
    for kind, name, shape, dtype, expected in tensors:
        got = normalize_shape(shape)
        if not _shape_matches(expected, got):
            problems.append(f"{kind} {name!r} shape: expected {format_shape(expected)}, "
                            f"got {format_shape(got)}")
        allowed = dtypes if kind == "input" else out_dtypes
        if dtype not in allowed:
            want = allowed[0] if len(allowed) == 1 else " or ".join(allowed)
            problems.append(f"{kind} {name!r} type: expected {want}, got {dtype}")
    if problems:
        source = ("its lponet metadata" if stored else
                  f"the LPONet contract for a file without lponet metadata "
                  f"({CONTRACT_LANDMARKS} landmarks, heatmaps at 1/4 of the input size)")
        raise ModelFileError(path, f"the model does not match {source}: " + "; ".join(problems))
