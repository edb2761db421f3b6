"""TFLite export: float32, float16, dynamic-range and full-integer (int8) models.

Route (docs/export.md): the Keras 3 inference model is exported once as a
SavedModel (``model.export``), then ``TFLiteConverter.from_saved_model`` converts it as
many times as needed. ``from_concrete_functions`` is not used: with Keras 3 it leaves the
variables unresolved (NaN outputs, int8 crashes). The SavedModel's ``serving_default``
signature carries the input name ``image`` and the output names ``heatmaps``, ``pose``,
``occlusion`` into the ``.tflite`` signature, where the runners look them up.

Every file gets its :class:`~lponet_tf.metadata.ModelMetadata` embedded.

Example:
    >>> exporter = TFLiteExporter(model)                                   # doctest: +SKIP
    >>> exporter.export("m_int8.tflite", "int8", representative=crops,
    ...                 io_dtype="uint8")                                  # doctest: +SKIP
"""
from __future__ import annotations

import pathlib
import shutil
import tempfile
from typing import Optional

from lponet_tf import metadata as md
from lponet_tf.export.errors import ExportError
from lponet_tf.export.representative import representative_dataset

#: ``--quantize`` values handled by post-training conversion (QAT lives in qat.py).
PTQ_MODES = ("none", "fp16", "dynamic", "int8", "int16x8")
#: Modes calibrated on representative faces.
CALIBRATED_MODES = ("int8", "int16x8")


def _tf_type(io_dtype: str):
    import tensorflow as tf

    return {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[io_dtype]


def configure_converter(converter, quantize: str, representative=None,
                        io_dtype: str = "float32"):
    """Set a ``TFLiteConverter``'s options for one quantisation mode.

    Args:
        converter: a ``tf.lite.TFLiteConverter``.
        quantize: ``"none"``, ``"fp16"``, ``"dynamic"``, ``"int8"``, ``"int16x8"``
            (16-bit activations, 8-bit weights: integer-only and far more precise than
            int8, but LiteRT runs it with reference kernels on CPU) or ``"qat"`` (ranges
            learnt in training, ``representative=None``).
        representative: ``(N, S, S, 3)`` face crops for int8 / int16x8 calibration.
        io_dtype: tensor type of the model's input and outputs: ``"float32"``, or for
            int8 models ``"int8"`` / ``"uint8"`` (fully integer graph).

    Returns:
        The converter.
    """
    import tensorflow as tf

    if io_dtype != "float32" and quantize not in ("int8", "qat"):
        raise ExportError(f"io_dtype={io_dtype!r} needs an int8 model, not {quantize!r}")
    if quantize == "none":
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize in CALIBRATED_MODES:
        if representative is None:
            raise ExportError(f"{quantize} export needs representative face crops")
        converter.representative_dataset = representative_dataset(representative)
        # Integer kernels only: a layer that cannot be quantised is an error here
        # rather than a silent float island.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantize == "int8"
            else tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    elif quantize == "qat":
        pass  # ranges were learnt during QAT; the converter reads them from the graph
    elif quantize != "dynamic":
        raise ExportError(f"unknown quantize mode {quantize!r}; choose from {PTQ_MODES}")
    if io_dtype != "float32":
        converter.inference_input_type = _tf_type(io_dtype)
        converter.inference_output_type = _tf_type(io_dtype)
    return converter


class TFLiteExporter:
    """Converts one Keras LPONet to ``.tflite`` files, exporting its SavedModel once.

    Args:
        model: a Keras :class:`~lponet_tf.model.LPONet` (training outputs are dropped).
        preset: preset name stored in the metadata (default: guessed from the config).
        workdir: where the SavedModel goes (default: a temporary folder, removed by
            :meth:`close`).

    Example:
        >>> with TFLiteExporter(model) as exporter:                        # doctest: +SKIP
        ...     exporter.export("m.tflite")
        ...     exporter.export("m_fp16.tflite", "fp16")
    """

    def __init__(self, model, preset: Optional[str] = None, workdir=None):
        from lponet_tf.model import inference_model

        self.model = inference_model(model)
        self.preset = preset
        self._own_dir = workdir is None
        self._workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="lponet_export_"))
        self._saved_model: Optional[str] = None

    @property
    def saved_model_dir(self) -> str:
        """The inference model as a SavedModel (created on first use)."""
        if self._saved_model is None:
            path = self._workdir / "saved_model"
            self.model.export(str(path), format="tf_saved_model", verbose=False)
            self._saved_model = str(path)
        return self._saved_model

    def metadata(self, quantization: str, io_dtype: str,
                 float_outputs: bool = False) -> md.ModelMetadata:
        return md.ModelMetadata.from_model(
            self.model, preset=self.preset, format="tflite",
            quantization=quantization, io_dtype=io_dtype,
            output_dtype="float32" if float_outputs else None,
        )

    def convert(self, quantize: str = "none", representative=None,
                io_dtype: str = "float32", float_outputs: bool = False) -> bytes:
        """Convert to a ``.tflite`` flatbuffer with metadata.

        Int8 goes through :mod:`lponet_tf.export.int8` (the pose head in float, an integer
        rotation output on [-1, 1]); int8 with more layers left in float is
        :meth:`lponet_tf.export.debug.QuantizationAnalysis.quantize`.

        Args:
            quantize: one of :data:`PTQ_MODES`.
            representative: face crops for int8 / int16x8 (see :func:`configure_converter`).
            io_dtype: ``"float32"``, ``"int8"`` or ``"uint8"`` (int8 only).
            float_outputs: int8 with an integer ``io_dtype``: float32 outputs.

        Returns:
            The flatbuffer bytes.
        """
        import tensorflow as tf

        if float_outputs and quantize != "int8":
            raise ExportError(f"float_outputs applies to int8 exports, not {quantize!r}")
        if quantize == "int8":  # calibrated, then quantised keeping the pose representable
            from lponet_tf.export import int8

            data = int8.quantize(int8.calibrate(self.saved_model_dir, representative), io_dtype,
                                 float_outputs=float_outputs)
            return embed_metadata(data, self.metadata(quantize, io_dtype, float_outputs))
        converter = tf.lite.TFLiteConverter.from_saved_model(self.saved_model_dir)
        configure_converter(converter, quantize, representative, io_dtype)
        try:
            data = converter.convert()
        except Exception as exc:  # the converter raises ConverterError and friends
            raise ExportError(f"TFLite conversion ({quantize}) failed: {exc}") from exc
        return embed_metadata(data, self.metadata(quantize, io_dtype))

    def export(self, path, quantize: str = "none", representative=None,
               io_dtype: str = "float32", float_outputs: bool = False) -> str:
        """:meth:`convert` and write the file (atomically). Returns the path."""
        return write_bytes(path, self.convert(quantize, representative, io_dtype, float_outputs))

    def close(self) -> None:
        if self._own_dir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_bytes(path, data: bytes) -> str:
    """Write ``data`` to ``path`` through a temporary file, so a crash never leaves a
    truncated model behind."""
    from lponet_tf.fileio import atomic_write_via

    atomic_write_via(path, lambda tmp: pathlib.Path(tmp).write_bytes(data))
    return str(path)


