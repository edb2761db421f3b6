"""The bundled lponet_lite preset on real faces: its landmark NME on the validation faces of
../shared/data/300w, its landmarks on the demo photo against points placed by hand, and the
parity of its int8 export where the decoded landmarks are actually compared.

Bounds are the measured figures of the committed weights with a stated margin; a retrained
preset updates them together with the README's model card.
"""
import cv2
import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT, astronaut_rgb
from export_helpers import decode_bound, stable_landmarks

pytestmark = pytest.mark.timeout(600)

#: Inter-ocular NME on the 195 validation faces, measured end to end through FaceAnalyzer on
#: the ground-truth landmark box, default DARK decoding: 3.269% for the bundled weights (stage
#: 15, 160 px input; 3.274% for stage 13, 3.319% for stage 11, 3.326% for stage 10, 3.369% for stage 8, 3.519% for
#: stage 6, 3.529% for stage 5, 3.531% for the mean of stages 3 and 4, 3.559% for stage 3,
#: 3.536% for stage 2, 3.700% for stage 1; the README model card). Every stage before
#: 13 is above this bound, so reverting to any of them fails here.
NME_BOUND = 3.30

#: Points placed by hand on lponet_tf/assets/astronaut.png (512 x 512), iBUG index ->
#: (x, y) image pixels, by looking at 7-18x zoomed crops: the junctions of the upper and
#: lower lids, the tip of the nose, the corners of the lips, the lowest point of the chin.
ASTRONAUT_BY_HAND = {
    36: (193.5, 100.0),  # right eye, outer corner (image left)
    39: (212.0, 101.5),  # right eye, inner corner
    42: (236.0, 103.5),  # left eye, inner corner
    45: (258.0, 103.0),  # left eye, outer corner
    30: (225.0, 124.0),  # nose tip
    48: (203.5, 139.5),  # right mouth corner
    54: (244.5, 140.5),  # left mouth corner
    8: (224.0, 178.0),   # chin
}


@pytest.fixture(scope="module")
def analyzer():
    from lponet_tf.inference.analyzer import FaceAnalyzer

    return FaceAnalyzer.create()  # the bundled preset and the default detector


@pytest.fixture(scope="module")
def validation_faces(analyzer, faces_300w):
    """All 195 validation faces (the training configs' 15% hold-out, never trained on),
    each analysed on its ground-truth landmark box as the README's evaluation does:
    ``(truths, faces, image shapes)``."""
    from lponet_tf.export.representative import read_records

    records = read_records(faces_300w, "val")
    assert len(records) == 195
    truths, faces, shapes = [], [], []
    for record in records:
        image = cv2.cvtColor(cv2.imread(record.image_path), cv2.COLOR_BGR2RGB)
        truth = np.asarray(record.landmarks, np.float64)
        box = [*truth.min(0), *truth.max(0)]
        face, = analyzer.analyze_boxes(image, [box])
        truths.append(truth), faces.append(face), shapes.append(image.shape[:2])
    return truths, faces, shapes


def test_nme_on_the_validation_faces_is_the_model_cards(validation_faces):
    """NME by hand: mean point error over the outer-eye-corner distance (36, 45)."""
    truths, faces, _ = validation_faces
    nme = [100.0 * np.linalg.norm(face.landmarks - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45])
           for truth, face in zip(truths, faces)]
    assert np.mean(nme) <= NME_BOUND, f"NME {np.mean(nme):.3f}% on {len(nme)} faces"
    # Failure rate @10% (measured: 1 face with DARK, 2 with top-2): at most 4 faces.
    assert np.sum(np.array(nme) > 10.0) <= 4


