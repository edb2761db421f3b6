"""QAT int8 end to end on a tiny model, in its own process (tfmot stays out of this one)."""
import os
import sys

import numpy as np
import pytest

from export_helpers import TINY, assert_matches_reference
from lponet_tf.runtime import load_runner

pytestmark = pytest.mark.timeout(600)

#: Depth 2 halves the hourglass layers: QAT tracing and conversion time scale with them.
QAT_TINY = TINY.replace(hourglass_depth=2)


@pytest.fixture(scope="module")
def qat_export(tmp_path_factory, faces_300w):
    """The tiny model after a 3-step QAT, exported with int8 I/O (what the Android app ships).
    Float I/O (the CLI default) differs only in the converter's I/O types and in leaving the
    pose output unquantised; one QAT run costs two minutes of the suite, so one is run."""
    import keras

    from lponet_tf.export.qat import export_qat
    from lponet_tf.model import build_lponet

    keras.utils.set_random_seed(1)
    model = build_lponet(QAT_TINY, include_intermediate=False)
    folder = tmp_path_factory.mktemp("qat")
    model.save(folder / "tiny.keras")
    result = export_qat(folder / "tiny.keras", folder / "tiny_qat.tflite", faces_300w,
                        steps=3, batch_size=4, faces=8, calibration_steps=2, timeout=540,
                        io_dtype="int8")
    return model, result


def test_qat_writes_an_int8_tflite_with_metadata(qat_export):
    _, result = qat_export
    runner = load_runner(result.path)
    assert runner.metadata.quantization == "qat"
    assert runner.metadata.io_dtype == result.log["io_dtype"]
    # Every output has the file's I/O type (the pose output used to stay float32 with int8 I/O).
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(result.path))
    dtypes = {np.dtype(d["dtype"]).name for d in interpreter.get_output_details()}
    assert dtypes == {result.log["io_dtype"]}
    # The pose head's dense layers compute in float (ranges learnt on 300W faces clipped
    # large poses; docs/export.md "Large poses"): their weights and outputs are float32.
    head = [t for t in interpreter.get_tensor_details() if "pose_fc" in t["name"]]
    assert head and all(t["dtype"] == np.float32 for t in head), [
        (t["name"], t["dtype"]) for t in head]
    assert runner.metadata.lponet_config() == QAT_TINY
    assert sorted(runner.metadata.output_indices.values()) == [0, 1, 2]
    assert all(np.isfinite(result.log["loss_log"])) and len(result.log["loss_log"]) == 3


def test_qat_model_matches_keras_within_int8_tolerance(qat_export, faces_300w):
    from lponet_tf.export.representative import load_faces

    model, result = qat_export
    images = load_faces(faces_300w, QAT_TINY.input_size, "val", limit=8).images
    reference = {k: np.asarray(v) for k, v in model.predict_on_batch(images).items()}
    assert_matches_reference(load_runner(result.path)(images), reference, "qat")


def test_tfmot_never_touches_this_process(qat_export):
    _, result = qat_export
    assert result.log["legacy_keras_env"] == "1"  # the worker needed the isolation
    assert "TF_USE_LEGACY_KERAS" not in os.environ
    assert "tensorflow_model_optimization" not in sys.modules
    import tensorflow as tf

    # Keras 3 serves tf.keras from its own package; legacy mode would give tf_keras.
    assert tf.keras.__name__.startswith("keras."), tf.keras.__name__


def test_written_tflite_metadata_names_each_output_position():
    """``export.tflite.embed_metadata`` (the QAT worker's, int8-with-float-layers' and the
    post-training modes' writer) fills ``output_indices`` from the flatbuffer itself; QAT
    files used to leave them empty. Reference: each output identified by its shape."""
    import pathlib

    from ai_edge_litert.interpreter import Interpreter

    from lponet_tf import metadata as md
    from lponet_tf.export.tflite import embed_metadata

    data = (pathlib.Path(md.__file__).parent / "presets/weights/lponet_lite.tflite").read_bytes()
    blank = md.read_tflite(data).replace(output_indices={}, quantization="qat")
    written = md.read_tflite(embed_metadata(md.embed_tflite(data, blank), blank))
    assert written.quantization == "qat"
    shapes = [tuple(d["shape"][1:]) for d in Interpreter(model_content=data).get_output_details()]
    g, k = written.heatmap_size, written.num_landmarks
    by_shape = {(g, g, k): "heatmaps", (3, 3): "pose", (g, g, 2): "occlusion"}
    assert written.output_indices == {by_shape[s]: i for i, s in enumerate(shapes)}
