"""The detection package's pieces: box mapping tables as package data, the box guard, the
BlazeFace infer/decode split, and the confirmed detector's rule (unit tests, fast)."""
from __future__ import annotations

import json
import math
import pathlib

import cv2
import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT, ASTRONAUT_BOX
from lponet_tf.detection import (
    BOX_MAPPINGS, FOUND_IOU, BlazeFaceDetector, BoxMapping, Detection, as_detector,
    box_iou, detection_to_face_box, matching_face,
)
from lponet_tf.detection.box_mapping import MAPPINGS_FILE, load_box_mappings
from lponet_tf.detection.confirm import ConfirmedDetector, boxes_agree
from lponet_tf.detection.zoom_out import ZoomOutDetector, merge_passes, zoom_out

REPO = pathlib.Path(__file__).resolve().parents[1]


def astronaut():
    return cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)


# ------------------------------------------------------------------ tables as data
def test_box_mappings_are_package_data_and_loaded_from_it():
    data = json.loads(MAPPINGS_FILE.read_text())
    assert set(data["mappings"]) == {"blazeface_short", "blazeface_full",
                                     "blazeface_full_sparse", "blazeface_back"}
    for source, m in load_box_mappings().items():
        assert BOX_MAPPINGS[source] == m
        raw = data["mappings"][source]
        assert (m.dx, m.dy, m.sx, m.sy) == (raw["dx"], raw["dy"], raw["sx"], raw["sy"])
        assert np.array_equal(np.array(m.keypoint_weights), np.array(raw["keypoint_weights"]))
    # the wheel carries the file (setup.py package_data)
    assert '"detection/*.json"' in (REPO / "setup.py").read_text()


# ------------------------------------------------------------------ the box guard
def _linear_mapping(guard):
    """A keypoint-linear mapping whose log width follows keypoint 0's x (box units)."""
    w = np.zeros((13, 4))
    w[0] = [0.0, 0.0, math.log(0.9), math.log(0.9)]
    w[1, 2] = 2.0  # d log(lw / w) / d kx_0
    return BoxMapping(0.0, 0.0, 0.9, 0.9, tuple(map(tuple, w)), max_size_deviation=guard)


@pytest.mark.parametrize("kx, expect_keypoints", [(0.05, True), (-0.07, True), (0.1, False),
                                                  (-0.5, False)])
def test_guard_falls_back_to_the_constant_mapping(kx, expect_keypoints):
    box = np.array([0.0, 0.0, 100.0, 100.0])
    kps = np.full((6, 2), 50.0)
    kps[0, 0] = 50.0 + 100.0 * kx  # keypoint 0 at kx box widths from the centre
    guarded, unguarded = _linear_mapping(0.15), _linear_mapping(None)
    constant = BoxMapping(0.0, 0.0, 0.9, 0.9)
    width = float(np.diff(guarded.apply(box, kps)[[0, 2]])[0])
    # by hand: log size = log 0.9 + 2 kx, used only when |2 kx| <= 0.15
    by_hand = 100 * 0.9 * math.exp(2 * kx) if abs(2 * kx) <= 0.15 else 90.0
    assert width == pytest.approx(by_hand, rel=1e-5)
    assert np.allclose(unguarded.apply(box, kps)[[0, 2]], [50 - 45 * math.exp(2 * kx),
                                                           50 + 45 * math.exp(2 * kx)], atol=1e-3)
    if not expect_keypoints:
        np.testing.assert_allclose(guarded.apply(box, kps), constant.apply(box), atol=1e-4)


def test_guard_is_per_box_and_handles_non_finite_keypoints():
    m = _linear_mapping(0.15)
    boxes = np.array([[0, 0, 100, 100], [0, 0, 100, 100], [0, 0, 100, 100]], np.float64)
    kps = np.full((3, 6, 2), 50.0)
    kps[0, 0, 0] = 53.0   # +0.06 in log size: keypoints kept
    kps[1, 0, 0] = 90.0   # +0.8: guard
    kps[2, 0, 0] = np.nan
    out = m.apply(boxes, kps)
    assert out[0, 2] - out[0, 0] == pytest.approx(90 * math.exp(0.06), rel=1e-5)
    assert out[1, 2] - out[1, 0] == pytest.approx(90.0, rel=1e-5)
    assert np.all(np.isfinite(out[2])) and out[2, 2] - out[2, 0] == pytest.approx(90.0, rel=1e-5)


