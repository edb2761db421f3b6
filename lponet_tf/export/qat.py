"""Quantisation-aware training (QAT) int8 export, isolated in a subprocess.

tensorflow-model-optimization (tfmot) accepts only ``tf_keras`` models, and importing it
sets ``TF_USE_LEGACY_KERAS=1`` for the whole process, which would silently switch
``tf.keras`` for everything else running there. :func:`export_qat` therefore runs
:mod:`lponet_tf.export.qat_worker` with the same Python in a child process and only
exchanges files with it: the Keras model (``.keras``), the face folder, the ``.tflite``
result and a JSON log. The calling process never imports tfmot.

Example:
    >>> result = export_qat("m.keras", "m_qat.tflite", data="/data/300w",
    ...                     steps=300)                                  # doctest: +SKIP
    >>> result.log["loss_last"] < result.log["loss_first"]              # doctest: +SKIP
    True
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from typing import Optional, Sequence, Tuple

from lponet_tf.export.errors import ExportError


@dataclasses.dataclass
class QATResult:
    """The written ``.tflite`` and the worker's log (losses, seconds per phase)."""

    path: str
    log: dict


def export_qat(
    model,
    output,
    data,
    steps: int = 300,
    batch_size: int = 8,
    learning_rate: float = 1e-5,
    faces: int = 400,
    calibration_steps: int = 50,
    io_dtype: str = "float32",
    keep_float: Sequence[str] = (),
    target: str = "teacher",
    loss_weights: Tuple[float, float, float] = (1.0, 1.0, 10.0),
    preset: Optional[str] = None,
    seed: int = 0,
    timeout: Optional[float] = None,
    verbose: bool = False,
) -> QATResult:
    """Fine-tune a QAT twin of ``model`` on real faces and write an int8 ``.tflite``.

    Args:
        model: ``.keras`` path or an in-memory Keras LPONet (saved to a temporary file
            for the worker).
        output: the ``.tflite`` to write.
        data: face folder (image + ``.pts``); its training part is used
            (:mod:`lponet_tf.export.representative`).
        steps, batch_size, learning_rate: Adam fine-tuning schedule.
        faces: number of training crops to draw from.
        calibration_steps: forward passes that set the activation ranges before
            fine-tuning (see :mod:`lponet_tf.export.qat_worker`).
        io_dtype: ``"float32"``, ``"int8"`` or ``"uint8"`` input/output tensors.
        keep_float: regular expressions of Keras layer names to leave unquantised
            (the pose head always is: ``qat_worker.POSE_HEAD_LAYERS``).
        target: ``"teacher"`` (match the float model: parity) or ``"labels"``
            (ground-truth heatmaps).
        loss_weights: ``(alpha, beta, gamma)`` for heatmap, pose, occlusion (the paper's
            stage-1 weights by default).
        preset: preset name for the metadata.
        seed: batch sampling and face choice.
        timeout: seconds before the worker is killed (None: no limit).
        verbose: let the worker print its progress.

    Returns:
        :class:`QATResult`.

    Raises:
        ExportError: with int8 / uint8 I/O, a ``keep_float`` pattern that matches the
            heatmaps or occlusion output layer (refused before any work), or
            the worker failed (its error output is in the message).
    """
    if target not in ("teacher", "labels"):
        raise ValueError(f"target must be 'teacher' or 'labels', got {target!r}")
    if io_dtype != "float32":
        from lponet_tf.export.pipeline import check_qat_keep_float

        check_qat_keep_float(keep_float)
    with tempfile.TemporaryDirectory(prefix="lponet_qat_") as tmp:
        model_path = model
        if not isinstance(model, (str, os.PathLike)):
            model_path = os.path.join(tmp, "model.keras")
            model.save(model_path)
        spec = {
            "model": os.fspath(model_path), "data": os.fspath(data),
            "output": os.fspath(output), "steps": int(steps), "batch_size": int(batch_size),
            "learning_rate": float(learning_rate), "faces": int(faces), "io_dtype": io_dtype,
            "calibration_steps": int(calibration_steps),
            "keep_float": list(keep_float), "target": target,
            "loss_weights": [float(w) for w in loss_weights], "preset": preset,
            "seed": int(seed), "log": os.path.join(tmp, "log.json"), "verbose": verbose,
        }
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        env = dict(os.environ)
        env.pop("TF_USE_LEGACY_KERAS", None)  # the worker's tfmot import sets it itself
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        cmd = [sys.executable, "-m", "lponet_tf.export.qat_worker", spec_path]
        try:
            proc = subprocess.run(cmd, env=env, timeout=timeout, text=True,
                                  stdout=None if verbose else subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        except subprocess.TimeoutExpired as exc:
            raise ExportError(f"QAT worker timed out after {timeout} s") from exc
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or "").strip().splitlines()[-15:])
            raise ExportError(f"QAT worker failed (exit {proc.returncode}):\n{tail}")
        with open(spec["log"]) as f:
            log = json.load(f)
    return QATResult(os.fspath(output), log)
