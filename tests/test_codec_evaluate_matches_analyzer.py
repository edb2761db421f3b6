"""`lponet evaluate` measures what FaceAnalyzer runs: the same face, through the evaluation
protocol and through ``FaceAnalyzer.analyze(image, boxes=...)``, gives the same landmarks,
on a .keras and a .tflite model (the export tests' tiny random LPONet and its cached fp32
.tflite; its outputs are noise, which is enough: both paths must turn the same numbers
into the same points).

Faces: the astronaut at its own size (a plain warp) and 4x larger (the crop shrinks it more
than 2x, so the area pre-shrink runs), each given as landmarks whose tight box is the face
box (the evaluation's crop box) and as that box to the analyzer.
"""
import cv2
import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT_BOX, astronaut_rgb
from export_helpers import artifacts, exported
from lponet_tf.codec.crop import box_from_landmarks, crop_face
from lponet_tf.data.records import FaceRecord
from lponet_tf.evaluation.evaluate import evaluate_records, runner_info
from lponet_tf.inference.analyzer import FaceAnalyzer
from lponet_tf.runtime import load_runner
from synthetic_faces import template_68

SCALES = (1, 4)


def _face_points(box) -> np.ndarray:
    """68 template points stretched so that their tight box is exactly ``box``."""
    t = template_68()
    lo, hi = t.min(0), t.max(0)
    x0, y0, x1, y1 = box
    return np.array([x0, y0]) + (t - lo) / (hi - lo) * [x1 - x0, y1 - y0]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """``[(record, image, box)]``: the astronaut photo written at each scale."""
    folder = tmp_path_factory.mktemp("faces")
    out = []
    for s in SCALES:
        image = astronaut_rgb()
        if s != 1:
            image = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
        path = folder / f"astronaut_x{s}.png"
        cv2.imwrite(str(path), image[:, :, ::-1])
        box = (np.asarray(ASTRONAUT_BOX) + 0.5) * s - 0.5
        points = _face_points(box).astype(np.float32)
        np.testing.assert_allclose(box_from_landmarks(points), box, atol=1e-3)
        out.append((FaceRecord(str(path), landmarks=points), image, box_from_landmarks(points)))
    return out


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    keras_file = tmp_path_factory.mktemp("models") / "tiny.keras"
    artifacts().model.save(keras_file)
    return {"keras": keras_file, "tflite": exported("none")}


def test_the_large_face_takes_the_area_preshrink_path(faces):
    # Otherwise this test would not cover the resampling that differed before the codec.
    size = artifacts().model.lponet_config.input_size
    factors = [crop_face(image, box, size)[1].shrink_factor for _, image, box in faces]
    assert factors[0] < 2 <= factors[1]


@pytest.mark.parametrize("backend", ["keras", "tflite"])
def test_evaluation_landmarks_equal_analyze_on_the_same_boxes(faces, model_files, backend):
    runner = load_runner(str(model_files[backend]), threads=1)
    assert runner.backend == backend
    records = [r for r, _, _ in faces]
    # batch_size=1: both paths give the runner one crop per call (a Keras batch of another
    # size may round differently in the last bits).
    scores = evaluate_records(records, runner, runner_info(runner), tasks=("landmarks",),
                              batch_size=1, progress=False)
    analyzer = FaceAnalyzer.create(model=runner, detector=lambda image: [], refine=False)
    for (record, image, box), scored in zip(faces, scores.faces):
        (face,) = analyzer.analyze(image, boxes=[box])
        assert np.isfinite(face.landmarks).all()
        np.testing.assert_array_equal(scored.pred_landmarks, face.landmarks)
        # And the file path the evaluation read gives the same faces as the array.
        (from_file,) = analyzer.analyze(record.image_path, boxes=[box])
        np.testing.assert_array_equal(from_file.landmarks, face.landmarks)