def test_shipped_blazeface_mappings_carry_the_guard():
    for name in ("blazeface_short", "blazeface_full", "blazeface_full_sparse", "blazeface_back"):
        assert BOX_MAPPINGS[name].max_size_deviation == 0.15


def test_guard_fixes_the_astronaut_box():
    """The astronaut's face is about a fifth of the photo: outside the 300W-fitted range, the
    back model's keypoint mapping made its box about 1.9x too wide."""
    rgb = astronaut()
    (d,) = BlazeFaceDetector("back", num_threads=1).detect(rgb)
    guarded = detection_to_face_box(d)
    m = BOX_MAPPINGS["blazeface_back"]
    unguarded = BoxMapping(m.dx, m.dy, m.sx, m.sy, m.keypoint_weights).apply(d.box, d.keypoints)
    assert (unguarded[2] - unguarded[0]) / d.width > 1.5  # the failure the guard is for
    assert box_iou(guarded, ASTRONAUT_BOX)[0, 0] > 0.8
    assert box_iou(unguarded, ASTRONAUT_BOX)[0, 0] < 0.5


# ------------------------------------------------------------------ BlazeFace infer / decode
def test_detect_is_decode_of_infer_and_decode_takes_a_threshold():
    det = BlazeFaceDetector("back", num_threads=1)
    rgb = astronaut()
    out = det.infer(rgb)
    a, b = det.detect(rgb), det.decode(out)
    assert len(a) == len(b) == 1 and np.array_equal(a[0].box, b[0].box)
    low = det.decode(out, 0.05)
    assert len(low) >= 1 and min(d.score for d in low) >= 0.05
    assert det.decode(out, 1.0) == []


# ------------------------------------------------------------------ confirmed detector
def test_boxes_agree():
    assert boxes_agree([0, 0, 10, 10], [1, 1, 11, 11])          # IoU 0.68
    assert boxes_agree([0, 0, 10, 10], [4, 4, 40, 40])          # small one's centre inside
    assert not boxes_agree([0, 0, 10, 10], [9, 9, 30, 30])
    assert not boxes_agree([0, 0, 10, 10], [20, 0, 30, 10])


def _face_on(box):
    """A face whose landmarks' box is ``box`` (two corner points)."""
    from types import SimpleNamespace
    x0, y0, x1, y1 = box
    return SimpleNamespace(landmarks=np.array([[x0, y0], [x1, y1]], np.float64))


def test_matching_face_takes_the_best_overlap_at_or_above_the_threshold():
    truth = [0, 0, 100, 100]
    near, nearer = _face_on([20, 0, 120, 100]), _face_on([5, 0, 105, 100])   # IoU 2/3, 0.905
    found, iou = matching_face([near, _face_on([300, 300, 400, 400]), nearer], truth)
    assert found is nearer and iou == pytest.approx(95 / 105, abs=1e-6)
    # IoU exactly at the threshold counts; just below does not (and reports the IoU seen).
    at = _face_on([0, 0, 100, 200])                 # 100*100 / 100*200 = 0.5
    assert FOUND_IOU == 0.5 and matching_face([at], truth)[0] is at
    below = _face_on([0, 0, 100, 201])
    found, iou = matching_face([below], truth)
    assert found is None and iou == pytest.approx(100 / 201, abs=1e-6)
    assert matching_face([], truth) == (None, 0.0)
    assert matching_face([near], truth, min_iou=0.7)[0] is None


class FakeBlaze:
    """infer/decode on a fixed list of (box, score): decode thresholds it."""

    def __init__(self, dets, threshold, source):
        self.dets, self.score_threshold, self.source = dets, threshold, source
        self.runs = 0

    def infer(self, image):
        self.runs += 1
        return self.dets

    def decode(self, out, score_threshold=None):
        t = self.score_threshold if score_threshold is None else score_threshold
        return [Detection(b, s, None, self.source) for b, s in out if s >= t]


def _confirmed(primary, second, **kw):
    return ConfirmedDetector(FakeBlaze(primary, 0.6, "blazeface_back"),
                             FakeBlaze(second, 0.5, "blazeface_short"), **kw)


IMG = np.zeros((500, 500, 3), np.uint8)
BIG = [100, 100, 300, 300]      # 200 px of 500: 0.4 of the side
SMALL = [10, 10, 40, 40]        # 30 px: 0.06 of the side (small_face 0.1)
ELSEWHERE = [350, 350, 480, 480]


