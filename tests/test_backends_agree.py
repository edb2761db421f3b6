"""The same model as .keras, .tflite (fp32) and .onnx gives the same faces through FaceAnalyzer
(landmarks, pose, visibility, mask), with the project's exporters."""
import importlib.util

import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT_BOX, astronaut_rgb, tiny_model
from lponet_tf.inference.analyzer import FaceAnalyzer

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tf2onnx") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="ONNX export needs the [export] extra (tf2onnx, onnxruntime)")

# Two faces (one half outside the image) so every backend also runs a batch of 2.
BOXES = [ASTRONAUT_BOX, [400.0, 380.0, 560.0, 540.0]]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    from lponet_tf.export.onnx import export_onnx
    from lponet_tf.export.tflite import export_tflite

    folder = tmp_path_factory.mktemp("backends")
    model = tiny_model()
    files = {"keras": folder / "tiny.keras", "tflite": folder / "tiny.tflite",
             "onnx": folder / "tiny.onnx"}
    model.save(files["keras"])
    export_tflite(model, files["tflite"])
    export_onnx(model, files["onnx"])
    return files


@pytest.fixture(scope="module")
def faces(model_files):
    out = {}
    for backend, path in model_files.items():
        analyzer = FaceAnalyzer.create(model=str(path), detector=lambda image: [], threads=1)
        assert analyzer.runner.backend == backend
        out[backend] = analyzer.analyze(astronaut_rgb(), boxes=BOXES)
        analyzer.close()
    return out


@pytest.mark.parametrize("backend", ["tflite", "onnx"])
def test_backend_gives_the_same_faces_as_keras(faces, backend):
    ref, got = faces["keras"], faces[backend]
    assert len(ref) == len(got) == 2
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(a.box, b.box)
        assert np.abs(a.landmarks - b.landmarks).max() <= 0.05
        assert np.abs(a.pose - b.pose).max() <= 0.05
        np.testing.assert_allclose(a.rotation, b.rotation, atol=1e-4)
        np.testing.assert_allclose(a.visibility, b.visibility, atol=1e-3)
        np.testing.assert_allclose(a.mask, b.mask, atol=1e-3)
        np.testing.assert_allclose(a.landmark_scores, b.landmark_scores, rtol=1e-3, atol=1e-3)
        # The masks agree on which pixels are visible face (mIoU-style check).
        assert np.mean((a.mask > 0.5) == (b.mask > 0.5)) >= 0.99


def test_the_metadata_travels_with_each_file(model_files):
    for backend, path in model_files.items():
        analyzer = FaceAnalyzer.create(model=str(path), detector=lambda image: [])
        assert analyzer.input_size == 64 and analyzer.metadata.pose == "6d", backend
