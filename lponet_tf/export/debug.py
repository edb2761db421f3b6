"""Per-layer int8 error analysis and selective quantisation (keep some layers in float).

Built on ``tf.lite.experimental.QuantizationDebugger``: the model is calibrated once on
real faces, then

* :meth:`QuantizationAnalysis.layer_errors` runs the debug model, in which every quantised
  op is checked against its float twin fed the same (quantised) inputs. The key figure is
  ``rmse / scale``: a layer that only suffers its own rounding has about
  ``1 / sqrt(12) = 0.29`` (uniform rounding noise in units of the quantisation step);
  clearly larger values mark the layers that lose accuracy;
* :meth:`QuantizationAnalysis.quantize` re-quantises the *same* calibration with chosen
  nodes left in float (``denylisted_nodes``), without calibrating again, by
  :func:`lponet_tf.export.int8.quantize` (so the pose head is float there too).

Groups of nodes are chosen by regular expressions over the ops' output tensor names, which
carry the Keras layer names (``lponet_1/pose_1/mul_6`` is an op of the Gram-Schmidt layer
``pose``). :data:`KEEP_FLOAT_GROUPS` names the usual suspects; ``"auto"`` keeps the (whole)
layers with an op whose ``rmse / scale`` exceeds :data:`AUTO_THRESHOLD`.

Example:
    >>> analysis = QuantizationAnalysis(saved_model_dir, calibration_crops)   # doctest: +SKIP
    >>> analysis.layer_errors()[:3]                                           # doctest: +SKIP
    >>> tflite_bytes = analysis.quantize(keep_float=["gram_schmidt"])          # doctest: +SKIP
"""
from __future__ import annotations

import csv
import dataclasses
import io
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from lponet_tf.export.int8 import POSE_HEAD

#: Named regex groups for ``keep_float`` (matched with ``re.search`` on tensor names).
KEEP_FLOAT_GROUPS: Dict[str, str] = {
    # The Gram-Schmidt layer is named ``pose`` (``pose_N`` for earlier stacks); its ops
    # (normalisations, products) work on tiny values that int8 cannot resolve. Post-training
    # int8 keeps it (and the rest of the pose head) in float anyway (export/int8.py).
    "gram_schmidt": r"/pose(_\d+)?(_\d+)?/",
    # The whole pose head: global pooling, both FC layers and the Gram-Schmidt map.
    "pose": POSE_HEAD,
    # Landmark and occlusion 1x1 heads and the softmax.
    "heads": r"/(heatmaps|occlusion)[^/]*/",
}
#: ``pose_path``: the pose head and the encoder of the last hourglass, whose 4x4 bottom the
#: head pools (``{last}`` is that hourglass's number). The pose head alone in float leaves the
#: encoder's accumulated rounding in its input: 0.645 degrees mean against Keras on the bundled
#: preset; with the encoder 0.472 (docs/export.md).
POSE_PATH = KEEP_FLOAT_GROUPS["pose"] + r"|/hg{last}_(down\d+|bottom)_"
#: ``rmse / scale`` above which ``"auto"`` keeps a layer in float (3x the rounding noise).
AUTO_THRESHOLD = 0.9


@dataclasses.dataclass(frozen=True)
class LayerError:
    """One quantised op's error against its float twin (same inputs).

    Attributes:
        op: TFLite op name (``CONV_2D``, ``MUL``, ...).
        tensor: the op's output tensor name.
        layer: the Keras layer it belongs to (see :func:`layer_name`).
        rmse_over_scale: RMS error in units of the output's quantisation step.
        max_abs_error: largest absolute error (output units).
        scale: output quantisation step.
    """

    op: str
    tensor: str
    layer: str
    rmse_over_scale: float
    max_abs_error: float
    scale: float


def _as_list_dataset(images: np.ndarray):
    # The debugger indexes inputs by position, so it needs lists, not dicts.
    def generate():
        for image in images:
            yield [image[None].astype(np.float32)]

    return generate


def selected_nodes(entry: str, names: Dict[str, str]) -> set:
    """The tensor names of ``names`` (:func:`op_output_names`) a ``keep_float`` entry
    other than ``"auto"`` selects: a group of :data:`KEEP_FLOAT_GROUPS`, ``"pose_path"``
    or a regular expression.

    Raises:
        ExportError: the entry selects nothing (a typo would keep nothing in float).
    """
    if entry == "pose_path":
        stacks = [int(m) for pair in names.items() for n in pair
                  for m in re.findall(r"/hg(\d+)_", n)]
        pattern = re.compile(POSE_PATH.format(last=max(stacks, default=0)))
    else:
        pattern = re.compile(KEEP_FLOAT_GROUPS.get(entry, entry))
    hits = {n for n, alias in names.items() if pattern.search(n) or pattern.search(alias)}
    if not hits:
        from lponet_tf.export.errors import ExportError

        raise ExportError(
            f"keep_float {entry!r} selects no node of the model, so nothing would be "
            f"kept in float: use a group ({', '.join(sorted(KEEP_FLOAT_GROUPS))}, "
            f"pose_path, auto) or a regex on tensor names such as {next(iter(names), '')!r}")
    return hits