def test_confirmed_keeps_sure_faces_without_the_second_model():
    det = _confirmed([(BIG, 0.9)], [(BIG, 0.9)])
    assert [d.score for d in det.detect(IMG)] == [pytest.approx(0.9)]
    assert det.confirm.runs == 0


def test_confirmed_needs_agreement_below_accept():
    # 0.65: above the primary's 0.6 but below accept 0.7 and a large box: needs the second model
    assert _confirmed([(BIG, 0.65)], []).detect(IMG) == []
    assert len(_confirmed([(BIG, 0.65)], [(BIG, 0.45)]).detect(IMG)) == 1
    # a masked face at 0.35: kept only when the short model agrees at >= 0.45
    assert len(_confirmed([(BIG, 0.35)], [(BIG, 0.45)]).detect(IMG)) == 1
    assert _confirmed([(BIG, 0.35)], [(BIG, 0.44)]).detect(IMG) == []
    assert _confirmed([(BIG, 0.35)], [(ELSEWHERE, 0.9)]).detect(IMG) == []
    assert _confirmed([(BIG, 0.25)], [(BIG, 0.9)]).detect(IMG) == []   # below low 0.3


def test_confirmed_small_faces_keep_the_primary_threshold():
    # small boxes: the short model cannot see them, so the primary's 0.6 applies
    assert len(_confirmed([(SMALL, 0.65)], []).detect(IMG)) == 1
    assert _confirmed([(SMALL, 0.55)], []).detect(IMG) == []


def test_confirmed_adds_a_confirmed_face_next_to_a_sure_one():
    det = _confirmed([(BIG, 0.9), (ELSEWHERE, 0.4)], [(ELSEWHERE, 0.6)])
    assert [d.source for d in det.detect(IMG)] == ["blazeface_back"] * 2
    with pytest.raises(TypeError):
        ConfirmedDetector(lambda im: [], FakeBlaze([], 0.5, "x"))
    with pytest.raises(ValueError):
        _confirmed([], [], low=1.5)


# ------------------------------------------------------------------ zoom-out pass
class Recorder:
    """A detector that records the image shapes it sees and answers from a function."""

    def __init__(self, answer, source="fake"):
        self.answer, self.source, self.shapes = answer, source, []

    def detect(self, image):
        self.shapes.append(image.shape)
        return [Detection(b, s, k, self.source) for b, s, k in self.answer(image)]


def test_zoom_out_pads_with_gray_on_every_side():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded, p, scale = zoom_out(img, 1.0, fill=77)
    assert p == 3 and padded.shape == (8, 9, 3) and scale == (1.0, 1.0)
    assert np.array_equal(padded[3:5, 3:6], img)
    border = np.ones(padded.shape[:2], bool)
    border[3:5, 3:6] = False
    assert np.all(padded[border] == 77)


def test_zoom_out_shrinks_a_large_image_first_and_maps_back():
    # 1000 x 600 with a border of 1x: shrunk to a longer side of 768 / 3 = 256 (x 0.256) first
    img = np.full((600, 1000, 3), 90, np.uint8)
    padded, p, (sx, sy) = zoom_out(img, 1.0, max_side=768)
    assert p == 256 and padded.shape == (154 + 512, 768, 3)
    assert sx == pytest.approx(0.256) and sy == pytest.approx(154 / 600)
    small = cv2.resize(img, (256, 154), interpolation=cv2.INTER_AREA)
    assert np.array_equal(padded[256:256 + 154, 256:512], small)
    # a face at (100, 200, 400, 500) in the image: in the padded image at p + its small box,
    # pixel centres at integer coordinates (x -> (x + 0.5) * s - 0.5)
    face = np.array([100.0, 200.0, 400.0, 500.0])
    s = np.array([sx, sy, sx, sy])
    in_padded = (face + 0.5) * s - 0.5 + p
    det = ZoomOutDetector(Recorder(lambda im: []), Recorder(
        lambda im: [(in_padded, 0.9, None)] if im.shape == padded.shape else []), pad=1.0)
    (got,) = det.detect(img)
    np.testing.assert_allclose(got.box, face, atol=1e-3)
    assert det.max_side == 768   # the default


