"""Every runner checks a model's tensor shapes and types against the LPONet contract and the
file's own metadata: a file whose outputs are merely *named* heatmaps / pose / occlusion is
refused with a ModelFileError naming the file and what differs (issue 12, case 6).

Crafted models: ONNX graphs written with onnx.helper (no TensorFlow, instant), small Keras
graphs converted to TFLite (one module-scoped conversion per shape set), and in-memory Keras
models that carry an ``lponet_config`` their graph does not follow."""
import numpy as np
import pytest

from lponet_tf import metadata as md
from lponet_tf.config import LPONetConfig
from lponet_tf.errors import ModelFileError
from lponet_tf.runtime import load_runner

pytestmark = pytest.mark.timeout(300)

TINY = LPONetConfig(input_size=64, channels=16)
GOOD = {"heatmaps": (16, 16, 68), "pose": (3, 3), "occlusion": (16, 16, 2)}
#: The issue's repro: right names, 3 heatmap channels ("faces with 3 landmarks").
THREE = dict(GOOD, heatmaps=(16, 16, 3))


def tiny_metadata(fmt: str, **changes) -> md.ModelMetadata:
    return md.ModelMetadata.from_config(TINY, format=fmt).replace(**changes)


# -- ONNX files written by hand --------------------------------------------------------
def onnx_file(path, outputs, input_dims=("N", 64, 64, 3), out_type="float32", metadata=None):
    """An ONNX model ``image -> outputs``: each output is a constant broadcast to the batch.

    Args:
        outputs: ``{name: per-sample shape}`` of what the graph really returns.
        out_type: numpy name of the outputs' element type.
        metadata: a ModelMetadata to embed (None: none, like a file from another tool).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem = {"float32": TensorProto.FLOAT, "int64": TensorProto.INT64,
            "float64": TensorProto.DOUBLE}
    nodes = [helper.make_node("Shape", ["image"], ["shape"]),
             helper.make_node("Slice", ["shape", "zero", "one"], ["batch"])]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array([1], np.int64), "one")]
    graph_outputs = []
    rng = np.random.default_rng(0)
    for name, dims in outputs.items():
        value = rng.uniform(0, 1, (1, *dims)).astype(out_type)
        inits += [numpy_helper.from_array(value, f"{name}_value"),
                  numpy_helper.from_array(np.array(dims, np.int64), f"{name}_dims")]
        nodes += [helper.make_node("Concat", ["batch", f"{name}_dims"], [f"{name}_shape"], axis=0),
                  helper.make_node("Expand", [f"{name}_value", f"{name}_shape"], [name])]
        graph_outputs.append(helper.make_tensor_value_info(
            name, elem[out_type], ["N", *dims]))
    graph = helper.make_graph(
        nodes, "crafted", [helper.make_tensor_value_info("image", TensorProto.FLOAT, input_dims)],
        graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if metadata is not None:
        md.embed_onnx(model, metadata)
    onnx.save(model, str(path))
    return path


def test_the_issue_repro_onnx_with_three_heatmaps_is_refused_naming_what_differs(tmp_path):
    path = onnx_file(tmp_path / "three.onnx", THREE)
    with pytest.raises(ModelFileError) as info:
        load_runner(path)
    message = str(info.value)
    assert info.value.path == str(path) and str(path) in message
    assert "output 'heatmaps' shape: expected (N, 16, 16, 68), got (N, 16, 16, 3)" in message
    assert "without lponet metadata" in message


def test_the_analyzer_refuses_it_instead_of_returning_three_landmarks(tmp_path):
    from lponet_tf.inference.analyzer import FaceAnalyzer

    path = onnx_file(tmp_path / "three.onnx", THREE)
    with pytest.raises(ModelFileError, match="heatmaps"):
        FaceAnalyzer.create(model=str(path), detector=lambda image: [])


@pytest.mark.parametrize("case,outputs,kwargs,expected", [
    ("metadata_k68_graph_k3", THREE, {"metadata": "tiny"},
     "its lponet metadata: output 'heatmaps' shape: expected (N, 16, 16, 68), got (N, 16, 16, 3)"),
    ("pose_4", dict(GOOD, pose=(4,)), {}, "output 'pose' shape: expected (N, 3), got (N, 4)"),
    ("pose_4_with_metadata", dict(GOOD, pose=(4,)), {"metadata": "tiny"},
     "output 'pose' shape: expected (N, 3, 3), got (N, 4)"),
    ("occlusion_grid_8", dict(GOOD, occlusion=(8, 8, 2)), {},
     "output 'occlusion' shape: expected (N, 16, 16, 2), got (N, 8, 8, 2)"),
    ("occlusion_3_classes", dict(GOOD, occlusion=(16, 16, 3)), {"metadata": "tiny"},
     "output 'occlusion' shape: expected (N, 16, 16, 2), got (N, 16, 16, 3)"),
    ("heatmap_grid_32", dict(GOOD, heatmaps=(32, 32, 68)), {},
     "output 'heatmaps' shape: expected (N, 16, 16, 68), got (N, 32, 32, 68)"),
    ("gray_input", GOOD, {"input_dims": ("N", 64, 64, 1)},
     "input 'image' shape: expected (N, 64, 64, 3), got (N, 64, 64, 1)"),
    ("int64_outputs", GOOD, {"out_type": "int64"},
     "output 'heatmaps' type: expected float32, got int64"),
    ("float64_outputs", GOOD, {"out_type": "float64", "metadata": "tiny"},
     "output 'pose' type: expected float32, got float64"),
    ("metadata_euler_graph_6d", GOOD, {"metadata": "euler"},
     "output 'pose' shape: expected (N, 3), got (N, 3, 3)"),
    ("metadata_config_disagrees", GOOD, {"metadata": "config_k98"},
     "config says num_landmarks=98 but the record says 68"),
    ("metadata_pixel_range", GOOD, {"metadata": "minus_one_to_one"},
     "the input is RGB (-1.0, 1.0); runners feed RGB (0.0, 255.0)"),
])
def test_onnx_files_whose_tensors_differ_from_the_contract_are_refused(tmp_path, case, outputs,
                                                                      kwargs, expected):
    kwargs = dict(kwargs)
    meta = {"tiny": tiny_metadata("onnx"),
            "euler": tiny_metadata("onnx", pose="euler"),
            "config_k98": tiny_metadata("onnx", config=TINY.replace(num_landmarks=98).to_dict()),
            "minus_one_to_one": tiny_metadata("onnx", pixel_range=(-1.0, 1.0)),
            None: None}[kwargs.pop("metadata", None)]
    path = onnx_file(tmp_path / f"{case}.onnx", outputs, metadata=meta, **kwargs)
    with pytest.raises(ModelFileError) as info:
        load_runner(path)
    assert info.value.path == str(path)
    assert expected in str(info.value)


def test_outputs_are_checked_again_at_run_time():
    """A file may leave a dimension open (nothing to compare when loading): the base
    runner checks every call's real outputs, whatever the backend."""
    from lponet_tf.runtime.base import Runner

    class OpenDims(Runner):
        def _run(self, batch):
            n = len(batch)
            return {"heatmaps": np.zeros((n, 16, 16, 3), np.float32),
                    "pose": np.zeros((n, 3, 3), np.float32),
                    "occlusion": np.zeros((n, 16, 16, 2), np.float32)}

    runner = OpenDims(tiny_metadata("onnx"), path="open.onnx")
    with pytest.raises(ModelFileError) as info:
        runner(np.zeros((2, 64, 64, 3), np.float32))
    assert info.value.path == "open.onnx"
    assert "output 'heatmaps': expected (2, 16, 16, 68), got (2, 16, 16, 3)" in str(info.value)


