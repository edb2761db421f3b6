"""Flip test-time augmentation (lponet_tf.inference.flip_tta): mirror symmetry of the
averaged result, the average against a hand computation, and the analyzer option.

The model is the bundled lponet_lite .tflite (LiteRT, no TensorFlow import) on a real 300W
face, so the outputs are those of a trained network, not of a symmetric toy."""
import pathlib

import numpy as np
import pytest

from lponet_tf.data.pts import read_pts
from lponet_tf.geometry import matrix_to_euler
from lponet_tf.inference.flip_tta import (
    FlipTTAError, FlipTTARunner, average_outputs, default_label_x_offset, mean_rotation,
    mirror_outputs, shift_maps_x,
)

# Mirror pairs of the iBUG 68 points written out by hand (not taken from FLIP_68): jaw
# 0..16, brows 17..21 / 22..26, nose bridge 27..30 on the axis, nostrils 31..35, eyes
# 36..41 / 42..47, mouth 48..67.
PAIRS = ([(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)]
         + [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
            (48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)])
ON_AXIS = [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]


def mirror_index(i: int) -> int:
    for a, b in PAIRS:
        if i in (a, b):
            return b if i == a else a
    assert i in ON_AXIS
    return i


@pytest.fixture(scope="module")
def runner():
    from lponet_tf.presets import get_preset
    from lponet_tf.runtime import load_runner

    path = get_preset("lponet_lite").bundled_tflite()
    assert path is not None, "the bundled .tflite is stale: run scripts/export_preset_tflite.py"
    with load_runner(str(path), backend="tflite", threads=1) as r:
        yield r


@pytest.fixture(scope="module")
def face(faces_300w):
    import cv2

    jpg = sorted(pathlib.Path(faces_300w, "afw").glob("*.jpg"))[0]
    image = cv2.cvtColor(cv2.imread(str(jpg)), cv2.COLOR_BGR2RGB)
    points = read_pts(jpg.with_suffix(".pts"))
    return image, points


@pytest.fixture(scope="module")
def crops(face, runner):
    from lponet_tf.codec.crop import crop_face, face_box

    image, points = face
    crop, _ = crop_face(image, face_box(landmarks=points), runner.metadata.input_size, 0.1)
    # A second, tilted and shifted face so the batch holds two different crops.
    other = np.roll(np.rot90(crop, 1), 9, axis=1)
    return np.stack([crop, other]).astype(np.float32)


def test_mirror_pairs_by_hand_are_the_permutation():
    from lponet_tf.data.augment import FLIP_68

    assert [mirror_index(i) for i in range(68)] == FLIP_68.tolist()


def test_average_is_the_hand_computed_mean(runner, crops):
    direct, mirrored = runner(crops), runner(crops[:, :, ::-1])
    tta = FlipTTARunner(runner)(crops)
    g = direct["heatmaps"].shape[1]
    for k in (0, 8, 36, 48, 62):  # a jaw end, the chin, an eye corner, a mouth corner, axis
        m = mirror_index(k)
        for v, u in ((3, 5), (17, 20), (30, 0)):
            want = 0.5 * (direct["heatmaps"][0, v, u, k] + mirrored["heatmaps"][0, v, g - 1 - u, m])
            assert tta["heatmaps"][0, v, u, k] == pytest.approx(want, abs=1e-5)
    want_mask = 0.5 * (direct["occlusion"] + mirrored["occlusion"][:, :, ::-1])
    np.testing.assert_allclose(tta["occlusion"], want_mask, atol=1e-6)
    # Pose: yaw and roll of the mirror run change sign; for these small angles the chordal
    # mean is the mean of the angles to well under a tenth of a degree.
    ypr_d, ypr_m = matrix_to_euler(direct["pose"]), matrix_to_euler(mirrored["pose"])
    want = 0.5 * (ypr_d + ypr_m * np.array([-1.0, 1.0, -1.0]))
    np.testing.assert_allclose(matrix_to_euler(tta["pose"])[0], want[0], atol=0.1)
    r = tta["pose"].astype(np.float64)
    np.testing.assert_allclose(r @ np.swapaxes(r, 1, 2), np.broadcast_to(np.eye(3), r.shape),
                               atol=1e-5)


