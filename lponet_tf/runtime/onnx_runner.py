"""onnxruntime backend: ``.onnx`` files (float32, dynamic batch)."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

from lponet_tf import metadata as md
from lponet_tf.errors import ModelFileError
from lponet_tf.runtime.base import Runner, check_metadata, metadata_from_shapes, require_outputs


class ONNXRunner(Runner):
    """Runs an ``.onnx`` LPONet with onnxruntime's CPU provider.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (None: onnxruntime's default, one per core).

    Raises:
        ModelFileError: missing, not an ONNX model, or not an LPONet.
    """

    backend = "onnx"

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
            self._session = ort.InferenceSession(
                path, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped exceptions
            raise ModelFileError(path, f"onnxruntime cannot load it: {exc}") from exc
        inputs = self._session.get_inputs()
        outputs = {o.name: o.shape for o in self._session.get_outputs()}
        require_outputs(path, outputs)
        if len(inputs) != 1:
            raise ModelFileError(path, f"expected one image input, got {[i.name for i in inputs]}")
        self._input_name = inputs[0].name
        shape = [d if isinstance(d, int) else -1 for d in inputs[0].shape]
        try:
            stored = md.read_onnx_props(self._session.get_modelmeta().custom_metadata_map)
        except md.MetadataError as exc:
            raise ModelFileError(path, str(exc)) from exc
        if stored is None:
            stored = metadata_from_shapes(shape, outputs, format="onnx")
        check_metadata(path, stored, shape)
        super().__init__(stored, path)
        self.max_batch = None if shape[0] == -1 else int(shape[0])

    def _run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        values = self._session.run(list(md.OUTPUT_NAMES), {self._input_name: batch})
        return dict(zip(md.OUTPUT_NAMES, values))

    def close(self) -> None:
        self._session = None