def test_zoom_out_runs_only_when_the_first_pass_finds_no_sure_face():
    first = Recorder(lambda im: [([10, 10, 50, 50], 0.9, None)] if im.shape == IMG.shape else [])
    assert len(ZoomOutDetector(first, pad=1.0).detect(IMG)) == 1 and first.shapes == [IMG.shape]
    assert len(ZoomOutDetector(first, pad=1.0, rerun_below=0.9).detect(IMG)) == 1
    assert first.shapes == [IMG.shape] * 2                     # 0.9 >= 0.9: sure
    ZoomOutDetector(first, pad=1.0, rerun_below=0.95, max_side=None).detect(IMG)
    assert first.shapes[2:] == [IMG.shape, (1500, 1500, 3)]    # 0.9 < 0.95: second pass


def test_zoom_out_merges_the_passes():
    def second(im):  # in the padded image (border 500), then in the image's pixels:
        return [([500, 500, 560, 560], 0.8, None),    # (0, 0, 60, 60) over a part-of-face box
                ([801, 801, 861, 861], 0.9, None),    # (301, 301, 361, 361): the same box again
                ([700, 700, 760, 760], 0.7, None),    # (200, 200, 260, 260): a new face
                ([850, 850, 880, 880], 0.2, None)]    # under a better first-pass face
    first = Recorder(lambda im: [([5, 5, 25, 25], 0.5, None), ([300, 300, 360, 360], 0.6, None),
                                 ([350, 350, 380, 380], 0.4, None)])
    got = ZoomOutDetector(first, Recorder(second, "z"), pad=1.0, rerun_below=0.8,
                          max_side=None).detect(IMG)
    assert [(d.source, d.score) for d in got] == [
        ("z", pytest.approx(0.8)), ("z", pytest.approx(0.7)), ("fake", pytest.approx(0.6)),
        ("fake", pytest.approx(0.4))]
    np.testing.assert_allclose(got[0].box, [0, 0, 60, 60])
    # the same face at IoU >= 0.5 keeps the first pass's (full-resolution) box
    np.testing.assert_allclose(got[2].box, [300, 300, 360, 360])


def test_zoom_out_keeps_a_first_pass_face_larger_than_the_second_pass_box():
    # A face found at a low score, and a higher-scoring second-pass box on its forehead (IoU
    # 0.22, centre inside the face): the face is kept, the forehead box is not added.
    def second(im):                                   # border 500: (110, 100, 150, 120)
        return [([610, 600, 650, 620], 0.9, None)]
    first = Recorder(lambda im: [([100, 100, 160, 160], 0.5, None)])
    got = ZoomOutDetector(first, Recorder(second, "z"), pad=1.0, rerun_below=0.8,
                          max_side=None).detect(IMG)
    assert [(d.source, d.score) for d in got] == [("fake", pytest.approx(0.5))]
    # the same two boxes the other way round: the larger second-pass box replaces the part
    got = merge_passes([Detection([110, 100, 150, 120], 0.5, None, "a")],
                       [Detection([100, 100, 160, 160], 0.9, None, "b")])
    assert [d.source for d in got] == ["b"]


def test_zoom_out_maps_the_second_pass_back_and_drops_faces_on_the_border():
    img = np.zeros((100, 200, 3), np.uint8)
    kps = np.array([[260.0, 230.0], [300.0, 230.0]])

    def answer(im):   # p = 0.5 * 200 = 100 px of border
        if im.shape[:2] == (100, 200):
            return []
        assert im.shape[:2] == (300, 400) and np.all(im[:100] == 128)
        return [([220, 150, 320, 290], 0.8, kps),     # centre (270, 220) -> (170, 120): below
                ([150, 90, 250, 190], 0.7, None),     # centre (200, 140) -> (100, 40): inside
                ([0, 0, 90, 90], 0.95, None)]         # on the border only
    zoomed = Recorder(answer, "second")
    det = ZoomOutDetector(Recorder(lambda im: []), zoomed, pad=0.5, max_side=None)
    (face,) = det.detect(img)
    assert face.source == "second" and face.score == pytest.approx(0.7)
    np.testing.assert_allclose(face.box, [50, -10, 150, 90])
    assert det.detectors == (det.detector, zoomed)
    # a face cut by the frame: its box may reach past the image, its centre may not
    det = ZoomOutDetector(Recorder(lambda im: []), Recorder(
        lambda im: [([80, 60, 340, 320], 0.8, kps)]), pad=0.5, max_side=None)
    (face,) = det.detect(img)
    np.testing.assert_allclose(face.box, [-20, -40, 240, 220])
    np.testing.assert_allclose(face.keypoints, kps - 100)