def test_mirrored_crop_gives_the_mirrored_result(runner, crops):
    tta = FlipTTARunner(runner)
    out, out_flipped = tta(crops), tta(crops[:, :, ::-1])
    back = mirror_outputs(out_flipped)
    np.testing.assert_allclose(back["heatmaps"], out["heatmaps"], atol=1e-4)
    np.testing.assert_allclose(back["occlusion"], out["occlusion"], atol=1e-6)
    np.testing.assert_allclose(back["pose"], out["pose"], atol=1e-5)


def test_euler_outputs_average_through_rotations():
    ypr = np.array([[20.0, 10.0, 5.0]])
    mirrored_run = {"heatmaps": np.zeros((1, 4, 4, 68), np.float32),
                    "occlusion": np.zeros((1, 4, 4, 2), np.float32),
                    "pose": np.array([[-30.0, 10.0, -5.0]])}  # mirror of (30, 10, 5)
    back = mirror_outputs(mirrored_run)
    np.testing.assert_allclose(back["pose"], [[30.0, 10.0, 5.0]], atol=1e-9)
    avg = average_outputs({**mirrored_run, "pose": ypr}, back)
    np.testing.assert_allclose(avg["pose"], [[25.0, 10.0, 5.0]], atol=0.2)


def test_mean_rotation_of_equal_rotations_is_that_rotation(rng):
    from lponet_tf.geometry import euler_to_matrix

    r = euler_to_matrix(rng.uniform(-60, 60, (5, 3)))
    np.testing.assert_allclose(mean_rotation(np.stack([r, r])), r, atol=1e-12)


def test_models_without_68_landmarks_are_refused():
    class Five:
        class metadata:  # noqa: N801 - a stand-in attribute holder
            num_landmarks = 5

    with pytest.raises(FlipTTAError, match="68"):
        FlipTTARunner(Five())
    with pytest.raises(FlipTTAError, match="68"):
        mirror_outputs({"heatmaps": np.zeros((1, 4, 4, 5)), "occlusion": np.zeros((1, 4, 4, 2)),
                        "pose": np.zeros((1, 3))})


def test_analyzer_option_mirrors_the_faces_of_a_mirrored_photo(runner, face):
    from lponet_tf.inference.analyzer import FaceAnalyzer, FaceAnalyzerOptions
    from lponet_tf.detection import landmark_box

    assert FaceAnalyzerOptions().flip_tta is False
    image, points = face
    w = image.shape[1]
    box = landmark_box(points)
    mirrored_box = np.array([w - 1 - box[2], box[1], w - 1 - box[0], box[3]])
    from lponet_tf.data.augment import FLIP_68

    def disagreement(flip_tta):
        analyzer = FaceAnalyzer.create(model=runner, flip_tta=flip_tta, refine=False)
        assert isinstance(analyzer.runner, FlipTTARunner) == flip_tta
        a = analyzer.analyze(image, boxes=[box])[0]
        b = analyzer.analyze(np.ascontiguousarray(image[:, ::-1]), boxes=[mirrored_box])[0]
        b_back = b.landmarks[FLIP_68] * [-1.0, 1.0] + [w - 1.0, 0.0]
        return np.linalg.norm(b_back - a.landmarks, axis=1), np.abs(b.pose * [-1, 1, -1] - a.pose)

    # With TTA the two crops differ only by the resampler's rounding (OpenCV's fixed-point
    # bilinear weights are not mirror-exact): measured 0.004 px at most on AFW faces.
    # Without it the network's own asymmetry shows (1-3 px median there).
    px, deg = disagreement(True)
    assert px.max() < 0.05 and deg.max() < 0.05, (px.max(), deg)
    px_plain, _ = disagreement(False)
    assert np.median(px_plain) > 0.2


