"""One object that exports a Keras LPONet to every format and checks each export.

:class:`ModelExporter` is what the ``lponet export`` command and
``benchmarks/bench_export.py`` share: it keeps the expensive pieces (the SavedModel, the
int8 calibration, the face crops, the Keras model's outputs on the validation faces) so
several exports of one model cost one of each.

Example:
    >>> with ModelExporter(model, data="/data/300w") as ex:          # doctest: +SKIP
    ...     record = ex.export(ExportSpec("tflite", "int8"), "m_int8.tflite")
    ...     record["parity"]["landmark_px_mean"]
"""
from __future__ import annotations

import dataclasses
import os
import re
import time
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from lponet_tf.export.errors import ExportError
from lponet_tf.export.tflite import (CALIBRATED_MODES, PTQ_MODES, TFLiteExporter, embed_metadata,
                                     write_bytes)

FORMATS = ("tflite", "onnx")
QUANTIZE_MODES = PTQ_MODES + ("qat",)


@dataclasses.dataclass(frozen=True)
class ExportSpec:
    """One export: format, quantisation, I/O type and float islands.

    Attributes:
        format: ``"tflite"`` or ``"onnx"``.
        quantize: ``"none"``, ``"fp16"``, ``"dynamic"``, ``"int8"``, ``"int16x8"`` or
            ``"qat"`` (TFLite only except ``"none"``).
        io_dtype: ``"float32"``, or ``"int8"`` / ``"uint8"`` for int8 and QAT.
        keep_float: int8: node groups / regexes left in float
            (:data:`lponet_tf.export.debug.KEEP_FLOAT_GROUPS`, ``"auto"``); QAT: Keras
            layer-name regexes.
        float_outputs: int8 with an integer ``io_dtype``: only the input is integer, the
            outputs are float32 (no int8 rounding of the rotation output).
    """

    format: str = "tflite"
    quantize: str = "none"
    io_dtype: str = "float32"
    keep_float: Tuple[str, ...] = ()
    float_outputs: bool = False

    def __post_init__(self):
        object.__setattr__(self, "keep_float", tuple(self.keep_float))
        if self.format not in FORMATS:
            raise ExportError(f"format must be one of {FORMATS}, got {self.format!r}")
        if self.quantize not in QUANTIZE_MODES:
            raise ExportError(f"quantize must be one of {QUANTIZE_MODES}, got {self.quantize!r}")
        if self.format == "onnx" and (self.quantize != "none" or self.io_dtype != "float32"):
            raise ExportError("ONNX export is float32 only (quantize none, io float32)")
        if self.io_dtype != "float32" and self.quantize not in ("int8", "qat"):
            raise ExportError(f"io_dtype {self.io_dtype!r} needs int8 or qat")
        if self.keep_float and self.quantize not in ("int8", "qat"):
            raise ExportError("keep_float applies to int8 and qat only")
        for entry in self.keep_float:  # a bad regex fails now, not after the calibration
            try:
                re.compile(entry)
            except re.error as exc:
                raise ExportError(f"keep_float {entry!r} is not a regular expression "
                                  f"({exc})") from None
        if self.float_outputs and (self.quantize != "int8" or self.io_dtype == "float32"):
            raise ExportError("float_outputs needs int8 with an integer io_dtype (int8 or uint8)")
        if self.keep_float and self.io_dtype != "float32" and self.quantize == "qat":
            # Checked here, before QAT: the converter would leave the outputs of float
            # layers float, against the file's integer I/O metadata.
            check_qat_keep_float(self.keep_float)

    @property
    def label(self) -> str:
        """Short human name, e.g. ``tflite int8 (uint8 I/O; float: pose)``."""
        text = f"{self.format} {'fp32' if self.quantize == 'none' else self.quantize}"
        extras = []
        if self.float_outputs:
            extras.append(f"{self.io_dtype} input, float outputs")
        elif self.io_dtype != "float32":
            extras.append(f"{self.io_dtype} I/O")
        if self.keep_float:
            extras.append("float: " + ",".join(self.keep_float))
        return text + (f" ({'; '.join(extras)})" if extras else "")

    def filename(self, stem: str) -> str:
        """Default file name, e.g. ``lponet_lite_int8_uint8io.tflite``."""
        name = f"{stem}_{'fp32' if self.quantize == 'none' else self.quantize}"
        if self.io_dtype != "float32":
            name += f"_{self.io_dtype}" + ("in" if self.float_outputs else "io")
        if self.keep_float:  # regexes reduced to their word characters
            tags = [re.sub(r"\W+", "", k) for k in self.keep_float]
            name += "_float-" + ("-".join(t for t in tags if t) or "custom")
        return name + "." + self.format