def test_an_empty_batch_gives_empty_outputs_of_the_contract_shapes():
    """N = 0 (no faces in a frame): ``(0, ...)`` float32 arrays, and the model is not run
    (it used to end in an IndexError)."""
    from lponet_tf.runtime.base import Runner

    class Counting(Runner):
        calls = 0

        def _run(self, batch):
            Counting.calls += 1
            raise AssertionError("the model must not run on an empty batch")

    for pose, pose_shape in (("6d", (3, 3)), ("euler", (3,))):
        runner = Counting(tiny_metadata("onnx", pose=pose), path="m.onnx")
        out = runner(np.zeros((0, 64, 64, 3), np.uint8))
        assert {k: v.shape for k, v in out.items()} == {
            "heatmaps": (0, 16, 16, 68), "pose": (0, *pose_shape), "occlusion": (0, 16, 16, 2)}
        assert all(v.dtype == np.float32 for v in out.values())
    assert Counting.calls == 0


def test_a_file_that_follows_the_contract_loads(tmp_path):
    """Control: the same construction with the contract's shapes is accepted, with and
    without metadata, and metadata describing 3 landmarks makes 3 heatmaps acceptable."""
    for name, outputs, meta in [("plain", GOOD, None), ("described", GOOD, tiny_metadata("onnx")),
                                ("k3", THREE, tiny_metadata("onnx", num_landmarks=3, config={}))]:
        runner = load_runner(onnx_file(tmp_path / f"{name}.onnx", outputs, metadata=meta))
        out = runner(np.zeros((2, 64, 64, 3), np.float32))
        assert out["heatmaps"].shape == (2, *outputs["heatmaps"]), name
        assert out["pose"].shape == (2, 3, 3) and out["occlusion"].shape == (2, 16, 16, 2)