def test_zoom_out_validates_its_arguments():
    with pytest.raises(TypeError):
        ZoomOutDetector(object())
    with pytest.raises(TypeError):
        ZoomOutDetector(Recorder(lambda im: []), zoomed=3)
    for pad in (0.0, -1.0, float("nan"), 5.0):
        with pytest.raises(ValueError):
            ZoomOutDetector(Recorder(lambda im: []), pad=pad)
    with pytest.raises(ValueError):
        ZoomOutDetector(Recorder(lambda im: []), rerun_below=1.5)
    with pytest.raises(ValueError):
        ZoomOutDetector(Recorder(lambda im: []), max_side=8)
    with pytest.raises(ValueError):
        ZoomOutDetector(Recorder(lambda im: []), fill=300)


def test_confirmed_a_kept_faces_box_confirms_nothing_more_and_one_box_one_face():
    ear = [310, 120, 350, 160]           # beside the kept face, centre inside its short box
    big_short = [90, 90, 360, 330]       # the second model's (larger) box of the kept face
    det = _confirmed([(BIG, 0.9), (ear, 0.35)], [(big_short, 0.9)])
    assert [d.box.tolist() for d in det.detect(IMG)] == [BIG]
    # two low candidates, one second-model box between them: only the better is confirmed
    left, right = [100, 100, 200, 300], [200, 100, 300, 300]
    both = _confirmed([(left, 0.4), (right, 0.5)], [(BIG, 0.9)]).detect(IMG)
    assert [d.box.tolist() for d in both] == [right]
    # the box confirms the candidate it overlaps most, not the best scoring (a masked face's
    # cheek box at 0.55 beside the face's own 0.49: masked-300W afw/88094323_1)
    cheek, face = [110, 200, 170, 260], [110, 90, 310, 290]
    got = _confirmed([(cheek, 0.55), (face, 0.49)], [([100, 95, 320, 300], 0.7)]).detect(IMG)
    assert [d.box.tolist() for d in got] == [face]
    # two faces, two boxes: both confirmed
    two = _confirmed([(BIG, 0.4), (ELSEWHERE, 0.5)], [(BIG, 0.6), (ELSEWHERE, 0.6)]).detect(IMG)
    assert sorted(d.box.tolist() for d in two) == sorted([BIG, ELSEWHERE])
    # a confirmed candidate is taken: the next box, agreeing with both, confirms the other
    # (one candidate per box AND one box per candidate)
    first, second = [0, 0, 100, 100], [60, 0, 160, 100]
    got = _confirmed([(first, 0.5), (second, 0.45)],
                     [([0, 0, 100, 100], 0.9), ([25, 0, 125, 100], 0.8)]).detect(IMG)
    assert sorted(d.box.tolist() for d in got) == [first, second]


def test_confirmed_low_follows_a_primary_threshold_below_it():
    """A primary set below ``low`` (0.3) asks for its weaker candidates to be considered:
    a 0.25 box that the second model confirms is kept (it is not at the default 0.6)."""
    primary = FakeBlaze([(BIG, 0.25)], 0.2, "blazeface_back")
    det = ConfirmedDetector(primary, FakeBlaze([(BIG, 0.9)], 0.5, "blazeface_short"))
    assert [d.box.tolist() for d in det.detect(IMG)] == [BIG]
    assert _confirmed([(BIG, 0.25)], [(BIG, 0.9)]).detect(IMG) == []


def test_boxes_agree_by_overlap_or_by_a_centre_on_the_edge():
    assert boxes_agree([0, 0, 10, 10], [5, 0, 20, 10])  # IoU 0.25; centre (5, 5) on b's edge
    assert not boxes_agree([0, 0, 10, 10], [5.01, 0, 20, 10])