def op_output_names(model_bytes: bytes) -> Dict[str, str]:
    """``{tensor name: searchable name}`` for every op output of a ``.tflite`` model.

    The converter names a signature output tensor after the call
    (``StatefulPartitionedCall_1:2``), not after its layer; its searchable name is
    ``signature/<output name>/output`` so that ``/pose/`` finds the pose output too.
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(model_bytes, 0)
    graph = model.Subgraphs(0)
    aliases = {}
    for s in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(s)
        for j in range(sig.OutputsLength()):
            out = sig.Outputs(j)
            aliases[out.TensorIndex()] = f"signature/{out.Name().decode('utf-8')}/output"
    names = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        for j in range(op.OutputsLength()):
            index = op.Outputs(j)
            name = graph.Tensors(index).Name().decode("utf-8")
            names[name] = aliases.get(index, name)
    return names


def layer_name(tensor_name: str) -> str:
    """The Keras layer that produced a tensor, or "" when the name does not say.

    ``lponet_1/pose_1/mul_6`` -> ``pose`` (the ``_1`` is the call suffix the export
    adds); ``signature/pose/output`` -> ``pose``.
    """
    parts = tensor_name.split(";")[0].split("/")
    if len(parts) < 3:
        return ""
    return parts[1] if parts[0] == "signature" else re.sub(r"_\d+$", "", parts[1])


def layer_regex(tensor_name: str) -> str:
    """Regex matching every op of the Keras layer that produced ``tensor_name``."""
    layer = layer_name(tensor_name)
    return "/" + re.escape(layer) + r"(_\d+)?/" if layer else ""


class QuantizationAnalysis:
    """Calibrate once; analyse per-layer errors; quantise with float islands.

    Args:
        saved_model_dir: the inference model's SavedModel (see
            :attr:`lponet_tf.export.tflite.TFLiteExporter.saved_model_dir`).
        calibration_images: ``(N, S, S, 3)`` real face crops, 0..255.
        debug_images: crops for :meth:`layer_errors` (default: the first 16 calibration
            crops; the debug model is slow).
    """

    def __init__(self, saved_model_dir: str, calibration_images: np.ndarray,
                 debug_images: Optional[np.ndarray] = None):
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _as_list_dataset(calibration_images)
        debug = calibration_images[:16] if debug_images is None else debug_images
        self.debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=_as_list_dataset(debug)
        )
        self._errors: Optional[List[LayerError]] = None

    def layer_errors(self) -> List[LayerError]:
        """Every quantised op's error, worst (highest ``rmse / scale``) first."""
        if self._errors is None:
            self.debugger.run()
            text = io.StringIO()
            self.debugger.layer_statistics_dump(text)
            names = op_output_names(self.debugger.calibrated_model)
            rows = []
            for row in csv.DictReader(io.StringIO(text.getvalue())):
                scale = float(row["scale"])
                rmse = float(row["mean_squared_error"]) ** 0.5
                tensor = row["tensor_name"]
                rows.append(LayerError(
                    op=row["op_name"], tensor=tensor, layer=layer_name(names.get(tensor, tensor)),
                    rmse_over_scale=rmse / scale if scale > 0 else float("inf"),
                    max_abs_error=float(row["max_abs_error"]), scale=scale,
                ))
            self._errors = sorted(rows, key=lambda r: -r.rmse_over_scale)
        return self._errors

    def nodes(self, keep_float: Sequence[str]) -> List[str]:
        """Tensor names selected by ``keep_float`` entries: group names of
        :data:`KEEP_FLOAT_GROUPS`, ``"pose_path"`` (:data:`POSE_PATH`), ``"auto"``, or
        regular expressions."""
        names = op_output_names(self.debugger.calibrated_model)
        selected = set()
        for entry in keep_float:
            if entry == "auto":
                # Whole layers, not single ops: an op left in float between quantised
                # neighbours still has its output rounded to the same step.
                bad = [e.tensor for e in self.layer_errors() if e.rmse_over_scale > AUTO_THRESHOLD]
                regexes = {layer_regex(names.get(t, t)) for t in bad}
                pattern = re.compile("|".join(sorted(r for r in regexes if r)) or "$^")
                selected.update(n for n, alias in names.items()
                                if pattern.search(n) or pattern.search(alias))
            else:
                selected.update(selected_nodes(entry, names))
        return sorted(selected)

    def quantize(self, keep_float: Sequence[str] = (), io_dtype: str = "float32",
                 float_outputs: bool = False) -> bytes:
        """The int8 model with the ``keep_float`` nodes in float, from the stored
        calibration (:func:`lponet_tf.export.int8.quantize`: the pose head is always float,
        an integer rotation output quantised on [-1, 1])."""
        from lponet_tf.export import int8

        return int8.quantize(self.debugger.calibrated_model, io_dtype, self.nodes(keep_float),
                             float_outputs=float_outputs)