def output_positions(model_bytes: bytes) -> dict:
    """``{output name: position among the subgraph's outputs}`` of a converted model (the
    converter orders outputs its own way; a port reading outputs by index needs this)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    order = [d["index"] for d in interpreter.get_output_details()]
    named = interpreter.get_signature_runner().get_output_details()
    return {name: order.index(named[name]["index"]) for name in md.OUTPUT_NAMES}


def embed_metadata(model_bytes: bytes, metadata: md.ModelMetadata) -> bytes:
    """``model_bytes`` with ``metadata`` embedded, its ``output_indices`` read from the
    converted model itself (:func:`output_positions`). Every ``.tflite`` writer (post-
    training modes, int8 with float layers, QAT) goes through here, so none leaves them out.

    Args:
        model_bytes: a converted flatbuffer.
        metadata: the model's metadata; its ``output_indices`` are replaced.

    Returns:
        The flatbuffer with the metadata (``lponet_tf.metadata.read_tflite`` reads it back).
    """
    return md.embed_tflite(model_bytes, metadata.replace(output_indices=output_positions(model_bytes)))


def export_tflite(model, path, quantize: str = "none", representative=None,
                  io_dtype: str = "float32", preset: Optional[str] = None,
                  float_outputs: bool = False) -> str:
    """One-shot :class:`TFLiteExporter` export.

    Args:
        model: Keras LPONet.
        path: output ``.tflite``.
        quantize: one of :data:`PTQ_MODES`.
        representative: ``(N, S, S, 3)`` real face crops (int8 / int16x8).
        io_dtype: ``"float32"``, ``"int8"``, ``"uint8"``.
        preset: preset name for the metadata.
        float_outputs: int8 with an integer ``io_dtype``: float32 outputs (the rotation
            is not rounded to int8 steps; the Android asset's choice, docs/export.md).

    Returns:
        The written path.
    """
    with TFLiteExporter(model, preset=preset) as exporter:
        return exporter.export(path, quantize, representative, io_dtype, float_outputs)
