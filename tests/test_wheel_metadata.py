"""Metadata enough to port the model, in .tflite and .onnx: the crop rule with its margin,
the decode rule with its parameters, the landmark order, the occlusion channels, the pose
convention, and each output's position among the file's output tensors (checked against
the tensors' shapes, read with LiteRT / onnx independently of the exporter)."""
from __future__ import annotations

import onnx

from export_helpers import exported, exported_onnx
from lponet_tf import metadata as md
from lponet_tf.codec.crop import DEFAULT_ENLARGE
from lponet_tf.heatmaps import STRIDE
from lponet_tf.runtime import load_runner


def _name_of_shape(shape) -> str:
    """Which output a tensor is, from its shape alone: (.., 3, 3) | (.., 3) pose, 2
    channels occlusion, K channels heatmaps."""
    shape = tuple(int(d) for d in shape[1:])
    if shape in ((3, 3), (3,)):
        return "pose"
    return "occlusion" if shape[-1] == 2 else "heatmaps"


def _check_porting_fields(meta: md.ModelMetadata):
    assert meta.crop["enlarge"] == DEFAULT_ENLARGE and "square" in meta.crop
    assert meta.decode["stride"] == STRIDE and meta.decode["decoder"] == "dark"
    assert meta.landmark_order["scheme"] == "ibug68"
    assert meta.landmark_order["groups"]["mouth"] == [48, 67]
    assert meta.occlusion_channels == ("not_visible_face", "visible_face")
    assert "Rx(-pitch) @ Ry(yaw) @ Rz(roll)" in meta.pose_convention["euler"]
    assert sorted(meta.output_indices.values()) == [0, 1, 2]


def test_tflite_metadata_names_outputs_by_tensor_position():
    from ai_edge_litert.interpreter import Interpreter

    path = exported("none")
    with open(path, "rb") as f:
        data = f.read()
    meta = md.read_tflite(data)
    _check_porting_fields(meta)
    details = Interpreter(model_content=data).get_output_details()
    by_position = {_name_of_shape(d["shape_signature"]): i for i, d in enumerate(details)}
    assert meta.output_indices == by_position
    assert load_runner(path).metadata.output_indices == by_position  # what the runner reads


def test_onnx_metadata_names_outputs_by_graph_position():
    path = exported_onnx()
    proto = onnx.load(path)
    props = {p.key: p.value for p in proto.metadata_props}
    meta = md.read_onnx_props(props)
    _check_porting_fields(meta)
    dims = [[d.dim_value for d in o.type.tensor_type.shape.dim] for o in proto.graph.output]
    assert meta.output_indices == {_name_of_shape(s): i for i, s in enumerate(dims)}
    assert load_runner(path).metadata.output_indices == meta.output_indices


def test_metadata_of_older_files_still_reads():
    old = {"input_size": 64, "num_landmarks": 68, "pose": "6d"}
    meta = md.ModelMetadata.from_dict(old)
    assert meta.output_indices == {} and meta.decode["stride"] == STRIDE