def test_a_callable_detectors_odd_boxes_are_skipped_and_fractions_refused():
    from lponet_tf.detection.wrappers import BoxesDetector, CallableDetector

    good = [100, 100, 200, 220, 0.9]
    rows = [good, [10, 10, 10, 30, 0.8], [np.nan, 0, 5, 5, 0.7]]
    assert [d.box.tolist() for d in CallableDetector(lambda im: rows).detect(IMG)] == [good[:4]]
    with pytest.raises(ValueError, match="look like fractions of the image"):
        CallableDetector(lambda im: [[0.2, 0.2, 0.4, 0.5]]).detect(IMG)
    with pytest.raises(ValueError, match="look like fractions of the image"):
        BoxesDetector([[0.2, 0.2, 0.4, 0.5]]).detect(IMG)
    with pytest.raises(ValueError, match="has no area"):  # boxes a user gives: each refused
        BoxesDetector([good[:4], [10, 10, 10, 30]])
    with pytest.raises(ValueError, match=r"numbers \[x0, y0, x1, y1, score\], got generator"):
        CallableDetector(lambda im: (b for b in [good])).detect(IMG)
    for bad in (0, -100, 0.5, 31):
        with pytest.raises(ValueError, match="max_side must be a whole number >= 32"):
            CallableDetector(lambda im: [], max_side=bad)


def test_blazeface_arguments_are_checked_when_built():
    for kwargs, message in (({"score_threshold": float("nan")}, "score_threshold must be in"),
                            ({"score_threshold": 1.5}, "score_threshold must be in"),
                            ({"iou_threshold": float("nan")}, "iou_threshold must be in"),
                            ({"iou_threshold": 0.0}, "iou_threshold must be in"),
                            ({"num_threads": 0}, "num_threads must be a whole number"),
                            ({"num_threads": 1.5}, "num_threads must be a whole number")):
        with pytest.raises(ValueError, match=message):
            BlazeFaceDetector("back", **kwargs)
    with pytest.raises(TypeError, match=r"instance, e.g. BlazeFaceDetector\(...\), not the class"):
        as_detector(BlazeFaceDetector)


def test_weighted_nms_averages_an_overlapping_group_by_score():
    from lponet_tf.detection.blazeface import weighted_nms

    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float64)
    kps = np.array([[[2, 2]], [[3, 2]], [[55, 55]]], np.float64)
    scores = np.array([0.9, 0.1, 0.5])
    (b1, k1, s1), (b2, k2, s2) = weighted_nms(boxes, kps, scores, 0.3)  # IoU 90/110 > 0.3
    np.testing.assert_allclose(b1, [0.1, 0.0, 10.1, 10.0])  # 0.9 x box0 + 0.1 x box1
    np.testing.assert_allclose(k1, [[2.1, 2.0]])
    assert s1 == 0.9 and s2 == 0.5
    np.testing.assert_allclose(b2, [50, 50, 60, 60])


def test_zoomed_back_drops_a_centre_past_the_last_pixel_centre():
    from lponet_tf.detection.zoom_out import zoomed_back

    # border p = 10 (boxes below in the padded image); the image is 100 x 200 (h, w):
    # pixel centres 0..199 in x, 0..99 in y
    inside = Detection(np.array([189.0, 50.0, 229.0, 90.0]), 0.9, None, "z")  # cx 199.0
    past = Detection(np.array([189.5, 50.0, 229.5, 90.0]), 0.8, None, "z")    # cx 199.5
    below = Detection(np.array([60.0, 89.5, 100.0, 129.5]), 0.7, None, "z")   # cy 99.5
    got = zoomed_back([inside, past, below], 10, (100, 200, 3))
    assert [d.score for d in got] == [0.9]
    np.testing.assert_allclose(got[0].box, [179, 40, 219, 80])


def test_a_second_pass_box_replaces_first_pass_boxes_only_if_it_beats_every_one():
    from lponet_tf.detection.zoom_out import merge_passes

    weak = Detection(np.array([10.0, 10, 40, 40]), 0.5, None, "a")     # centre in z, IoU 0.09
    strong = Detection(np.array([60.0, 60, 90, 90]), 0.95, None, "a")  # centre in z, scores more
    z = Detection(np.array([0.0, 0, 100, 100]), 0.9, None, "z")
    assert [d.score for d in merge_passes([weak, strong], [z])] == [0.95, 0.5]
    assert [d.source for d in merge_passes([weak], [z])] == ["z"]


def test_one_small_box_among_pixel_boxes_is_not_taken_for_fractions():
    from lponet_tf.detection.wrappers import CallableDetector

    rows = [[100, 100, 200, 220, 0.9], [0.2, 0.2, 1.4, 1.5, 0.5]]
    got = CallableDetector(lambda im: rows).detect(np.zeros((480, 640, 3), np.uint8))
    assert [round(float(d.score), 6) for d in got] == [0.9, 0.5]
