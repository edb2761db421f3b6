"""LiteRT (``ai_edge_litert``) backend: ``.tflite`` files, float or quantised I/O."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

from lponet_tf import metadata as md
from lponet_tf.errors import ClosedError, ModelFileError
from lponet_tf.runtime.base import Runner, check_contract, metadata_from_shapes, require_outputs


def quantize(x: np.ndarray, details: dict) -> np.ndarray:
    """Float values -> the tensor's integer type with its (scale, zero point)."""
    dtype = details["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return x.astype(dtype, copy=False)
    scale, zero = details["quantization"]
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, details: dict) -> np.ndarray:
    """Integer tensor values -> float32 with the tensor's (scale, zero point)."""
    if not np.issubdtype(q.dtype, np.integer):
        return q.astype(np.float32, copy=False)
    scale, zero = details["quantization"]
    return ((q.astype(np.float32) - zero) * scale).astype(np.float32)


def _spec(details: dict):
    """``(shape with -1 for open dimensions, dtype name)`` of a LiteRT tensor."""
    return details["shape_signature"], np.dtype(details["dtype"]).name


class TFLiteRunner(Runner):
    """Runs a ``.tflite`` LPONet through its ``serving_default`` signature.

    Integer (int8 / uint8) inputs are quantised and integer outputs dequantised inside,
    with each tensor's own scale and zero point, so callers always pass 0..255 pixels and
    get float outputs. A model with a dynamic batch dimension takes whole batches (the
    signature runner resizes its input); a fixed-batch model is run per chunk.

    The interpreter keeps its tensors inside itself, so calls from several threads take
    turns on the runner's lock (see :class:`Runner`).

    Args:
        path: the ``.tflite`` file.
        threads: CPU threads for LiteRT (None: LiteRT's default).

    Raises:
        ModelFileError: missing, not a TFLite flatbuffer, corrupt, or not an LPONet.
    """

    backend = "tflite"

    def __init__(self, path, threads: Optional[int] = None):
        path = os.fspath(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise ModelFileError(path, f"cannot read model file: {exc}") from exc
        try:
            stored = md.read_tflite(data)
        except md.MetadataError as exc:
            raise ModelFileError(path, str(exc)) from exc
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._interpreter = Interpreter(model_content=data, num_threads=threads)
            signatures = self._interpreter.get_signature_list()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(path, f"LiteRT cannot load it: {exc}") from exc
        if not signatures:
            raise ModelFileError(path, "not an LPONet export: the model has no signature")
        key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
        self._signature_key, self._threads = key, threads
        self._signature = self._interpreter.get_signature_runner(key)
        self._inputs = self._signature.get_input_details()
        self._outputs = self._signature.get_output_details()
        require_outputs(path, self._outputs, "signature outputs")
        if len(self._inputs) != 1:
            raise ModelFileError(path, f"expected one image input, got {sorted(self._inputs)}")
        self._input_name, self._input = next(iter(self._inputs.items()))
        signature_shape = self._input["shape_signature"]
        try:
            io_dtype = np.dtype(self._input["dtype"]).name
            # A file without metadata: float outputs behind an integer input are allowed
            # (what `lponet export --float-outputs` writes).
            floats = all(np.dtype(v["dtype"]).name == "float32" for v in self._outputs.values())
            meta = stored or metadata_from_shapes(
                signature_shape,
                {k: v["shape_signature"] for k, v in self._outputs.items()},
                format="tflite",
                io_dtype=io_dtype,
                output_dtype="float32" if floats and io_dtype != "float32" else None,
            )
        except ValueError as exc:  # no fixed input size, or an unusable input type
            raise ModelFileError(path, str(exc)) from exc
        check_contract(
            path, meta, [(k, *_spec(v)) for k, v in self._inputs.items()],
            {k: _spec(v) for k, v in self._outputs.items()},
            (meta.io_dtype,), stored=stored is not None, output_dtypes=(meta.outputs_dtype,),
        )
        super().__init__(meta, path)
        self.max_batch = None if signature_shape[0] == -1 else int(signature_shape[0])
        self._data = data  # the interpreter reads the buffer in place: keep it alive

    @property
    def input_details(self) -> dict:
        """LiteRT details of the image input (dtype, quantization)."""
        return dict(self._input)

    def _run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        if self._signature is None:
            raise ClosedError(f"{self.path}: this runner was closed")
        raw = self._signature(**{self._input_name: quantize(batch, self._input)})
        return {k: dequantize(raw[k], self._outputs[k]) for k in md.OUTPUT_NAMES}

    def _reopen(self) -> None:
        if self._signature is None:  # closed before the fork: stays closed
            return
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_content=self._data, num_threads=self._threads)
        self._signature = self._interpreter.get_signature_runner(self._signature_key)

    def close(self) -> None:
        with self._lock:  # after a call in flight, never in the middle of one
            self._signature = self._interpreter = None
