"""Keras backend: an in-memory LPONet or a ``.keras`` file (the reference for parity)."""
from __future__ import annotations

import os
import zipfile
from typing import Dict, Optional

import numpy as np

from lponet_tf.errors import ModelFileError
from lponet_tf.metadata import MetadataError, ModelMetadata
from lponet_tf.runtime.base import KERAS_FLOATS, Runner, check_contract, require_outputs


def load_keras_model(path):
    """Load a ``.keras`` LPONet (``safe_mode=True``), with typed errors.

    Raises:
        ModelFileError: missing, not a Keras archive, or not an LPONet.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(path, "model file not found")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(path, "not a .keras archive (not a zip file)")
    import keras

    import lponet_tf.model  # noqa: F401  registers LPONet and GramSchmidt for loading

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive
        raise ModelFileError(path, f"Keras cannot load it: {exc}") from exc
    if not hasattr(model, "lponet_config"):
        raise ModelFileError(path, f"not an LPONet model (a {type(model).__name__})")
    return model


class KerasRunner(Runner):
    """Runs a Keras :class:`~lponet_tf.model.LPONet` (training outputs are dropped).

    Args:
        model: an LPONet, or the path of a ``.keras`` file.
        threads: ignored once TensorFlow's thread pools exist (set before first use
            through ``tf.config.threading``); kept for a uniform interface.
        preset: preset name for the metadata (default: guessed from the config).
    """

    backend = "keras"

    def __init__(self, model, threads: Optional[int] = None, preset: Optional[str] = None):
        path = None
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            model = load_keras_model(path)
        if not hasattr(model, "lponet_config"):
            raise ModelFileError(path or getattr(model, "name", "model"),
                                 "not an LPONet model (no lponet_config)")
        from lponet_tf.model import inference_model

        where = path or f"in-memory model {getattr(model, 'name', '')!r}"
        # Only an LPONet carries intermediate outputs to drop; anything else is checked as is.
        if getattr(model, "include_intermediate", False):
            model = inference_model(model)
        self.model = model
        require_outputs(where, self.model.output_names)
        try:
            meta = ModelMetadata.from_model(self.model, preset=preset)
        except MetadataError as exc:
            raise ModelFileError(where, str(exc)) from exc
        check_contract(where, meta, [_spec(t) for t in self.model.inputs],
                       {name: _spec(t)[1:] for name, t in _outputs(self.model).items()},
                       KERAS_FLOATS)
        super().__init__(meta, path)
        if threads:
            _try_set_threads(threads)

    def _run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        out = self.model.predict_on_batch(batch)
        return {k: np.asarray(v) for k, v in out.items()}


def _spec(tensor):
    """``(name, shape, dtype name)`` of a symbolic Keras tensor."""
    dtype = getattr(tensor.dtype, "name", tensor.dtype)
    return getattr(tensor, "name", "image"), tuple(tensor.shape), str(dtype)


def _outputs(model) -> dict:
    """``{output name: symbolic tensor}`` of a functional model."""
    structure = model.output
    if isinstance(structure, dict):
        return structure
    return dict(zip(model.output_names, model.outputs))


def _try_set_threads(threads: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised: the setting is fixed
        pass
