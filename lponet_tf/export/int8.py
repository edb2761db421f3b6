"""Post-training full-integer quantisation that keeps every head pose representable.

Int8 ranges are calibrated on real faces, and calibration faces (300W) only show a narrow
range of head poses: about +-45 deg of yaw and little roll. The pose head computed in int8
with those ranges clips its values outside them: the preset's calibrated rotation output
spanned [-0.67, 1.0], so every pose with an entry below -0.67 (roll or yaw beyond about
42 deg) came out wrong, and the 6D values before it clip likewise. Calibrated on 32 faces,
the converter's plain int8 file was 15.9 / 25.3 deg off the Keras model at 45 / 60 deg of
in-plane roll (1.2 deg on the same faces unturned; docs/export.md "Large poses"). So:

* the pose head (:data:`POSE_HEAD`: global pooling, two small dense layers and the
  Gram-Schmidt map: under 0.01% of the MACs) stays in float: 0.6 / 0.9 deg there, and
* with integer I/O the rotation output is quantised on the range [-1, 1] its entries lie in
  by construction (:func:`bound_pose_output`), whatever poses calibration saw, as the
  QAT export does (``qat_worker.RotationOutputQuantizeConfig``); an Euler head's angles on
  [-180, 180] degrees (:data:`EULER_OUTPUT_RANGE`), the range of the angles it is trained on.

The route is the converter's own, in steps: calibrate (``_experimental_calibrate_only``),
set the known range, quantise (``mlir_quantize`` with the float nodes deny-listed), then
give the file integer I/O (``modify_model_io_type``).

Example:
    >>> calibrated = calibrate(saved_model_dir, crops)                    # doctest: +SKIP
    >>> data = quantize(calibrated, io_dtype="int8")                      # doctest: +SKIP
"""
from __future__ import annotations

import re
from typing import Iterable

import numpy as np

#: Ops of the pose head (layers ``pose_gap``, ``pose_fc1``, ``pose_fc2`` and the
#: Gram-Schmidt layer ``pose``), matched with ``re.search`` on tensor names.
POSE_HEAD = r"/pose(_gap|_fc\d|_\d+/|/)"
#: The fixed range (degrees, +-) of an Euler pose output with integer I/O: its labels'
#: range. A uint8 step of 1.41 degrees (at most 0.71 off by rounding); the calibrated range
#: (300W: about +-45 degrees) clamped every larger angle instead (63 degrees off on an
#: audit's model).
EULER_OUTPUT_RANGE = 180.0


def calibrate(saved_model_dir: str, images: np.ndarray) -> bytes:
    """The float model with the activation ranges seen on ``images`` (``(N, S, S, 3)``
    face crops, 0..255) recorded in it: the converter's calibration step alone."""
    import tensorflow as tf

    from lponet_tf.export.errors import ExportError
    from lponet_tf.export.tflite import configure_converter

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    configure_converter(converter, "int8", images)
    converter._experimental_calibrate_only = True  # the converter's own first step
    try:
        return converter.convert()
    except Exception as exc:  # ConverterError and friends
        raise ExportError(f"int8 calibration failed: {exc}") from exc


def bound_pose_output(calibrated: bytes) -> bytes:
    """``calibrated`` with the range of its ``pose`` output fixed, whatever poses the
    calibration faces showed: [-1, 1] for a rotation matrix (shape ``(1, 3, 3)``), +-
    :data:`EULER_OUTPUT_RANGE` degrees for Euler angles (shape ``(1, 3)``)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(calibrated)
    graph = model.subgraphs[0]
    for sig in model.signatureDefs or []:
        for out in sig.outputs:
            tensor = graph.tensors[out.tensorIndex]
            if out.name.decode("utf-8") != "pose":
                continue
            shape = list(tensor.shape)
            bound = 1.0 if shape[-2:] == [3, 3] else EULER_OUTPUT_RANGE if shape[-1:] == [3] else None
            if bound is not None:
                tensor.quantization.min = np.array([-bound], np.float32)
                tensor.quantization.max = np.array([bound], np.float32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def float_nodes(calibrated: bytes, integer_outputs: bool, extra=()) -> list:
    """Names of the op outputs :func:`quantize` leaves in float: the pose head's and
    ``extra``'s. With ``integer_outputs`` the ops that produce the outputs are not among
    them (a float op there would leave its output float): the one that assembles the
    rotation matrix then takes the float columns straight to int8 on the output's range.
    Float outputs (float I/O, or an integer input with ``float_outputs``) may keep them."""
    from lponet_tf.export.debug import op_output_names

    names = op_output_names(calibrated)
    regex = re.compile(POSE_HEAD)
    nodes = {n for n, alias in names.items() if regex.search(n) or regex.search(alias)}
    nodes |= set(extra)
    if integer_outputs:
        nodes -= {n for n, alias in names.items() if alias.startswith("signature/")}
    return sorted(nodes)


def quantize(calibrated: bytes, io_dtype: str = "float32",
             extra_float_nodes: Iterable[str] = (), float_outputs: bool = False) -> bytes:
    """Quantise a calibrated model to int8 (see the module doc).

    Args:
        calibrated: output of :func:`calibrate` (or of the quantisation debugger).
        io_dtype: ``"float32"``, ``"int8"`` or ``"uint8"``: type of the file's input and
            outputs.
        extra_float_nodes: names of more op outputs to leave in float
            (:meth:`lponet_tf.export.debug.QuantizationAnalysis.nodes`); the pose head
            always is (:func:`float_nodes`).
        float_outputs: with an integer ``io_dtype``: only the input is integer, the outputs
            stay float32 (the pose then skips the int8 rounding of the rotation output).

    Returns:
        The flatbuffer bytes (no metadata).
    """
    import tensorflow as tf
    from tensorflow.lite.python import convert, util

    from lponet_tf.export.errors import ExportError

    if float_outputs and io_dtype == "float32":
        raise ExportError("float_outputs needs an integer io_dtype (int8 or uint8)")
    calibrated = bound_pose_output(calibrated)
    integer_outputs = io_dtype != "float32" and not float_outputs
    nodes = float_nodes(calibrated, integer_outputs, extra_float_nodes)
    try:
        data = convert.mlir_quantize(calibrated, denylisted_nodes=nodes)
        if io_dtype != "float32":
            io = {"int8": tf.int8, "uint8": tf.uint8}[io_dtype]
            data = util.modify_model_io_type(data, io, tf.float32 if float_outputs else io)
    except Exception as exc:  # the quantiser raises RuntimeError / ValueError
        raise ExportError(f"int8 quantisation ({io_dtype} I/O) failed: {exc}") from exc
    return bytes(data)