# -- TFLite files converted from small Keras graphs --------------------------------------
def keras_graph(outputs, name="crafted"):
    """A functional Keras model ``image (64, 64, 3) -> {name: per-sample shape}``."""
    import keras

    x = keras.Input((64, 64, 3), name="image")
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    out = {}
    for key, dims in outputs.items():
        if len(dims) == 3:
            stride = 64 // dims[0]
            out[key] = keras.layers.Conv2D(dims[2], 1, strides=stride, name=key)(x)
        else:
            flat = keras.layers.Dense(int(np.prod(dims)))(pooled)
            out[key] = keras.layers.Reshape(dims, name=key)(flat)
    return keras.Model(x, out, name=name)


@pytest.fixture(scope="module")
def tflite_bytes(tmp_path_factory):
    """Converted crafted graphs: ``{"good": bytes, "three": bytes}`` (no metadata)."""
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("crafted_tflite")
    out = {}
    for key, outputs in (("good", GOOD), ("three", THREE)):
        saved = folder / key
        keras_graph(outputs).export(str(saved), format="tf_saved_model", verbose=False)
        out[key] = tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()
    return out


@pytest.mark.parametrize("graph,meta,expected", [
    ("three", None, "output 'heatmaps' shape: expected (N, 16, 16, 68), got (N, 16, 16, 3)"),
    ("three", "tiny", "its lponet metadata: output 'heatmaps' shape: expected "
                      "(N, 16, 16, 68), got (N, 16, 16, 3)"),
    ("good", "input_128", "input 'image' shape: expected (N, 128, 128, 3), got (N, 64, 64, 3)"),
    ("good", "uint8_io", "input 'image' type: expected uint8, got float32"),
    ("good", "euler", "output 'pose' shape: expected (N, 3), got (N, 3, 3)"),
])
def test_tflite_files_whose_tensors_differ_are_refused(tmp_path, tflite_bytes, graph, meta,
                                                       expected):
    data = tflite_bytes[graph]
    if meta is not None:
        changes = {"tiny": {}, "uint8_io": {"io_dtype": "uint8", "quantization": "int8"},
                   "euler": {"pose": "euler", "config": TINY.replace(pose="euler").to_dict()},
                   "input_128": {"input_size": 128, "heatmap_size": 32,
                                 "config": TINY.replace(input_size=128).to_dict()}}[meta]
        data = md.embed_tflite(data, tiny_metadata("tflite", **changes))
    path = tmp_path / f"{graph}_{meta}.tflite"
    path.write_bytes(data)
    with pytest.raises(ModelFileError) as info:
        load_runner(path)
    assert info.value.path == str(path) and expected in str(info.value)


def test_tflite_control_files_load(tmp_path, tflite_bytes):
    plain, described = tmp_path / "plain.tflite", tmp_path / "described.tflite"
    plain.write_bytes(tflite_bytes["good"])
    described.write_bytes(md.embed_tflite(tflite_bytes["three"],
                                          tiny_metadata("tflite", num_landmarks=3, config={})))
    for path, k in ((plain, 68), (described, 3)):
        out = load_runner(path)(np.zeros((2, 64, 64, 3), np.float32))
        assert out["heatmaps"].shape == (2, 16, 16, k) and out["pose"].shape == (2, 3, 3)


# -- Keras -------------------------------------------------------------------------------
def test_a_keras_model_whose_graph_disagrees_with_its_lponet_config_is_refused():
    model = keras_graph(THREE, name="impostor")
    model.lponet_config, model.include_intermediate = TINY, False
    with pytest.raises(ModelFileError) as info:
        load_runner(model)
    message = str(info.value)
    assert "impostor" in message
    assert "output 'heatmaps' shape: expected (N, 16, 16, 68), got (N, 16, 16, 3)" in message


def test_a_keras_file_is_checked_and_passes(tmp_path):
    """A ``.keras`` LPONet is rebuilt from its own config, so its graph always follows it;
    the check runs (and passes) on the file's real tensors."""
    from lponet_tf.model import LPONet

    path = tmp_path / "tiny.keras"
    LPONet(TINY.replace(num_landmarks=5), include_intermediate=False).save(path)
    runner = load_runner(path)
    assert runner.metadata.num_landmarks == 5
    assert runner(np.zeros((1, 64, 64, 3), np.float32))["heatmaps"].shape == (1, 16, 16, 5)
