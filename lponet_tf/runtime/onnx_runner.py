"""onnxruntime backend: ``.onnx`` files (float32, dynamic batch)."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

from lponet_tf import metadata as md
from lponet_tf.errors import ClosedError, ModelFileError
from lponet_tf.runtime.base import (
    Runner, check_contract, metadata_from_shapes, normalize_shape, require_outputs,
)


class ONNXRunner(Runner):
    """Runs an ``.onnx`` LPONet with onnxruntime's CPU provider.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (None: onnxruntime's default, one per core).

    Raises:
        ModelFileError: missing, not an ONNX model, or not an LPONet.
    """

    backend = "onnx"
    #: onnxruntime runs concurrent ``InferenceSession.run`` calls on one session.
    concurrent = True

    def __init__(self, path, threads: Optional[int] = None):
        import onnxruntime as ort

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ModelFileError(path, "model file not found")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # a bad file is reported by our error, not logs
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self._session = self._open(path, options)
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ModelFileError(path, f"onnxruntime cannot load it: {exc}") from exc
        self._options = options
        inputs = self._session.get_inputs()
        outputs = {o.name: (o.shape, onnx_dtype(o.type)) for o in self._session.get_outputs()}
        require_outputs(path, outputs)
        if len(inputs) != 1:
            raise ModelFileError(path, f"expected one image input, got {[i.name for i in inputs]}")
        try:
            stored = md.read_onnx_props(self._session.get_modelmeta().custom_metadata_map)
            meta = stored or metadata_from_shapes(
                inputs[0].shape, {k: v[0] for k, v in outputs.items()}, format="onnx")
        except ValueError as exc:  # MetadataError, or no fixed input size to read
            raise ModelFileError(path, str(exc)) from exc
        check_contract(path, meta, [(i.name, i.shape, onnx_dtype(i.type)) for i in inputs],
                       outputs, ("float32",), stored=stored is not None)
        super().__init__(meta, path)
        self._input_name = inputs[0].name
        self.max_batch = normalize_shape(inputs[0].shape)[0]

    @staticmethod
    def _open(path: str, options):
        import onnxruntime as ort

        return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])

    def _run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        session = self._session  # one read: close() from another thread may clear it
        if session is None:
            raise ClosedError(f"{self.path}: this runner was closed")
        values = session.run(list(md.OUTPUT_NAMES), {self._input_name: batch})
        return dict(zip(md.OUTPUT_NAMES, values))

    def _reopen(self) -> None:
        if self._session is None:  # closed before the fork: stays closed
            return
        try:  # from its file, read again (not kept in memory beside the session)
            self._session = self._open(self.path, self._options)
        except Exception as exc:
            raise ModelFileError(self.path, f"onnxruntime cannot load it again in this forked "
                                            f"process: {exc}") from exc

    def close(self) -> None:
        self._session = None


def onnx_dtype(type_name: str) -> str:
    """numpy name of an onnxruntime type string: ``"tensor(float)"`` -> ``"float32"``."""
    inner = type_name[len("tensor("):-1] if type_name.startswith("tensor(") else type_name
    return {"float": "float32", "double": "float64"}.get(inner, inner)
