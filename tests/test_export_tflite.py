"""TFLite export of a tiny LPONet: every mode matches Keras within its tolerance."""
import numpy as np
import pytest

from export_helpers import artifacts, assert_matches_reference, exported
from lponet_tf.runtime import load_runner

pytestmark = pytest.mark.timeout(600)


@pytest.mark.parametrize("quantize", ["none", "fp16", "dynamic", "int8", "int16x8"])
def test_every_mode_matches_keras_within_its_tolerance(quantize):
    a = artifacts()
    runner = load_runner(exported(quantize))
    assert runner.metadata.quantization == quantize
    assert runner.metadata.format == "tflite"
    assert_matches_reference(runner(a.images), a.reference, quantize)


def test_fp32_is_exact_enough_for_every_output():
    a = artifacts()
    out = load_runner(exported("none"))(a.images)
    for name in ("heatmaps", "pose", "occlusion"):
        np.testing.assert_allclose(out[name], a.reference[name], atol=1e-4, rtol=1e-4)


def test_sizes_shrink_with_quantisation():
    import os

    sizes = {q: os.path.getsize(exported(q)) for q in ("none", "fp16", "dynamic", "int8")}
    # The tiny model's weights are a small part of its file (graph structure is the
    # rest), so the ratios are far from the 1/2 and 1/4 of a real model; dynamic range
    # also leaves tensors under 1024 weights (most of the tiny model's) in float.
    assert sizes["fp16"] < 0.8 * sizes["none"] and sizes["int8"] < 0.8 * sizes["none"], sizes
    assert sizes["dynamic"] < sizes["none"], sizes


def test_signature_keeps_input_and_output_names():
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=exported("int8"))
    signature = interpreter.get_signature_list()["serving_default"]
    assert signature["inputs"] == ["image"]
    assert sorted(signature["outputs"]) == ["heatmaps", "occlusion", "pose"]


def test_integer_io_model_is_integer_and_the_runner_quantises():
    # uint8 (camera bytes) only: int8 I/O is the same path with zero point -128.
    io_dtype = "uint8"
    a = artifacts()
    runner = load_runner(exported("int8", io_dtype))
    details = runner.input_details
    assert np.dtype(details["dtype"]).name == io_dtype
    assert runner.metadata.io_dtype == io_dtype
    out = runner(a.images)
    # Same calibration as the float-I/O int8 model: only the I/O (de)quantisation differs.
    float_io = load_runner(exported("int8"))(a.images)
    span = np.ptp(a.reference["heatmaps"])
    assert np.abs(out["heatmaps"] - float_io["heatmaps"]).max() <= 0.02 * span
    assert_matches_reference(out, a.reference, "int8")
    # The rotation output spans [-1, 1], not the span the calibration crops happened to
    # give (lponet_tf/export/int8.py).
    from ai_edge_litert.interpreter import Interpreter

    pose = Interpreter(model_path=exported("int8", io_dtype)).get_signature_runner() \
        .get_output_details()["pose"]
    scale, zero = pose["quantization"]
    info = np.iinfo(pose["dtype"])
    assert np.dtype(pose["dtype"]).name == io_dtype
    # Within one step of [-1, 1]: the zero point is an integer.
    assert scale * (info.min - zero) <= -1.0 + 0.01 and scale * (info.max - zero) >= 1.0 - 0.01


