"""ONNX export with tf2onnx (opset >= 13, dynamic batch), checked with onnxruntime.

The inference model is converted with ``tf2onnx.convert.from_keras`` and an input
signature whose batch dimension is ``None``; the graph's batch dimension is then named
``batch`` in the input and every output. Output names are the model's (``heatmaps``,
``pose``, ``occlusion``) and :class:`~lponet_tf.metadata.ModelMetadata` is stored in
``metadata_props``.

Example:
    >>> export_onnx(model, "lponet_lite.onnx", opset=17)   # doctest: +SKIP
    'lponet_lite.onnx'
"""
from __future__ import annotations

from typing import Optional

from lponet_tf import metadata as md
from lponet_tf.export.errors import ExportError
from lponet_tf.export.tflite import write_bytes

DEFAULT_OPSET = 17
MIN_OPSET = 13
BATCH_DIM = "batch"


def convert_onnx(model, opset: int = DEFAULT_OPSET, preset: Optional[str] = None):
    """Convert a Keras LPONet to an ``onnx.ModelProto`` with metadata.

    Args:
        model: Keras :class:`~lponet_tf.model.LPONet` (training outputs are dropped).
        opset: ONNX opset (>= 13).
        preset: preset name for the metadata (default: guessed from the config).

    Returns:
        The ``onnx.ModelProto``.
    """
    if opset < MIN_OPSET:
        raise ExportError(f"opset must be >= {MIN_OPSET}, got {opset}")
    import tensorflow as tf
    import tf2onnx

    from lponet_tf.model import inference_model

    model = inference_model(model)
    size = model.lponet_config.input_size
    spec = [tf.TensorSpec((None, size, size, 3), tf.float32, name="image")]
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    except Exception as exc:  # tf2onnx raises untyped errors
        raise ExportError(f"tf2onnx conversion failed: {exc}") from exc
    names = [o.name for o in proto.graph.output]
    if sorted(names) != sorted(md.OUTPUT_NAMES):
        raise ExportError(f"ONNX outputs are {names}, expected {list(md.OUTPUT_NAMES)}")
    _name_batch_dim(proto)
    md.embed_onnx(proto, md.ModelMetadata.from_model(
        model, preset=preset, format="onnx", quantization="none", io_dtype="float32",
        output_indices={name: names.index(name) for name in md.OUTPUT_NAMES}))
    return proto


def _name_batch_dim(proto) -> None:
    """tf2onnx names the free batch dimension ``unk__N`` per tensor; one name for all
    tells runtimes (and readers) that input and outputs share it."""
    for value in list(proto.graph.input) + list(proto.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.HasField("dim_value"):
            dim.dim_param = BATCH_DIM


def export_onnx(model, path, opset: int = DEFAULT_OPSET, preset: Optional[str] = None) -> str:
    """Write ``model`` as ``.onnx`` (see :func:`convert_onnx`), validated by ``onnx.checker``.

    Returns:
        The written path.
    """
    import onnx

    proto = convert_onnx(model, opset, preset)
    onnx.checker.check_model(proto)
    return write_bytes(path, proto.SerializeToString())