def test_pose_does_not_shrink_large_angles_on_the_validation_faces(validation_faces):
    """Issue 15's pose-range targets: the least-squares slope of predicted on reference yaw
    >= 0.9 and pitch >= 0.8, references the solvePnP pseudo-labels of the true landmarks (the
    training labels' kind). Measured 0.95 / 0.86 for the bundled weights (stage 15; 0.92 /
    0.83 for stage 3; README model card); the stage-2 weights' pitch slope, 0.74, fails here, and so
    does stage 4's own, 0.78, which is why the bundled weights are its mean with stage 3."""
    from lponet_tf.data.pseudo_pose import pseudo_pose
    from lponet_tf.geometry import matrix_to_euler

    truths, faces, shapes = validation_faces
    ref = np.stack([matrix_to_euler(pseudo_pose(t, shape)) for t, shape in zip(truths, shapes)])
    pred = np.stack([np.asarray(face.pose, np.float64) for face in faces])
    slopes = [np.polyfit(ref[:, k], pred[:, k], 1)[0] for k in (0, 1)]
    assert slopes[0] >= 0.9 and slopes[1] >= 0.8, f"yaw / pitch slopes {slopes[0]:.3f} / {slopes[1]:.3f}"


def test_flip_tta_with_the_presets_label_offset_beats_the_direct_run(validation_faces, faces_300w):
    """Flip TTA as ``FaceAnalyzer.create(flip_tta=True)`` runs it (the preset's label x
    offset turned back, measured on the training faces): 3.196% against 3.269% direct on the
    validation faces for the bundled stage 15 (stage 3: 3.505 against 3.559%, 3.794% with the
    offset ignored; docs/inference.md). A preset whose
    offset was not remeasured after retraining fails here."""
    from lponet_tf.export.representative import read_records
    from lponet_tf.inference.analyzer import FaceAnalyzer

    tta = FaceAnalyzer.create(flip_tta=True)
    truths, faces, _ = validation_faces

    def nme(points, truth):
        return 100.0 * np.linalg.norm(points - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45])

    direct, flipped = [], []
    for record, truth, face in zip(read_records(faces_300w, "val"), truths, faces):
        image = cv2.cvtColor(cv2.imread(record.image_path), cv2.COLOR_BGR2RGB)
        both, = tta.analyze_boxes(image, [[*truth.min(0), *truth.max(0)]])
        direct.append(nme(face.landmarks, truth)), flipped.append(nme(both.landmarks, truth))
    assert np.mean(flipped) <= np.mean(direct) - 0.02, (np.mean(flipped), np.mean(direct))


def test_demo_photo_landmarks_are_near_the_hand_placed_points(analyzer):
    """Detector, crop, model and mapping back, end to end on the demo photo. Measured: 0.1
    to 4.6 px per point (mean 3.2 px) for an eye-corner distance of 64.5 px; bounds: every
    point within 10% of it (the NME failure threshold), the mean within 7%."""
    face, = analyzer.analyze(ASTRONAUT)
    index = list(ASTRONAUT_BY_HAND)
    hand = np.array([ASTRONAUT_BY_HAND[i] for i in index])
    iod = np.linalg.norm(hand[index.index(36)] - hand[index.index(45)])
    error = np.linalg.norm(face.landmarks[index] - hand, axis=1)
    assert error.max() <= 0.10 * iod, dict(zip(index, error.round(2)))
    assert error.mean() <= 0.07 * iod, dict(zip(index, error.round(2)))
    # The same photo given as pixels (not a path) gives the same face.
    again, = analyzer.analyze(astronaut_rgb())
    np.testing.assert_allclose(again.landmarks, face.landmarks, atol=1e-3)