def test_integer_input_with_float_outputs_keeps_the_rotation_unrounded():
    """``float_outputs``: the int8 input of the integer-I/O file, float32 outputs; the same
    calibration, so the heatmaps match the all-integer file within its output step, and the
    rotation output carries no int8 step (its values are not on a 2/255 grid)."""
    from ai_edge_litert.interpreter import Interpreter

    from lponet_tf.export.errors import ExportError

    a = artifacts()
    path = exported("int8", "int8", float_outputs=True)
    details = Interpreter(model_path=path).get_signature_runner()
    assert np.dtype(details.get_input_details()["image"]["dtype"]).name == "int8"
    assert {np.dtype(d["dtype"]).name for d in details.get_output_details().values()} == {"float32"}
    runner = load_runner(path)
    assert (runner.metadata.io_dtype, runner.metadata.outputs_dtype) == ("int8", "float32")
    out = runner(a.images)
    assert_matches_reference(out, a.reference, "int8")
    integer = load_runner(exported("int8", "int8"))(a.images)
    span = np.ptp(a.reference["heatmaps"])
    assert np.abs(out["heatmaps"] - integer["heatmaps"]).max() <= 0.02 * span
    scale, zero = Interpreter(model_path=exported("int8", "int8")).get_signature_runner() \
        .get_output_details()["pose"]["quantization"]

    def steps(pose):  # distance of each value to the integer file's grid, in steps
        q = pose / scale + zero
        return np.abs(q - np.round(q))

    assert steps(integer["pose"]).max() < 0.02  # the integer file's rotation: whole steps
    assert steps(out["pose"]).max() > 0.2, "float outputs should not be rounded to int8 steps"
    with pytest.raises(ExportError, match="float_outputs"):
        a.exporter.convert("fp16", None, "float32", float_outputs=True)


def test_batches_of_any_size_give_per_image_results():
    a = artifacts()
    runner = load_runner(exported("int8"), threads=1)
    batch = runner(a.images[:5])
    single = [runner(a.images[i]) for i in range(5)]
    for name in batch:
        np.testing.assert_allclose(batch[name], np.concatenate([s[name] for s in single]),
                                   atol=1e-5)