def test_shift_maps_x_moves_the_centre_of_mass_by_the_shift(rng):
    from lponet_tf.heatmaps import encode_heatmaps

    maps = encode_heatmaps(rng.uniform(40, 88, (5, 2)), input_size=128)[None]  # 32 x 32 cells
    cols = np.arange(32.0)

    def centre_x(m):
        return (m * cols[None, None, :, None]).sum(axis=(1, 2)) / m.sum(axis=(1, 2))

    for cells in (0.45, -1.3, 2.0, 0.0):
        moved = shift_maps_x(maps, cells)
        np.testing.assert_allclose(centre_x(moved) - centre_x(maps), cells, atol=1e-5)  # float32 maps
        np.testing.assert_allclose(moved.sum(axis=(1, 2)), maps.sum(axis=(1, 2)), rtol=1e-6)
    assert not shift_maps_x(maps, 40.0).any()  # shifted off the grid: zeros entered


class OffsetNetwork:
    """A stand-in network that learned labels ``d`` px right of the true points: it answers
    every crop with heatmaps at ``p + (d, 0)``, where ``p`` are the true points of a direct
    crop, or their mirror for the mirrored crop (told apart by a marker pixel)."""

    def __init__(self, points, d, size=128):
        from lponet_tf.heatmaps import encode_heatmaps
        from lponet_tf.data.augment import FLIP_68

        mirrored = (points * [-1.0, 1.0] + [size - 1.0, 0.0])[FLIP_68]
        self.maps = {False: encode_heatmaps(points + [d, 0.0], size) * 60.0,
                     True: encode_heatmaps(mirrored + [d, 0.0], size) * 60.0}

    def __call__(self, x):
        is_mirrored = [bool(crop[0, -1, 0] > 0) for crop in x]
        return {"heatmaps": np.stack([self.maps[m] for m in is_mirrored]).astype(np.float32),
                "occlusion": np.zeros((len(x), 32, 32, 2), np.float32),
                "pose": np.broadcast_to(np.eye(3), (len(x), 3, 3)).copy()}


def test_label_offset_is_turned_back_before_the_average(rng):
    """With the offset told, flip TTA answers the network's own convention ``p + d``; with
    0 the mirrored run's ``p - d`` pulls the average to ``p`` (DARK decoding, by hand)."""
    from lponet_tf.heatmaps import decode_heatmaps

    points, d = rng.uniform(30, 98, (68, 2)), 0.8
    crop = np.zeros((1, 128, 128, 3), np.float32)
    crop[0, 0, 0] = 255.0  # the marker: top-left in the direct crop, top-right when mirrored
    network = OffsetNetwork(points, d)
    told = decode_heatmaps(FlipTTARunner(network, label_x_offset=d)(crop)["heatmaps"])[0][0]
    plain = decode_heatmaps(FlipTTARunner(network)(crop)["heatmaps"])[0][0]
    direct = decode_heatmaps(network(crop)["heatmaps"])[0][0]
    assert np.abs(told - direct).max() < 0.05, np.abs(told - direct).max()
    assert np.abs(plain - direct)[:, 0].mean() == pytest.approx(d, abs=0.1)
    with pytest.raises(ValueError, match="finite"):
        FlipTTARunner(network, label_x_offset=float("nan"))


def test_the_bundled_preset_carries_its_measured_offset(runner):
    from lponet_tf.inference.analyzer import FaceAnalyzer
    from lponet_tf.presets import get_preset

    preset = get_preset("lponet_lite")
    assert 0.0 < preset.flip_label_x_offset < 2.0
    assert default_label_x_offset() == preset.flip_label_x_offset
    assert default_label_x_offset(str(preset.bundled_tflite())) == preset.flip_label_x_offset
    assert default_label_x_offset("elsewhere/model.tflite") == 0.0
    assert default_label_x_offset(runner) == 0.0  # a runner: its labels are unknown
    built = FaceAnalyzer.create(flip_tta=True)
    assert built.runner.label_x_offset == preset.flip_label_x_offset
    assert FaceAnalyzer.create(model=runner, flip_tta=True).runner.label_x_offset == 0.0
    told = FaceAnalyzer.create(model=runner, flip_tta=True, flip_label_x_offset=0.5)
    assert told.runner.label_x_offset == 0.5
    with pytest.raises(ValueError, match="flip_label_x_offset"):
        FaceAnalyzer.create(model=runner, flip_tta=True, flip_label_x_offset=float("inf"))