class ModelExporter:
    """Exports one Keras LPONet to several formats and measures their parity.

    Args:
        model: Keras LPONet, or a ``.keras`` path.
        data: face folder for int8 calibration and QAT (training part of the hold-out).
        eval_data: face folder for parity (validation part; default ``data``).
        calibration_faces: number of calibration crops.
        eval_faces: number of validation crops (None: all).
        preset: preset name for the metadata.
        qat_options: keyword arguments of :func:`lponet_tf.export.qat.export_qat`
            (``steps``, ``batch_size``, ...).
        opset: ONNX opset of the ONNX exports (>= 13).
    """

    def __init__(self, model, data=None, eval_data=None, calibration_faces: int = 200,
                 eval_faces: Optional[int] = None, preset: Optional[str] = None,
                 qat_options: Optional[dict] = None, opset: Optional[int] = None):
        from lponet_tf.runtime.keras_runner import KerasRunner

        self.model_path = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
        self.reference = KerasRunner(model, preset=preset)
        self.model = self.reference.model
        self.preset = preset or self.reference.metadata.preset
        self.data = None if data is None else os.fspath(data)
        self.eval_data = self.data if eval_data is None else os.fspath(eval_data)
        self.calibration_faces = calibration_faces
        self.eval_faces = eval_faces
        self.qat_options = dict(qat_options or {})
        self.opset = opset
        self._tflite = TFLiteExporter(self.model, preset=self.preset)
        self._cache: Dict[str, object] = {}

    # -- data ----------------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return self.model.lponet_config.input_size

    def calibration(self) -> np.ndarray:
        """Training-part face crops for int8 calibration."""
        if "calibration" not in self._cache:
            if self.data is None:
                raise ExportError("int8 needs real faces: give a face folder (--data)")
            from lponet_tf.export.representative import load_faces

            self._cache["calibration"] = load_faces(
                self.data, self.input_size, "train", limit=self.calibration_faces).images
        return self._cache["calibration"]

    @property
    def calibrated_faces(self) -> Optional[int]:
        """How many calibration crops the exports so far used (None: none calibrated; fewer
        than ``calibration_faces`` when the folder's training part has fewer faces)."""
        crops = self._cache.get("calibration")
        return None if crops is None else len(crops)

    def validation(self):
        """Validation-part :class:`~lponet_tf.export.representative.FaceCrops`."""
        if "validation" not in self._cache:
            if self.eval_data is None:
                raise ExportError("parity needs real faces: give a face folder (--data)")
            from lponet_tf.export.representative import load_faces

            self._cache["validation"] = load_faces(
                self.eval_data, self.input_size, "val", limit=self.eval_faces)
        return self._cache["validation"]

    def reference_outputs(self) -> Dict[str, np.ndarray]:
        if "reference" not in self._cache:
            from lponet_tf.export.parity import run_batched

            self._cache["reference"] = run_batched(self.reference, self.validation().images)
        return self._cache["reference"]

    def analysis(self):
        """The int8 :class:`~lponet_tf.export.debug.QuantizationAnalysis` (calibrated once)."""
        if "analysis" not in self._cache:
            from lponet_tf.export.debug import QuantizationAnalysis

            self._cache["analysis"] = QuantizationAnalysis(
                self._tflite.saved_model_dir, self.calibration())
        return self._cache["analysis"]

    def check_keep_float(self, keep_float) -> None:
        """Refuse an int8 ``keep_float`` entry that selects no node, on the names of a float
        conversion (seconds) rather than after the calibration (a minute): the calibrated
        model's ops carry the same names. ``"auto"`` is chosen by the calibration itself."""
        from lponet_tf.export.debug import op_output_names, selected_nodes

        if "float_names" not in self._cache:
            self._cache["float_names"] = op_output_names(self._tflite.convert("none"))
        for entry in keep_float:
            if entry != "auto":
                selected_nodes(entry, self._cache["float_names"])

    # -- exports -------------------------------------------------------------------
    def export(self, spec: ExportSpec, output, parity: bool = True) -> dict:
        """Write one export and (optionally) measure its parity.

        Returns:
            A record: ``spec`` fields, ``label``, ``path``, ``size_bytes``,
            ``seconds``, ``parity`` (:meth:`ParityResult.to_dict` or None), ``qat``
            (the QAT log without the per-step losses, or None).
        """
        output = os.fspath(output)
        start = time.time()
        qat_log = None
        if spec.format == "onnx":
            from lponet_tf.export.onnx import DEFAULT_OPSET, export_onnx

            export_onnx(self.model, output, opset=self.opset or DEFAULT_OPSET,
                        preset=self.preset)
        elif spec.quantize == "qat":
            qat_log = self._export_qat(spec, output)
        elif spec.quantize == "int8" and spec.keep_float:
            self.check_keep_float(spec.keep_float)  # a typo fails now, not after calibrating
            data = self.analysis().quantize(spec.keep_float, spec.io_dtype, spec.float_outputs)
            write_bytes(output, embed_metadata(
                data, self._tflite.metadata("int8", spec.io_dtype, spec.float_outputs)))
        else:
            rep = self.calibration() if spec.quantize in CALIBRATED_MODES else None
            self._tflite.export(output, spec.quantize, rep, spec.io_dtype, spec.float_outputs)
        seconds = time.time() - start
        record = dict(dataclasses.asdict(spec), label=spec.label, path=output,
                      size_bytes=os.path.getsize(output), seconds=seconds,
                      parity=None, qat=qat_log)
        if parity:
            record["parity"] = self.parity(output).to_dict()
        return record

    def _export_qat(self, spec: ExportSpec, output) -> dict:
        from lponet_tf.export.qat import export_qat

        if self.data is None:
            raise ExportError("QAT needs real faces: give a face folder (--data)")
        check_keep_float_layers(spec.keep_float, [layer.name for layer in self.model.layers])
        result = export_qat(self.model_path or self.model, output, self.data,
                            io_dtype=spec.io_dtype, keep_float=spec.keep_float,
                            preset=self.preset, **self.qat_options)
        return {k: v for k, v in result.log.items() if k != "loss_log"}

    def parity(self, path):
        """:class:`~lponet_tf.export.parity.ParityResult` of an exported file."""
        from lponet_tf.export.parity import compare
        from lponet_tf.runtime import load_runner

        with load_runner(path) as runner:
            return compare(self.reference, runner, self.validation(),
                           reference_outputs=self.reference_outputs())

    def layer_errors(self, top: int = 15) -> list:
        """The ``top`` worst int8 layers as dicts (see :mod:`lponet_tf.export.debug`)."""
        return [dataclasses.asdict(e) for e in self.analysis().layer_errors()[:top]]

    def close(self) -> None:
        self._tflite.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_face_folder(root, parts: Sequence[str]) -> int:
    """Check, before any conversion, that ``root`` has labelled faces in each hold-out part.

    Args:
        root: face folder (see :func:`lponet_tf.export.representative.read_records`).
        parts: the parts the export will read (``"train"`` for calibration / QAT, ``"val"``
            for parity).

    Returns:
        The number of labelled faces in ``root``.

    Raises:
        DataError: no such folder, no labelled faces, or an empty part (names the folder).
    """
    from lponet_tf.errors import DataError
    from lponet_tf.export.representative import HOLDOUT_FRACTION, HOLDOUT_SEED, read_records
    from lponet_tf.training.datasets import holdout_split

    records = read_records(os.fspath(root), "all")  # read once; the parts are a split of it
    for part in parts:
        if not holdout_split(records, HOLDOUT_FRACTION, HOLDOUT_SEED, part):
            raise DataError(root, f"no landmark-labelled faces in the {part!r} part "
                                  f"({len(records)} faces in all)")
    return len(records)