def test_selective_quantisation_keeps_the_pose_head_in_float(tmp_path):
    """``lponet export --quantize int8 --keep-float pose`` through ModelExporter: no pose-head
    tensor is int8, the file carries metadata whose output positions name the right tensors,
    it runs behind load_runner within the int8 tolerance, and the per-layer analysis that
    chose the group ranks its errors."""
    from ai_edge_litert.interpreter import Interpreter

    from lponet_tf.export.debug import KEEP_FLOAT_GROUPS
    from lponet_tf.export.errors import ExportError
    from lponet_tf.export.pipeline import ExportSpec, ModelExporter
    from lponet_tf.runtime.tflite_runner import TFLiteRunner
    from synthetic_faces import write_300w_folder

    a = artifacts()
    faces = write_300w_folder(tmp_path / "faces", 4)  # --data must name a face folder
    with ModelExporter(a.model, data=faces, calibration_faces=8) as exporter:
        # Calibrated on the crops it is compared on, as exported("int8") is: the drawn faces
        # of the folder differ from the real crops, and the test is about the file.
        exporter._cache["calibration"] = a.images
        record = exporter.export(ExportSpec("tflite", "int8", "float32", ("pose",)),
                                 tmp_path / "posefloat.tflite", parity=False)
        mixed = exporter.export(ExportSpec("tflite", "int8", "int8", ("pose",), float_outputs=True),
                                tmp_path / "posefloat_int8in.tflite", parity=False)
        analysis = exporter.analysis()
        errors = analysis.layer_errors()
        nodes = analysis.nodes(["pose"])
        path_nodes = analysis.nodes(["pose_path"])
        # a typo of a group (or any regex) that selects nothing is an error, not an int8 file
        # that says "float: pose_pth"
        with pytest.raises(ExportError, match="'pose_pth' selects no node"):
            exporter.export(ExportSpec("tflite", "int8", "float32", ("pose_pth",)),
                            tmp_path / "typo.tflite", parity=False)
        assert not (tmp_path / "typo.tflite").exists()
        # the check before the calibration reads a float conversion's names: it selects
        # what the calibrated model's names do
        from lponet_tf.export.debug import selected_nodes

        assert exporter.calibrated_faces == len(a.images)  # what the report records
        float_names = exporter._cache["float_names"]
        for group in ("pose", "pose_path", "heads", "gram_schmidt"):
            assert selected_nodes(group, float_names) == set(analysis.nodes([group])), group
    with ModelExporter(a.model, data=faces, calibration_faces=8) as exporter:
        def no_calibration():
            raise AssertionError("calibrated before the keep_float check")

        exporter.calibration = no_calibration
        assert exporter.calibrated_faces is None
        with pytest.raises(ExportError, match="'/posee/' selects no node"):
            exporter.export(ExportSpec("tflite", "int8", "uint8", ("pose", "/posee/")),
                            tmp_path / "typo.tflite", parity=False)
    assert errors and errors[0].rmse_over_scale >= errors[-1].rmse_over_scale
    assert all(e.op and e.tensor for e in errors)
    assert nodes and all("pose" in n or "StatefulPartitionedCall" in n for n in nodes)
    # pose_path: the pose head and the last hourglass's encoder, nothing of earlier stacks
    last = a.model.lponet_config.num_stacks
    encoder = sorted(set(path_nodes) - set(nodes))
    assert set(nodes) < set(path_nodes) and encoder
    assert all(f"/hg{last}_down" in n or f"/hg{last}_bottom" in n for n in encoder), encoder
    assert any(f"/hg{last}_bottom" in n for n in encoder) and any(f"/hg{last}_down0" in n for n in encoder)
    assert record["keep_float"] == ("pose",) and record["size_bytes"] > 0
    # the Android asset's kind: float islands, an int8 input and float outputs
    mixed_runner = TFLiteRunner(mixed["path"])
    assert (mixed_runner.metadata.io_dtype, mixed_runner.metadata.outputs_dtype) == ("int8", "float32")
    assert np.dtype(mixed_runner.input_details["dtype"]).name == "int8"
    assert mixed["label"] == "tflite int8 (int8 input, float outputs; float: pose)"
    assert_matches_reference(mixed_runner(a.images), a.reference, "int8")
    pose_tensors = [t for t in Interpreter(model_path=record["path"]).get_tensor_details()
                    if "/pose" in t["name"] and "pose_fc" not in t["name"]]
    # Shape constants are int32; no pose-head tensor may be int8.
    assert pose_tensors and all(t["dtype"] != np.int8 for t in pose_tensors)
    assert any(t["dtype"] == np.float32 for t in pose_tensors)
    runner = load_runner(record["path"])
    assert isinstance(runner, TFLiteRunner)
    meta = runner.metadata
    assert meta.quantization == "int8" and meta.io_dtype == "float32"
    assert sorted(meta.output_indices) == ["heatmaps", "occlusion", "pose"]
    out = runner(a.images)
    assert out["heatmaps"].shape == a.reference["heatmaps"].shape
    assert out["pose"].shape == (len(a.images), 3, 3)
    assert out["occlusion"].shape == a.reference["occlusion"].shape
    assert_matches_reference(out, a.reference, "int8")
    assert KEEP_FLOAT_GROUPS["gram_schmidt"]

def test_float_outputs_is_refused_where_it_means_nothing():
    from lponet_tf.export.errors import ExportError
    from lponet_tf.export.pipeline import ExportSpec

    spec = ExportSpec("tflite", "int8", "uint8", float_outputs=True)
    assert spec.filename("m") == "m_int8_uint8in.tflite"
    assert spec.label == "tflite int8 (uint8 input, float outputs)"
    for bad in (dict(quantize="int8", io_dtype="float32"), dict(quantize="qat", io_dtype="int8"),
                dict(quantize="fp16", io_dtype="float32")):
        with pytest.raises(ExportError, match="float_outputs"):
            ExportSpec("tflite", float_outputs=True, **bad)


