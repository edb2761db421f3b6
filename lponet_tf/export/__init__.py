"""Export LPONet to TFLite (fp32, fp16, dynamic-range, int8, QAT int8) and ONNX, with
parity reports against the Keras model (see ``docs/export.md``).

Modules: :mod:`~lponet_tf.export.tflite`, :mod:`~lponet_tf.export.onnx`,
:mod:`~lponet_tf.export.qat` (subprocess-isolated QAT), :mod:`~lponet_tf.export.debug`
(per-layer int8 error, selective quantisation), :mod:`~lponet_tf.export.parity`,
:mod:`~lponet_tf.export.report`, :mod:`~lponet_tf.export.pipeline` (one model, many
exports) and :mod:`~lponet_tf.export.cli` (``lponet export``). Nothing heavy is imported
here: ``import lponet_tf.export`` does not load TensorFlow.

Example:
    >>> from lponet_tf.export.pipeline import ExportSpec, ModelExporter   # doctest: +SKIP
    >>> with ModelExporter("model.keras", data="/data/300w") as ex:  # doctest: +SKIP
    ...     ex.export(ExportSpec("tflite", "int8"), "model_int8.tflite")
"""
from lponet_tf.export.errors import ExportError

__all__ = ["ExportError"]