def check_qat_keep_float(keep_float: Sequence[str]) -> None:
    """QAT with integer I/O: a float layer may be anywhere but at the ``heatmaps`` or
    ``occlusion`` output (the pose output computes in float in every QAT file and gets an
    output quantizer there); ExportError otherwise."""
    from lponet_tf.metadata import OUTPUT_NAMES

    for pattern in keep_float:
        hit = [name for name in OUTPUT_NAMES if name != "pose" and re.search(pattern, name)]
        if hit:
            raise ExportError(f"qat with int8/uint8 I/O: keep_float {pattern!r} matches the "
                              f"output layer {hit[0]!r}, which would stay float32; use float32 "
                              "I/O or a pattern that spares it")


def check_keep_float_layers(keep_float: Sequence[str], layer_names: Sequence[str]) -> None:
    """QAT's ``keep_float`` are Keras layer-name regexes: one that names no layer (a typo)
    would leave nothing in float and say it did; ExportError before the training."""
    for pattern in keep_float:
        if not any(re.search(pattern, name) for name in layer_names):
            raise ExportError(f"qat: keep_float {pattern!r} matches no layer of the model "
                              f"(QAT takes Keras layer-name regexes, e.g. "
                              f"{', '.join(repr(n) for n in layer_names[-3:])})")


def parse_keep_float(values: Sequence[str]) -> Tuple[str, ...]:
    """``["pose,heads"]`` / ``["pose", "heads"]`` -> ``("pose", "heads")``; "none" -> ()."""
    out = []
    for value in values or ():
        out += [v.strip() for v in value.split(",") if v.strip() and v.strip() != "none"]
    return tuple(out)