def test_qat_keep_float_naming_no_layer_is_refused_before_training(tmp_path):
    from lponet_tf.export.errors import ExportError
    from lponet_tf.export.pipeline import ExportSpec, ModelExporter, check_keep_float_layers
    from synthetic_faces import write_300w_folder

    a = artifacts()
    faces = write_300w_folder(tmp_path / "faces", 2)
    with ModelExporter(a.model, data=faces) as exporter:
        with pytest.raises(ExportError, match="'heatmap_typo' matches no layer"):
            exporter.export(ExportSpec("tflite", "qat", "float32", ("heatmap_typo",)),
                            tmp_path / "qat.tflite", parity=False)
    assert not (tmp_path / "qat.tflite").exists()
    check_keep_float_layers(["^heat", "pose"], [layer.name for layer in a.model.layers])


def test_qat_integer_io_allows_a_float_pose_but_not_a_float_heatmap_output():
    from lponet_tf.export.errors import ExportError
    from lponet_tf.export.pipeline import check_qat_keep_float

    check_qat_keep_float(["pose"])  # the pose output computes in float in every QAT file
    with pytest.raises(ExportError, match="matches the output layer 'heatmaps'"):
        check_qat_keep_float(["^heat"])


def test_an_euler_head_keeps_angles_beyond_the_calibration_faces_with_integer_outputs(tmp_path):
    """Int8 with uint8 outputs: an Euler head's angles are quantised on their labels' fixed
    range, not on the calibration faces' (it clamped every larger angle: 63 degrees off on
    an audit's model). The tiny model's pose layer is scaled so that its angles spread like a
    trained model's; calibrated on the 8 faces of smallest angles, checked on all 16 against
    the float-output file of the same int8 graph (only the output rounding differs)."""
    import keras

    from lponet_tf.config import LPONetConfig
    from lponet_tf.export.int8 import EULER_OUTPUT_RANGE
    from lponet_tf.export.tflite import TFLiteExporter
    from lponet_tf.model import build_lponet

    keras.utils.set_random_seed(0)
    model = build_lponet(LPONetConfig(input_size=64, channels=16, pose="euler"),
                         include_intermediate=False)
    images = artifacts().images
    fc2 = model.get_layer("pose_fc2")
    kernel, bias = fc2.get_weights()
    spread = np.asarray(model.predict_on_batch(images)["pose"])
    scale = 25.0 / spread.std(0)  # degrees: the pose layer multiplies by 90
    fc2.set_weights([kernel * scale, (bias - spread.mean(0) / 90.0) * scale])
    angles = np.asarray(model.predict_on_batch(images)["pose"])
    small = np.argsort(np.abs(angles).max(1))[:8]
    # the calibrated range of the pose output (one per tensor), and the angles beyond it
    low, high = angles[small].min(), angles[small].max()
    beyond = (angles < low - 10) | (angles > high + 10)
    assert beyond.sum() >= 3, (low, high, angles)
    with TFLiteExporter(model, workdir=tmp_path / "work") as exporter:
        for io in ("float32", "uint8"):
            exporter.export(tmp_path / f"euler_{io}.tflite", "int8", images[small], io)
    integer = load_runner(tmp_path / "euler_uint8.tflite")
    quantization = integer._outputs["pose"]["quantization"]
    assert quantization[0] * 255 == pytest.approx(2 * EULER_OUTPUT_RANGE, rel=1e-3)
    got = integer(images)["pose"]
    floats = load_runner(tmp_path / "euler_float32.tflite")(images)["pose"]
    # The converter folds the x90 into the last dense layer, which then runs in int8 (its
    # output must be integer) on top of the 1.41-degree output step. Angles 10 degrees and
    # more beyond the calibrated range were clamped to it; now they are within int8 noise.
    # Measured (real crops / drawn ones): all angles 2.7 / 4.0 at most, 0.65 / 1.0 mean;
    # those beyond the range 2.3 / 3.1 at most (clamped before: 20.5 / 15.5 at most).
    error = np.abs(got - floats)
    print(f"euler uint8 vs float outputs: max {error.max():.2f}, mean {error.mean():.2f}, "
          f"beyond the calibrated range max {error[beyond].max():.2f} degrees")
    assert error[beyond].max() < 6.0 and error.mean() < 1.5, (error[beyond], error.mean())