@pytest.fixture(scope="module")
def int8_parity(analyzer, faces_300w, tmp_path_factory):
    """The preset exported to full int8 (calibrated on 32 training faces) and run with its
    Keras original on 32 validation faces."""
    from lponet_tf.export.representative import load_faces
    from lponet_tf.export.tflite import TFLiteExporter
    from lponet_tf.presets import from_preset
    from lponet_tf.runtime import load_runner

    model = from_preset("lponet_lite")
    size = model.lponet_config.input_size
    calibration = load_faces(faces_300w, size, "train", limit=32).images
    faces = load_faces(faces_300w, size, "val", limit=32)
    folder = tmp_path_factory.mktemp("preset_int8")
    path = TFLiteExporter(model, preset="lponet_lite", workdir=folder / "work").export(
        folder / "lponet_lite_int8.tflite", "int8", calibration)
    reference = {k: np.asarray(v) for k, v in model.predict_on_batch(faces.images).items()}
    runner = load_runner(path)
    # The same faces turned in the image plane, to head rolls the calibration faces lack.
    turned = {}
    for angle in (45, 60):
        m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
        images = np.stack([cv2.warpAffine(im, m, (size, size)) for im in faces.images])
        turned[angle] = (np.asarray(model.predict_on_batch(images)["pose"]), runner(images)["pose"])
    return reference, runner(faces.images), faces.landmarks, turned, size


def test_int8_export_matches_keras_on_real_faces(int8_parity):
    """Measured (32 + 32 faces; the stage-1 weights at 128 px): 68% of the landmarks well
    posed, 0.55 degrees mean pose difference (1.20 before int8 files kept the pose head in
    float), 99.65% mask agreement;
    landmark shift 0.10 px mean and NME +0.018 with the default DARK decoding (0.14 px,
    -0.007 with top-2; benchmarks/bench_decoders.py --int8)."""
    from lponet_tf.export.parity import compare_outputs, targets_for
    from lponet_tf.heatmaps import decode_heatmaps

    reference, outputs, truth, _, size = int8_parity
    ref_hm, hm = reference["heatmaps"], outputs["heatmaps"]
    error = np.abs(hm - ref_hm).max(axis=(1, 2))
    stable = stable_landmarks(ref_hm, error)
    # Unlike the untrained tiny model of export_helpers, a trained one has clear peaks:
    # most decoded landmarks are well posed, so their bound is checked on most points.
    assert stable.mean() >= 0.5, f"{stable.mean():.2f} well posed"
    # decode_bound is derived for the top-2 rule; compare_outputs uses the default (DARK).
    moved = np.linalg.norm(decode_heatmaps(hm, decode="top2")[0]
                           - decode_heatmaps(ref_hm, decode="top2")[0], axis=-1)
    assert np.all(moved[stable] <= decode_bound(ref_hm, error)[stable] + 1e-3)
    result = compare_outputs(reference, outputs, truth)
    # issue-6 target: 0.5 px at 256 px input, scaled (0.25 px at 128, 0.3125 px at 160)
    assert result.landmark_px_mean <= targets_for(size)["landmark_px"], result
    assert result.nme_delta <= 0.1, result           # issue-6 target
    assert result.mask_agreement >= 0.99, result     # issue-6 target
    assert result.pose_deg_mean <= 1.0, result       # the 0.5 target needs 200 faces and pose_path


def test_int8_export_keeps_head_rolls_beyond_the_calibration_faces(int8_parity):
    """Calibrated on 300W faces alone, whose rolls stay small, the int8 pose head used to
    clip: with these 32 calibration faces the converter's plain int8 file was 15.9 / 25.3 deg
    off the Keras model at 45 / 60 deg of roll (1.2 unturned). With the pose head in float
    and the rotation output on [-1, 1] (lponet_tf/export/int8.py) measured 0.61 / 0.88 deg
    (0.55 unturned). Bound: 2 deg. The Keras model's own rotations must reach the entries
    that clipped (below -0.67), or the check would prove nothing."""
    from lponet_tf.export.parity import rotation_angle_deg

    for angle, (keras_pose, int8_pose) in int8_parity[3].items():
        assert keras_pose.min() < -0.75, (angle, keras_pose.min())
        error = rotation_angle_deg(keras_pose, int8_pose)
        assert error.mean() <= 2.0, (angle, error.mean(), error.max())
