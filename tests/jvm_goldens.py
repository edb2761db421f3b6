"""Golden values for the JVM tests of ``android_demo/``, written by the Python library.

Each writer runs the Python code the Java port must reproduce on fixed inputs and returns a
JSON-able dict; data arrays go to raw little-endian files next to it (read by
``android_demo/core/src/test/java/org/lponet/core/Goldens.java``). An error here (an
ImportError included) fails the JVM tests: it is never turned into a skip.

Where the compared numbers come from another library's resampling (OpenCV), the Java tests
allow a grey level; where a landmark's decoding is ill-conditioned (two heatmap cells tied
within :data:`TIE_MARGIN`), :func:`landmark_reference` lists the positions the decoding can
legitimately take (see ``android_demo/README.md``, "Tolerances").
"""
from __future__ import annotations

import json
import pathlib

import numpy as np

from jvm_toolchain import ANDROID
from script_modules import load_script

ASTRONAUT = ANDROID.parent / "lponet_tf" / "assets" / "astronaut.png"


class _Out:
    def __init__(self, root: pathlib.Path):
        self.root = root

    def f32(self, name: str, arr) -> str:
        np.ascontiguousarray(arr, dtype="<f4").tofile(self.root / name)
        return name

    def u8(self, name: str, arr) -> str:
        np.ascontiguousarray(arr, dtype=np.uint8).tofile(self.root / name)
        return name

    def image(self, name: str, img) -> dict:
        return {"file": self.u8(name, img), "shape": list(img.shape)}


def _astronaut() -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.imread(str(ASTRONAUT), cv2.IMREAD_COLOR)[:, :, ::-1])


def _two_faces() -> np.ndarray:
    """A real photo with two faces: the astronaut's head beside its mirror image. Cropped
    tight enough for BlazeFace short range (faces larger than ~1/5 of the image)."""
    head = _astronaut()[30:230, 120:330]
    canvas = np.zeros((210, 2 * 210 + 30, 3), np.uint8)
    canvas[5:205, 0:210] = head
    canvas[5:205, 240:450] = head[:, ::-1]
    return canvas


def goldens_crop(out: _Out) -> dict:
    import cv2

    from lponet_tf.codec.crop import CropTransform, square_box

    rng = np.random.default_rng(11)
    boxes = [[10.0, 20.0, 110.0, 140.0], [0.0, 0.0, 100.0, 50.0], [40.25, 33.5, 40.25, 33.5],
             [-30.0, -12.0, 60.0, 90.0]]
    for _ in range(4):
        x0, y0 = rng.uniform(-50, 300, 2)
        w, h = rng.uniform(1, 200, 2)
        boxes.append([float(x0), float(y0), float(x0 + w), float(y0 + h)])
    cases = []
    for i, b in enumerate(boxes):
        b = np.float32(b).tolist()  # boxes are float32 in the library (detections, landmarks)
        size = [64, 128, 256][i % 3]
        t = CropTransform.from_box(b, size)
        pts = rng.uniform(-60, 320, (6, 2))
        cases.append({
            "box": b, "size": size, "square": square_box(b).tolist(),
            "matrix": t.matrix.tolist(), "inverse": t.inverse_matrix.tolist(),
            "points": pts.tolist(), "to_crop": t.to_crop(pts).tolist(),
            "to_image": t.to_image(pts).tolist(),
        })
    warps = []
    photo = _astronaut()
    images = {"astronaut": photo, "random": rng.integers(0, 256, (53, 71, 3), dtype=np.uint8)}
    metas = {k: out.image(f"crop_img_{k}.u8", v) for k, v in images.items()}
    plan = [("astronaut", [170.0, 40.0, 300.0, 190.0], 256),   # the face, downscaled
            ("astronaut", [-40.0, -30.0, 100.0, 90.0], 128),   # partly outside the image
            ("astronaut", [200.0, 100.0, 230.0, 125.0], 256),  # small box: upscaled
            ("random", [5.0, 3.0, 60.0, 47.0], 64),
            ("random", [-10.0, 20.0, 30.0, 70.0], 64)]
    for j, (name, box, size) in enumerate(plan):
        crop = CropTransform.from_box(box, size).warp(images[name]).astype(np.float32)
        warps.append({"image": metas[name], "box": box, "size": size,
                      "crop": out.f32(f"crop_warp_{j}.f32", crop)})
    areas = []
    for j, (h, w, nh, nw) in enumerate(((60, 80, 30, 40), (90, 60, 30, 20), (97, 131, 41, 67),
                                        (210, 450, 119, 256), (33, 301, 7, 128))):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        areas.append({"image": out.image(f"area_src_{j}.u8", img), "size": [nw, nh],
                      "out": out.u8(f"area_out_{j}.u8", small)})
    return {"cases": cases, "warps": warps, "areas": areas}


def goldens_rotations(out: _Out) -> dict:
    from lponet_tf import geometry as g

    rng = np.random.default_rng(12)
    six = rng.normal(size=(16, 6))
    eul = rng.uniform([-89, -179, -179], [89, 179, 179], (16, 3))
    locked = np.array([[90.0, 30.0, 0.0], [-90.0, -40.0, 0.0], [89.99, 10.0, 20.0],
                       [0.0, 179.9, -179.9], [0.0, 0.0, 0.0]])
    mats = np.concatenate([g.euler_to_matrix(eul), g.euler_to_matrix(locked),
                           g.rotation_6d_to_matrix(six)])
    near = np.concatenate([
        np.round(mats[:8] * 127.5) / 127.5, mats[8:16] + rng.normal(0, 0.05, (8, 3, 3)),
        [np.diag([1.0, -1.0, 1.0]) @ (mats[0] + rng.normal(0, 0.05, (3, 3))),
         np.diag([1.0, 1.0, 1e-6]), rng.normal(size=(3, 3))]])
    u, v = np.array([0.3, -0.5, 0.8]), np.array([0.6, 0.2, -0.4])
    degenerate = np.stack([np.zeros((3, 3)), np.diag([1.0, 1e-7, 0.0]), np.outer(u, v),
                           np.outer(v, -v / np.linalg.norm(v)), 1e-200 * np.outer(v, u)])
    return {
        "six_d": six.tolist(), "six_d_matrix": g.rotation_6d_to_matrix(six).tolist(),
        "euler": eul.tolist(), "euler_matrix": g.euler_to_matrix(eul).tolist(),
        "matrices": mats.tolist(), "matrices_euler": g.matrix_to_euler(mats).tolist(),
        "geodesic": [float(g.geodesic_distance(mats[i], mats[i + 1])) for i in range(10)],
        # int8-like outputs (entries rounded to steps of 2/255), noisier ones, a noisy reflection
        # (det < 0: the smallest singular value flips), a near-singular and a general matrix,
        # each with its nearest rotation
        "near": near.reshape(-1, 9).tolist(),
        "near_rotation": g.nearest_rotation(near).reshape(-1, 9).tolist(),
        # rank <= 1 (a degenerate 6D output) and a tiny second singular value: the zero
        # matrix's and diag(1, 1e-7, 0)'s nearest rotations are unique, a rank-1 matrix's are
        # all the rotations taking v to u (LAPACK picks one; only the distance is compared)
        "degenerate": degenerate.reshape(-1, 9).tolist(),
        "degenerate_rotation": g.nearest_rotation(degenerate).reshape(-1, 9).tolist(),
        "degenerate_unique": [True, True, False, False, False],
    }


def goldens_heatmaps(out: _Out) -> dict:
    """Both decoding rules on random maps, 68 noisy encoded Gaussians, the edge cases,
    untruncated Gaussians of known sub-pixel centres (``truth``, crop pixels) and training
    targets of known centres near the map's edges (``truth``)."""
    from lponet_tf.heatmaps import decode_heatmaps, encode_heatmaps, grid_to_crop

    rng = np.random.default_rng(13)
    cases = []
    maps = [(rng.normal(size=(16, 16, 5)) * 10).astype(np.float32)]
    pts = rng.uniform(0, 255, (68, 2))
    maps.append((60 * encode_heatmaps(pts, input_size=256)
                 + rng.normal(size=(64, 64, 68)) * 0.5).astype(np.float32))
    special = np.zeros((8, 12, 5), np.float32)        # channel 0: all zero (argmax cell 0)
    special[:, :, 1] = -3.0                           # all negative, all equal
    special[2, 3, 2] = special[5, 7, 2] = 4.0         # two equal maxima
    special[:, :, 3] = rng.normal(size=(8, 12))
    special[6, 11, 4] = 9.0                           # one peak, rest 0: s2 = 0
    maps.append(special)
    uv = rng.uniform(4.0, 59.0, (20, 2))
    cells = np.arange(64.0)
    gauss = np.einsum("kh,kw->hwk", np.exp(-(cells[None] - uv[:, 1:]) ** 2 / 2),
                      np.exp(-(cells[None] - uv[:, :1]) ** 2 / 2))
    maps.append((60 * gauss).astype(np.float32))
    # Training targets within four cells of each edge (DARK's edge rule): known centres too.
    edge = rng.uniform(-0.45, 4.0, (24, 2))
    edge[::2] = 63.0 - edge[::2]
    edge[::3, 1] = rng.uniform(10.0, 50.0, 8)
    maps.append((60 * encode_heatmaps(grid_to_crop(edge), input_size=256)).astype(np.float32))
    # NaN cells (a broken model output): numpy's argmax takes the first NaN, whose score is
    # NaN and whose position is that cell's centre (DARK's guard fails, top2's weights are NaN)
    peaks = rng.uniform(8, 40, (5, 2))
    nan_maps = (60 * encode_heatmaps(peaks, input_size=48)).astype(np.float32)  # 12 x 12
    nan_maps[10, 1, 0] = np.nan                          # far from the peak
    r, c = np.unravel_index(np.argmax(nan_maps[..., 1]), (12, 12))
    nan_maps[r, min(c + 1, 11), 1] = np.nan              # next to the peak
    nan_maps[0, 0, 2] = np.nan                           # the first cell
    nan_maps[7, 3, 3] = nan_maps[2, 9, 3] = np.nan       # two: the first in row-major order
    maps.append(nan_maps)                                # channel 4: no NaN
    for i, m in enumerate(maps):
        xy, s = decode_heatmaps(m, decode="dark")
        top2, _ = decode_heatmaps(m, decode="top2")
        cases.append({"file": out.f32(f"heatmaps_{i}.f32", m), "shape": list(m.shape),
                      "xy": xy.tolist(), "xy_top2": top2.tolist(), "scores": s.tolist()})
    cases[3]["truth"] = grid_to_crop(uv).tolist()  # maps[3], maps[4]: known centres
    cases[4]["truth"] = grid_to_crop(edge).tolist()
    return {"cases": cases, "stride": 4, "sigma": 1.0}


def goldens_visibility(out: _Out) -> dict:
    # Reference: scipy's linear interpolation with edge replication, an implementation
    # independent of the Java one (the project's FaceAnalyzer is compared end to end).
    from scipy.ndimage import map_coordinates

    from lponet_tf.heatmaps import crop_to_grid

    rng = np.random.default_rng(14)
    logits = rng.normal(size=(16, 16, 2)) * 2
    occ = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    pts = np.concatenate([rng.uniform(-10, 74, (40, 2)), [[0, 0], [63, 63], [-1.5, 1.5]]])
    uv = crop_to_grid(pts, 4)
    vis = map_coordinates(occ[..., 1].astype(np.float64), [uv[:, 1], uv[:, 0]], order=1,
                          mode="nearest")
    # NaN coordinates: the library's sample_grid reads cell 0 for them ("NaN reads cell 0")
    from lponet_tf.codec.decode import sample_grid

    nan_pts = np.array([[np.nan, 20.0], [30.0, np.nan], [np.nan, np.nan], [np.inf, -np.inf],
                        [12.0, 50.0]])
    nan_vis = sample_grid(occ[..., 1], crop_to_grid(nan_pts, 4))
    return {"occlusion": out.f32("visibility_occ.f32", occ), "shape": list(occ.shape),
            "points": pts.tolist(), "stride": 4, "visibility": vis.tolist(),
            "nan_points": nan_pts.tolist(), "nan_visibility": nan_vis.tolist()}


def goldens_smoothing(out: _Out) -> dict:
    from lponet_tf import geometry as g
    from lponet_tf.inference.smoothing import (BOX_DEFAULTS, LANDMARK_DEFAULTS, ROTATION_DEFAULTS,
                                               LandmarkFilter, OneEuroFilter, RotationFilter,
                                               Tracker)

    rng = np.random.default_rng(15)
    res = {"one_euro": [], "landmarks": None, "rotation": None, "tracker": None,
           "defaults": {"landmarks": LANDMARK_DEFAULTS, "rotation": ROTATION_DEFAULTS,
                        "box": BOX_DEFAULTS}}
    times = np.cumsum(rng.uniform(0.02, 0.05, 25))
    for mode, beta in (("elementwise", 0.5), ("point", 2.0), ("mean_point", 8.0), ("norm", 1.0)):
        # frequency 100: the two timestamp-less steps advance 10 ms each, less than the
        # smallest gap to the next explicit timestamp (>= 20 ms per step).
        f = OneEuroFilter(min_cutoff=0.7, beta=beta, d_cutoff=1.3, speed=mode, frequency=100.0)
        base = rng.uniform(0, 100, (5, 2))
        xs, ts, scales, ys = [], [], [], []
        for i, t in enumerate(times):
            x = base + i * rng.normal(0, 3, (5, 2)) + rng.normal(0, 1, (5, 2))
            t_used = None if i in (3, 4) else float(t + 1.0)  # None: previous + 1/frequency
            sc = float(rng.uniform(20, 80))
            ys.append(f(x, t_used, scale=sc).tolist())
            xs.append(x.tolist())
            ts.append(t_used)
            scales.append(sc)
        res["one_euro"].append({"speed": mode, "min_cutoff": 0.7, "beta": beta, "d_cutoff": 1.3,
                                "frequency": 100.0, "x": xs, "t": ts, "scale": scales, "y": ys})
    lf = LandmarkFilter()
    face = rng.uniform(100, 200, (68, 2))
    seq, outs = [], []
    for i in range(20):
        x = face + [2.0 * i, -1.0 * i] + rng.normal(0, 1, (68, 2))
        seq.append(x.tolist())
        outs.append(lf(x, i / 30.0).tolist())
    res["landmarks"] = {"x": seq, "t": [i / 30.0 for i in range(20)], "y": outs}
    rf = RotationFilter()
    rots, routs = [], []
    for i in range(20):
        r = g.euler_to_matrix([10 + 3 * i + rng.normal(0, 1), -5 + rng.normal(0, 1),
                               170 + 2 * i])  # roll crosses 180: quaternion sign flips
        if i == 7:
            r = r * 1.002  # a near-rotation: projected back onto SO(3)
        rots.append(r.tolist())
        routs.append(rf(r, i / 30.0).tolist())
    res["rotation"] = {"x": rots, "t": [i / 30.0 for i in range(20)], "y": routs}
    # Inputs that are no rotation: noisy reflections (det < 0, distinct singular values, so
    # the projection onto SO(3) is unique), a scaled rotation, the zero matrix (identity).
    rf = RotationFilter()
    rots, routs = [], []
    for i in range(14):
        r = g.euler_to_matrix([5 + 2 * i, -10 + i, 20 - 3 * i])
        if i in (3, 4, 9):
            r = np.diag([1.0, 1.0, -1.0]) @ (r + rng.normal(0, 0.05, (3, 3)))
        elif i == 6:
            r = 1.5 * r
        elif i == 11:
            r = np.zeros((3, 3))
        rots.append(r.tolist())
        routs.append(rf(r, i / 30.0).tolist())
    res["rotation_projected"] = {"x": rots, "t": [i / 30.0 for i in range(14)], "y": routs}

    tr = Tracker(iou_threshold=0.3, max_missed=2)
    a, b, c = np.array([10, 10, 110, 130.0]), np.array([300, 40, 380, 140.0]), np.array(
        [150, 200, 230, 290.0])
    plan = [[a, b], [a + 3, b - 2], [b + 1], [b, c], [c + 2, b + 2], [b, c], [c, b, a + 5],
            [a, c], [], [b]]
    frames = []
    for i, boxes in enumerate(plan):
        boxes = [x + rng.normal(0, 0.5, 4) for x in boxes]
        lms = [np.stack([rng.uniform(x[0], x[2], 5), rng.uniform(x[1], x[3], 5)], 1)
               for x in boxes]
        rts = [g.euler_to_matrix(rng.uniform(-30, 30, 3)) for _ in boxes]
        t = i / 15.0
        res_f = tr.update([x.tolist() for x in boxes], t, landmarks=lms, rotations=rts)
        frames.append({
            "t": t, "boxes": [x.tolist() for x in boxes], "landmarks": [x.tolist() for x in lms],
            "rotations": [x.tolist() for x in rts],
            "out": [{"id": o.track_id, "box": o.box.tolist(), "landmarks": o.landmarks.tolist(),
                     "rotation": o.rotation.tolist(), "is_new": o.is_new, "age": o.age}
                    for o in res_f]})
    res["tracker"] = {"iou_threshold": 0.3, "max_missed": 2, "frames": frames}
    res["tracker_refused"] = _tracker_refused(rng)
    res["tracker_many"] = _tracker_many(rng)
    res["assignment"] = _assignments(rng)
    res["tracker_followed"] = _tracker_followed()
    res["tracker_hidden"] = _tracker_hidden()
    return res


def _tracker_hidden() -> dict:
    """A face moving 40 px a frame beside a still one, hidden for 3 frames, found again
    where its motion puts it (its id kept), then a face behind the moving one's path (a new
    id): the tracker looks for a missed track where its velocity predicts it."""
    from lponet_tf.inference.smoothing import Tracker

    def at(x, y=0.0):
        return [x, y, x + 100.0, y + 100.0]

    still = at(400, 300)
    plan = [[at(0), still], [at(40), still], [at(80), still], [still], [still], [still],
            [at(260), still], [at(300), still, at(100, 150)]]
    tr = Tracker(max_missed=5)
    frames = [{"t": i / 30.0, "boxes": boxes, "ids": [o.track_id for o in tr.update(boxes, i / 30.0)]}
              for i, boxes in enumerate(plan)]
    if frames[6]["ids"] != [1, 2] or frames[7]["ids"] != [1, 2, 3]:
        raise AssertionError(f"tracker_hidden golden: unexpected ids {[f['ids'] for f in frames]}")
    return {"max_missed": 5, "frames": frames}


def _tracker_followed() -> list:
    """Tracker frames with the ids of the tracks faces were followed from (FaceAnalyzer.track):
    a face that jumps onto a gone neighbour's last box keeps its own id, ids of ended or
    unknown tracks fall back to IoU, and an id given twice is refused (state unchanged)."""
    from lponet_tf.inference.smoothing import SmoothingError, Tracker

    def at(x, y=0.0):
        return [x, y, x + 100.0, y + 100.0]

    plan = [([at(0), at(130)], None), ([at(120)], [1]), ([at(240), at(130)], [1, None]),
            ([at(240), at(130)], [1, 1]), ([at(360), at(130)], [1, 2]), ([], None), ([], None),
            ([at(480), at(600, 300), at(20)], [1, 2, 99]), ([at(600, 300), at(500)], [None, 77]),
            ([at(20), at(600, 300), at(500)], [3, None, 1])]
    tr = Tracker(max_missed=1)
    frames = []
    for i, (boxes, ids) in enumerate(plan):
        try:
            got = [o.track_id for o in tr.update(boxes, i / 30.0, track_ids=ids)]
        except SmoothingError:
            got = None
        frames.append({"t": i / 30.0, "boxes": boxes, "track_ids": ids, "ids": got})
    if [f["ids"] is None for f in frames].count(True) != 1:
        raise AssertionError("tracker_followed golden: only the repeated id must be refused")
    return frames


def _tracker_refused(rng) -> list:
    """A Tracker fed a frame with a NaN box (refused before any state changes), then the
    same frame fixed, at the same timestamp, and more frames: each frame's results, or
    ``raises``."""
    from lponet_tf.inference.smoothing import SmoothingError, Tracker

    tr = Tracker()
    a, b, c = np.array([10, 10, 110, 130.0]), np.array([300, 40, 380, 140.0]), np.array(
        [150, 200, 230, 290.0])
    nan = np.array([np.nan, 40, 380, 140.0])
    plan = [(0, [a, b]), (1, [a + 2, b - 1]), (2, [a + 4, nan, c]), (2, [a + 4, b - 2, c]),
            (3, [a + 6, b - 3, c + 1]), (4, [c + 2, a + 9]), (5, [a + 11, c + 2, b])]
    frames = []
    for k, boxes in plan:
        boxes = [x + rng.normal(0, 0.5, 4) for x in boxes]
        t = k / 30.0
        try:
            got = tr.update([x.tolist() for x in boxes], t)
        except SmoothingError:
            got = None
        frames.append({"t": t, "boxes": [[float(v) if np.isfinite(v) else None for v in x]
                                         for x in boxes],
                       "raises": got is None,
                       "out": [] if got is None else [{"id": o.track_id, "box": o.box.tolist()}
                                                      for o in got]})
    if [f["raises"] for f in frames] != [False, False, True] + [False] * 4:
        raise AssertionError("tracker golden: only the NaN frame must be refused")
    return frames


def _assignments(rng) -> list:
    """scipy's linear_sum_assignment (what Tracker uses) on random, tied and constant cost
    matrices, wide and tall (scipy transposes those), up to 20 x 15."""
    from scipy.optimize import linear_sum_assignment

    mats = [np.zeros((1, 1)), np.ones((4, 4)), np.ones((3, 6)), np.ones((6, 3))]
    for shape in ((3, 5), (5, 3), (8, 13), (13, 8), (12, 12), (20, 15), (15, 20)):
        mats.append(-rng.uniform(0, 1, shape))
        mats.append(-rng.integers(0, 3, shape) / 4.0)  # many ties
        # steps that do not subtract exactly: a solver that shifts the costs by their
        # minimum first rounds them, and flips some ties scipy does not
        mats.append(rng.integers(-3, 3, shape) * 0.1)
        mats.append(rng.integers(-3, 3, shape) * 1e-6)
    out = []
    for m in mats:
        rows, cols = linear_sum_assignment(m)
        out.append({"cost": m.tolist(), "rows": rows.tolist(), "cols": cols.tolist()})
    return out


def _tracker_many(rng) -> list:
    """Tracker frames with more faces than the old enumeration limit (13 faces on 2 tracks,
    then 8 to 12 faces with overlapping, jittered boxes): ids as Python's."""
    from lponet_tf.inference.smoothing import Tracker

    far = [[1000 + 150 * i, 500, 1100 + 150 * i, 600] for i in range(11)]
    plan = [[[0, 0, 100, 100], [30, 0, 130, 100]],
            [[10, 0, 110, 100], [-20, 0, 80, 100]] + far]
    grid = np.array([[60.0 * (i % 5), 70.0 * (i // 5), 60.0 * (i % 5) + 100, 70.0 * (i // 5) + 100]
                     for i in range(12)])
    for k in range(6):
        keep = rng.permutation(12)[:8 + k % 5]
        plan.append((grid[keep] + rng.normal(0, 12, (len(keep), 4))).tolist())
    tr = Tracker()
    frames = []
    for i, boxes in enumerate(plan):
        got = tr.update(boxes, i / 30.0)
        frames.append({"t": i / 30.0, "boxes": np.asarray(boxes, float).tolist(),
                       "ids": [o.track_id for o in got]})
    return frames


def _detections_json(dets) -> list:
    return [{"box": d.box.tolist(), "score": d.score,
             "keypoints": None if d.keypoints is None else d.keypoints.tolist(),
             "source": d.source} for d in dets]


def goldens_blazeface(out: _Out) -> dict:
    from lponet_tf import detection as D
    from lponet_tf.detection import blazeface as B

    anchors = {name: B.blaze_anchors(spec).tolist() for name, spec in B.BLAZE_SPECS.items()}
    det = D.BlazeFaceDetector("short")
    letterboxes = []
    for h, w in ((480, 640), (640, 480), (100, 100), (97, 311), (1000, 30), (9000, 2000)):
        _, (px, py), (sx, sy), step = det._letterbox(np.zeros((h, w, 3), np.uint8))
        letterboxes.append({"h": h, "w": w, "px": px, "py": py, "sx": sx, "sy": sy,
                            "step": step})
    cases = []
    for name, img in (("astronaut", _astronaut()), ("two_faces", _two_faces())):
        # The detector's own letterbox and interpreter, so that the raw outputs are exactly
        # those its detect() decodes.
        tensor, (px, py), (sx, sy), step = det._letterbox(img)
        det._interp.set_tensor(det._in_index, tensor)
        det._interp.invoke()
        raw = det._interp.get_tensor(det._reg_index)[0]
        logits = det._interp.get_tensor(det._score_index)[0, :, 0]
        cases.append({
            "name": name, "image": out.image(f"blaze_{name}.u8", img),
            "input": out.f32(f"blaze_{name}_input.f32", tensor),
            "regressors": out.f32(f"blaze_{name}_reg.f32", raw),
            "logits": out.f32(f"blaze_{name}_logits.f32", logits),
            "px": px, "py": py, "sx": sx, "sy": sy, "step": step,
            "detections": _detections_json(det.detect(img)),
        })
    # each model's default thresholds (BlazeFaceDetector(model) without score_threshold)
    defaults = {name: [D.BlazeFaceDetector(name).score_threshold,
                       D.BlazeFaceDetector(name).iou_threshold] for name in B.BLAZE_SPECS}
    from lponet_tf.inference.analyzer import REFINE_IOU

    return {"anchors": anchors, "letterboxes": letterboxes, "cases": cases,
            "score_threshold": det.score_threshold, "iou_threshold": det.iou_threshold,
            "default_thresholds": defaults, "refine_iou": REFINE_IOU}


def _mapping_json(m) -> dict:
    """A BoxMapping's fields as android_demo/tools/export_assets.py writes them."""
    return _export_tool()._mapping_json(m)


def goldens_box_mapping(out: _Out) -> dict:
    from lponet_tf.detection import BOX_MAPPINGS, BoxMapping

    rng = np.random.default_rng(16)
    boxes = np.sort(rng.uniform(0, 400, (8, 2, 2)), axis=1).transpose(0, 2, 1).reshape(8, 4)
    boxes = boxes[:, [0, 2, 1, 3]]  # x0, y0, x1, y1 with x0 < x1, y0 < y1
    kps = rng.uniform(0, 400, (8, 6, 2))
    weights = tuple(tuple(float(v) for v in row) for row in rng.normal(0, 0.05, (13, 4)))
    mappings = {"const": BoxMapping(0.02, -0.07, 0.93, 1.12),
                "keypoints": BoxMapping(0.01, 0.02, 1.0, 1.0, keypoint_weights=weights),
                # The guard (docs/detection.md): keypoint sizes off the constant ones by more
                # than max_size_deviation (log units) fall back to the constant mapping.
                "guarded": BoxMapping(0.01, 0.02, 1.0, 1.0, keypoint_weights=weights,
                                      max_size_deviation=0.25)}
    res = {"boxes": boxes.tolist(), "keypoints": kps.tolist(), "mappings": {}}
    for name, m in mappings.items():
        res["mappings"][name] = dict(_mapping_json(m),
                                     out=[m.apply(b, k).tolist() for b, k in zip(boxes, kps)])
    g = mappings["guarded"]
    kept = [np.allclose(g.apply(b, k), mappings["keypoints"].apply(b, k)) for b, k in zip(boxes, kps)]
    if all(kept) or not any(kept):
        raise AssertionError(f"the guarded golden must take both branches, kept {kept}")
    res["registered"] = sorted(BOX_MAPPINGS)
    return res


def goldens_face_boxes(out: _Out) -> dict:
    """The box helpers behind refine and the confirmed detector: ``box_from_landmarks``,
    ``box_iou``, ``box_in_image``, ``boxes_agree`` (Java: ``Refine``, ``ConfirmedDetection``),
    on random boxes, boxes near the decision values, and landmarks with non-finite rows."""
    from lponet_tf.codec.crop import box_from_landmarks
    from lponet_tf.detection.base import box_in_image, box_iou
    from lponet_tf.detection.confirm import boxes_agree

    rng = np.random.default_rng(23)
    a = np.sort(rng.uniform(-40, 240, (40, 2, 2)), axis=1).transpose(0, 2, 1).reshape(40, 4)
    b = a + rng.normal(0, 30, (40, 4))
    b[:5] = a[:5]                                   # identical boxes
    b[5:8, 2:] = b[5:8, :2] - 1.0                   # empty boxes
    pairs = [[x[[0, 2, 1, 3]].tolist(), y[[0, 2, 1, 3]].tolist()] for x, y in zip(a, b)]
    pairs = [[np.float32(x).tolist(), np.float32(y).tolist()] for x, y in pairs]
    lms = rng.uniform(0, 200, (6, 68, 2)).astype(np.float32)
    lms[1, 3] = np.nan
    lms[2, 10:20] = np.inf
    shape = (150, 200)
    return {
        "pairs": pairs,
        "iou": [float(box_iou(x, y)[0, 0]) for x, y in pairs],
        "agree": [bool(boxes_agree(x, y)) for x, y in pairs],
        "in_image": [[bool(box_in_image(x, shape)), bool(box_in_image(y, shape))] for x, y in pairs],
        "image_shape": list(shape),
        "landmarks": out.f32("face_boxes_landmarks.f32", lms),
        "landmark_boxes": [box_from_landmarks(m).tolist() for m in lms],
        "zoom_out": _zoom_out_golden(out, rng),
        "confirm": _confirm_golden(rng),
        "distinct": _distinct_golden(out, rng),
    }


class _ListModel:
    """A BlazeFace stand-in for ``ConfirmedDetector``: fixed ``(box, score)`` detections,
    decoded at a threshold."""

    def __init__(self, dets, threshold, source):
        self.dets, self.score_threshold, self.source = dets, threshold, source

    def infer(self, image):
        return self.dets

    def decode(self, out, score_threshold=None):
        from lponet_tf.detection import Detection

        t = self.score_threshold if score_threshold is None else score_threshold
        return [Detection(np.float32(b), s, None, self.source)
                for b, s in sorted(out, key=lambda d: -d[1]) if s >= t]


def _confirm_golden(rng) -> list:
    """``ConfirmedDetector.detect`` on scenes of 1-3 faces, each with the primary's box at a
    random score, maybe a stray box beside it (an ear) or on its lower half, and the second
    model's larger box of some faces: the kept boxes (Java: ``ConfirmedDetection.select``)."""
    from lponet_tf.detection.confirm import ConfirmedDetector

    cases = []
    for _ in range(60):
        primary, second = [], []
        for _ in range(int(rng.integers(1, 4))):
            x, y, side = rng.uniform(0, 400), rng.uniform(0, 400), rng.uniform(20, 200)
            face = np.array([x, y, x + side, y + side])
            primary.append((face, float(rng.uniform(0.2, 1.0))))
            if rng.random() < 0.5:  # beside it, or its lower half
                off = [side, side * 0.2, side * 0.3, -side * 0.4] if rng.random() < 0.5 else \
                      [side * 0.1, side * 0.5, -side * 0.1, side * 0.3]
                primary.append((face + np.array(off), float(rng.uniform(0.2, 0.7))))
            if rng.random() < 0.7:
                second.append((face + rng.normal(0, side * 0.1, 4) + [-0.2 * side, -0.2 * side,
                                                                        0.4 * side, 0.4 * side],
                               float(rng.uniform(0.3, 1.0))))
        primary = [(np.float32(b).tolist(), s) for b, s in primary]
        second = [(np.float32(b).tolist(), s) for b, s in second]
        det = ConfirmedDetector(_ListModel(primary, 0.6, "blazeface_back"),
                                _ListModel(second, 0.5, "blazeface_short"))
        kept = det.detect(np.zeros((600, 600, 3), np.uint8))
        cases.append({"primary": primary, "second": second, "longer_side": 600,
                      "primary_threshold": 0.6, "kept": [d.box.tolist() for d in kept]})
    return cases


def _distinct_golden(out: _Out, rng) -> dict:
    """``distinct_faces(..., by_confidence=False)``: faces' landmarks, some copies of an
    earlier face moved a little, and the indices kept (Java: ``CandidateCheck.distinctIndices``)."""
    import types

    from lponet_tf.inference.candidate_check import SAME_FACE_IOU, distinct_faces

    lms = rng.uniform(0, 100, (12, 68, 2)) + rng.uniform(0, 400, (12, 1, 2))
    for i in (3, 5, 8):
        lms[i] = lms[i - 1] + rng.normal(0, 4, 2)
    lms[10] = lms[0] + 60.0  # overlapping a little only
    lms[11] = (lms[2] - lms[2].mean(0)) * 0.5 + lms[2].mean(0) + 10.0  # a half face inside
    lms = lms.astype(np.float32)  # what Java reads
    faces = [types.SimpleNamespace(landmarks=m, index=i) for i, m in enumerate(lms)]
    return {"landmarks": out.f32("distinct_landmarks.f32", lms), "faces": len(lms),
            "same_face_iou": SAME_FACE_IOU,
            "kept": [f.index for f in distinct_faces(faces, by_confidence=False)]}


def _zoom_out_golden(out: _Out, rng) -> dict:
    """``zoom_out`` (the padded image, border width by Python's rounding) and ``zoomed_back``
    (detections of the padded image mapped back, those centred on the border dropped)."""
    from lponet_tf.detection import Detection
    from lponet_tf.detection.zoom_out import merge_passes, zoom_out, zoomed_back

    img = rng.integers(0, 256, (7, 12, 3), dtype=np.uint8)
    padded, p, _ = zoom_out(img, 0.75, fill=100)
    # widths whose border is an exact half (12 * 0.625 = 7.5: Python rounds to even, 8)
    borders = [[w, h, pad, zoom_out(np.zeros((h, w, 3), np.uint8), pad)[1]]
               for w, h, pad in ((12, 7, 0.625), (10, 3, 0.25), (5, 9, 1.5), (40, 2, 0.01))]
    # a large image shrunk before padding (max_side 90 with pad 1: to a longer side of 30),
    # and detections mapped back through the shrink
    big = rng.integers(0, 256, (61, 97, 3), dtype=np.uint8)
    big_padded, big_p, big_scale = zoom_out(big, 1.0, fill=128, max_side=90)
    big_dets = [Detection([20 + 7 * k, 25 + 3 * k, 45 + 5 * k, 52 + 2 * k], 0.5 + 0.05 * k,
                          (np.arange(12).reshape(6, 2) + 30 + k), "fake") for k in range(6)]
    big_back = zoomed_back(big_dets, big_p, big.shape, big_scale)
    if big_scale == (1.0, 1.0) or not 0 < len(big_back) <= len(big_dets):
        raise AssertionError(f"zoom-out golden: shrink {big_scale}, {len(big_back)} kept")
    dets = []
    for k in range(12):
        c = rng.uniform(p - 3, [p + 14, p + 9])        # the image spans [p, p + 11] x [p, p + 6]
        half = rng.uniform(2, 9, 2)
        kps = (c + rng.normal(0, 2, (6, 2))) if k % 2 else None
        dets.append(Detection([*(c - half), *(c + half)], float(rng.uniform(0.3, 1)), kps, "fake"))
    back = zoomed_back(dets, p, img.shape)  # scale (1, 1): not shrunk
    if not 0 < len(back) < len(dets):
        raise AssertionError(f"zoom-out golden keeps {len(back)} of {len(dets)} detections")
    # merge_passes: second-pass faces over, beside and under first-pass ones
    # (replaced: a small box inside a better face; kept: a higher score, a box overlapping by
    # IoU >= 0.5, a lower one, a box larger than the better-scoring one inside it)
    first = [Detection([20, 20, 35, 35], 0.45, None, "a"), Detection([60, 10, 90, 40], 0.75, None, "a"),
             Detection([100, 100, 120, 120], 0.3, None, "a"), Detection([104, 96, 126, 118], 0.5, None, "a"),
             Detection([150, 150, 190, 190], 0.55, None, "a"), Detection([250, 250, 310, 310], 0.5, None, "a")]
    second = [Detection([5, 8, 55, 58], 0.7, None, "b"), Detection([62, 12, 88, 38], 0.65, None, "b"),
              Detection([200, 10, 230, 40], 0.62, None, "b"), Detection([102, 98, 122, 121], 0.4, None, "b"),
              Detection([152, 150, 192, 190], 0.9, None, "b"), Detection([260, 250, 300, 270], 0.9, None, "b")]
    merged = merge_passes(first, second)
    if sorted(d.source for d in merged) != ["a", "a", "a", "a", "a", "b", "b"]:
        raise AssertionError(f"zoom-out golden: merge kept {[d.source for d in merged]}")
    return {"image": out.image("zoom_out_image.u8", img), "pad": 0.75, "fill": 100,
            "padded": out.image("zoom_out_padded.u8", padded), "border": p,
            "borders": borders, "detections": _detections_json(dets),
            "back": _detections_json(back),
            "shrunk": {"image": out.image("zoom_out_big.u8", big), "max_side": 90,
                       "padded": out.image("zoom_out_big_padded.u8", big_padded),
                       "border": big_p, "scale": list(big_scale),
                       "detections": _detections_json(big_dets), "back": _detections_json(big_back)},
            "merge": {"first": _detections_json(first), "second": _detections_json(second),
                      "merged": _detections_json(merged)}}


#: (scale, zero point) of int8 outputs as an all-integer export writes them (a heatmap-like
#: range, the rotation's [-1, 1], an odd one): the bundled asset's outputs are float, and the
#: app's dequantisation must stay tested for int8 files passed with --model.
SYNTHETIC_QUANT = {"heatmaps_like": (0.0078125, -100), "rotation_like": (2.0 / 255.0, 0),
                   "odd": (0.123, 5)}


def goldens_quant(out: _Out) -> dict:
    """int8 quantisation of the Python runner (``lponet_tf.runtime.tflite_runner``) with the
    bundled int8 model's own scales (its input) and :data:`SYNTHETIC_QUANT`: crops with exact
    .5 ties (numpy rounds half to even) and out-of-range values (clipped), and every int8
    code back to float."""
    from lponet_tf.runtime.tflite_runner import dequantize, quantize

    tensors = {name: t for name, t in _export_tool()._tensors(_export_tool().BUNDLED_INT8).items()
               if "scale" in t}  # its int8 tensors: the input
    tensors.update({name: {"scale": float(np.float32(scale)), "zero_point": zero}
                    for name, (scale, zero) in SYNTHETIC_QUANT.items()})
    rng = np.random.default_rng(29)
    x = np.concatenate([np.arange(-2.0, 258.0, 0.5), rng.uniform(-300, 300, 500),
                        rng.uniform(0, 255, 500)]).astype(np.float32)
    cases = []
    for name, t in sorted(tensors.items()):
        details = {"dtype": np.int8, "quantization": (t["scale"], t["zero_point"])}
        codes = np.arange(-128, 128, dtype=np.int8)
        cases.append({"name": name, "scale": t["scale"], "zero_point": t["zero_point"],
                      "q": quantize(x, details).astype(int).tolist(),
                      "dq": dequantize(codes, details).tolist()})
    return {"x": out.f32("quant_x.f32", x), "cases": cases}


def _blaze_model_path() -> pathlib.Path:
    from lponet_tf.detection import blazeface as B

    return B.blaze_model_dir() / B.BLAZE_SPECS["short"].file


def goldens_shim(out: _Out) -> dict:
    """Raw outputs of the Python LiteRT interpreter for a fixed input of a real model (the
    BlazeFace short-range detector), for the Interpreter stand-in to reproduce."""
    from ai_edge_litert.interpreter import Interpreter

    path = _blaze_model_path()
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    x = np.random.default_rng(17).uniform(-1, 1, inp["shape"]).astype(np.float32)
    it.set_tensor(inp["index"], x)
    it.invoke()
    outs = []
    for i, o in enumerate(it.get_output_details()):
        outs.append({"name": o["name"], "shape": [int(v) for v in o["shape"]],
                     "file": out.f32(f"shim_out_{i}.f32", it.get_tensor(o["index"]))})
    sig = it.get_signature_list()
    return {"model": str(path), "input": out.f32("shim_in.f32", x),
            "input_shape": [int(v) for v in inp["shape"]], "input_name": inp["name"],
            "outputs": outs, "signatures": sig}


def _export_tool():
    return load_script("android_demo/tools/export_assets.py")


#: Heatmap units (a confident peak is about HEATMAP_OMEGA = 60) within which two cells
#: count as tied for the decoding. A crop a grey level apart (another OpenCV release, the
#: Java resampling) moved heatmap cells by at most 0.07 in measurements; 0.5 leaves 7x that.
TIE_MARGIN = 0.5
#: A landmark with more decodings than this is not a reference at all: the golden is refused.
MAX_ALTERNATIVES = 8


def near_tie_decodings(heatmap: np.ndarray, tie: float = TIE_MARGIN,
                       decode: str = None) -> list:
    """Grid positions ``(u, v)`` the decoding of one map can take when each of its cells may
    move by up to ``tie / 2`` (see :func:`landmark_reference`).

    Both decoders start from the argmax cell, which such a move can change to any cell within
    ``tie`` of the maximum; ``"top2"`` also depends on which cell is second. ``"dark"``'s
    Newton step around the argmax is continuous in the values, so it adds no other jump.

    Args:
        heatmap: one ``(H, W)`` map.
        tie: cells closer than this may come in either order.
        decode: the decoder (default: the library's, ``lponet_tf.heatmaps.DEFAULT_DECODER``).

    Returns:
        list of ``(u, v)``, the unperturbed decoding among them.
    """
    from lponet_tf import heatmaps as H

    decode = decode or H.DEFAULT_DECODER
    hm = np.asarray(heatmap, np.float32)
    width = hm.shape[1]
    s = hm.astype(np.float64).ravel()
    out = []

    def add(uv):
        if not any(abs(uv[0] - u) + abs(uv[1] - v) < 1e-9 for u, v in out):
            out.append(uv)

    for top in np.flatnonzero(s >= s.max() - tie):
        if decode == "dark":
            dx, dy = H._dark_offsets(hm[None, :, :, None], np.array([[top // width]]),
                                     np.array([[top % width]]), H.SIGMA)
            add((top % width + float(dx[0, 0]), top // width + float(dy[0, 0])))
            continue
        rest = np.delete(s, top)
        for second in np.flatnonzero(s >= rest.max() - tie):
            if second == top:
                continue
            w1, w2 = max(s[top], 0.0), max(s[second], 0.0)
            a1, a2 = (w1 / (w1 + w2), w2 / (w1 + w2)) if w1 + w2 > 0 else (1.0, 0.0)
            add((a1 * (top % width) + a2 * (second % width),
                 a1 * (top // width) + a2 * (second // width)))
    return out


def landmark_reference(analyzer, image: np.ndarray, faces) -> list:
    """Per face: its landmarks and, for each landmark, the other decodings within a tie.

    The decoding starts from the argmax cell (and the ``top2`` rule refines it with the
    second-highest cell), so it jumps (by up to a cell, a few image pixels) when two cells
    swap order. Where two cells
    are within :data:`TIE_MARGIN`, a grey level of resampling difference decides which one
    wins; the reference then lists every position the decoding takes for any such order, and
    the Java test accepts exactly these positions (within its landmark tolerance) and no
    others. The heatmaps are recomputed here with the analyzer's own crop and runner, and
    checked against the faces' landmarks.

    Args:
        analyzer: the :class:`FaceAnalyzer` that produced ``faces``.
        image: ``(H, W, 3)`` uint8 RGB the faces come from.
        faces: its :class:`Face` list, unsmoothed (``face.box`` is the analysed box).

    Returns:
        list of dicts: ``landmarks`` ``(68, 2)`` and ``alternatives``, 68 lists of
        ``[x, y, visibility]`` (image pixels; empty for a well-posed landmark).
    """
    from lponet_tf.heatmaps import STRIDE, decode_heatmaps, grid_to_crop
    from lponet_tf.codec.crop import crop_face
    from lponet_tf.inference.analyzer import sample_grid

    if not faces:
        return []
    crops, transforms = zip(*(crop_face(image, f.box, analyzer.input_size) for f in faces))
    out = analyzer.runner(np.stack(crops).astype(np.float32))
    refs = []
    for j, face in enumerate(faces):
        hm = np.asarray(out["heatmaps"][j])
        own = transforms[j].to_image(decode_heatmaps(hm)[0])
        if not np.allclose(own, face.landmarks, atol=1e-3):
            raise AssertionError("recomputed heatmaps do not give the analyzer's landmarks "
                                 f"(max {np.abs(own - face.landmarks).max():.4g} px apart)")
        k = hm.shape[2]
        visible = np.asarray(out["occlusion"][j, :, :, 1])
        alternatives = []
        for i in range(k):
            uv = np.array(near_tie_decodings(hm[:, :, i]), np.float64).reshape(-1, 2)
            if len(uv) > MAX_ALTERNATIVES:
                raise AssertionError(f"landmark {i}: {len(uv)} near-tied decodings; this "
                                     "face is no reference")
            xy = transforms[j].to_image(grid_to_crop(uv, STRIDE))
            vis = np.clip(sample_grid(visible, uv), 0.0, 1.0)
            far = np.hypot(*(xy - face.landmarks[i]).T) > 1e-3  # the decoding itself
            alternatives.append([[float(x), float(y), float(v)]
                                 for (x, y), v in zip(xy[far], vis[far])])
        refs.append({"landmarks": face.landmarks.tolist(), "alternatives": alternatives})
    return refs


def _masked(img: np.ndarray, y0: int, x1: int) -> np.ndarray:
    m = img.copy()
    m[y0:180, :x1] = 128
    return m


def _masked_close_up(img: np.ndarray, landmarks: np.ndarray, seed: int) -> np.ndarray:
    """``img`` with a synthetic face mask drawn from ``landmarks``, cropped to their box."""
    from lponet_tf.data.occlusion import OcclusionConfig, occlude, visible_face_from_landmarks

    m = img.copy()
    occlude(m, visible_face_from_landmarks(landmarks, m.shape[:2]), landmarks,
            OcclusionConfig(prob=1.0), np.random.default_rng(seed), kinds=["mask"])
    x0, y0 = np.maximum(np.floor(landmarks.min(0)).astype(int), 0)
    x1, y1 = np.ceil(landmarks.max(0)).astype(int)
    return np.ascontiguousarray(m[y0:y1 + 1, x0:x1 + 1])


def _candidate_check_cases(out: _Out, analyzer, astro: np.ndarray, landmarks: np.ndarray) -> list:
    """The candidate check (``lponet_tf.inference.candidate_check``) both ways: the first seed
    whose sunglasses + ``round`` mask on the whole astronaut photo leave the detector with
    nothing and the check keeps the face (its landmark box on the astronaut's), and the first
    whose close-up with a ``plain`` mask has candidates that the check rejects."""
    from lponet_tf.data.benchmark_sets import sunglasses_and_mask
    from lponet_tf.detection import box_iou, landmark_box
    from lponet_tf.inference.candidate_check import candidate_model, low_score_candidates

    model = candidate_model(analyzer.detector)
    if model is None:
        return []
    x0, y0 = np.maximum(np.floor(landmarks.min(0)).astype(int), 0)
    x1, y1 = np.ceil(landmarks.max(0)).astype(int)
    kept = rejected = None
    for seed in range(20):
        whole = sunglasses_and_mask(astro, landmarks, seed, "round")
        if kept is None and not analyzer.detect(whole):
            faces = analyzer.find_faces(whole)
            if faces and box_iou(landmark_box(faces[0].landmarks), landmark_box(landmarks))[0, 0] >= 0.5:
                kept = (seed, whole, faces)
        close = np.ascontiguousarray(
            sunglasses_and_mask(astro, landmarks, seed, "plain")[y0:y1 + 1, x0:x1 + 1])
        if (rejected is None and not analyzer.detect(close) and low_score_candidates(model, close)
                and not analyzer.find_faces(close)):
            rejected = (seed, close, [])
        if kept and rejected:
            break
    if kept is None or rejected is None:
        raise AssertionError(f"candidate-check golden: no seed where the check keeps the face "
                             f"({kept is not None}) or rejects every candidate ({rejected is not None})")
    cases = []
    for k, (seed, img, faces) in enumerate((kept, rejected)):
        refs = landmark_reference(analyzer, img, faces)
        cases.append({"image": out.image(f"e2e_check_{k}.u8", img), "seed": seed,
                      "faces": [_face_json(out, f"e2e_check_mask_{k}_{i}.f32", f, ref)
                                for i, (f, ref) in enumerate(zip(faces, refs))]})
    return cases


def _face_json(out: _Out, mask_file: str, f, ref) -> dict:
    """A Face as the Java end-to-end test reads it, with its near-tie alternatives."""
    return {"face_box": f.box.tolist(), "score": f.score, "landmarks": f.landmarks.tolist(),
            "alternatives": ref["alternatives"], "landmark_scores": f.landmark_scores.tolist(),
            "visibility": f.visibility.tolist(), "euler": f.pose.tolist(),
            "rotation": f.rotation.tolist(), "crop_box": f.crop_box.tolist(),
            "mask": out.f32(mask_file, f.mask)}


def goldens_e2e(out: _Out) -> dict:
    """The app's assets made by android_demo/tools/export_assets.py (the library's TFLite
    exporter, bundled default preset), and the Python FaceAnalyzer's faces on a real photo
    and a short video made of it, with the landmark references of
    :func:`landmark_reference`."""
    from lponet_tf.inference.analyzer import FaceAnalyzer

    assets = out.root / "assets"
    sidecar = _export_tool().export_assets(assets)
    # The Python defaults (refine on, the default decoder) on the app's CPU model (the
    # bundled full-int8 export); the options the app reads from the sidecar must be them.
    analyzer = FaceAnalyzer.create(model=str(assets / sidecar["model"]["file"]),
                                   detector=sidecar["detector"]["name"], threads=2)
    if not (analyzer.options.refine and sidecar["analyzer"]["refine"]):
        raise AssertionError("the end-to-end golden must use refine, Python's default")
    img = _two_faces()
    dets = analyzer.detect(img)
    faces = analyzer.analyze_detections(img, dets)
    res = [dict(_face_json(out, f"e2e_mask_{i}.f32", f, ref), detection=_detections_json([d])[0])
           for i, (d, f, ref) in enumerate(zip(dets, faces,
                                               landmark_reference(analyzer, img, faces)))]
    # Refine: given boxes (identity mapping) off the face, so that the second pass on the
    # landmark box runs (checked), and one on the face (no second pass).
    b = np.asarray(faces[0].box, np.float32)
    w = float(b[2] - b[0])
    given = [b + np.float32([0.2 * w, 0.1 * w, 0.2 * w, 0.1 * w]), b]
    refined = analyzer.analyze(img, boxes=given)
    moved = [not np.allclose(f.box, g) for f, g in zip(refined, given)]
    if len(refined) != 2 or moved != [True, False]:
        raise AssertionError(f"refine golden: second pass {moved}, expected [True, False]")
    refine_cases = [dict(_face_json(out, f"e2e_refine_mask_{i}.f32", f, ref), given=g.tolist())
                    for i, (f, g, ref) in enumerate(zip(
                        refined, given, landmark_reference(analyzer, img, refined)))]
    # The default detector's confirmation step: a grey band over the lower part of a face (a
    # mask) lowers the primary model's score below `accept`; such a face is kept only if the
    # second model agrees. Among a few bands, the first that keeps a face below `accept` and
    # the first that drops a candidate are the golden cases (both paths must be taken).
    from lponet_tf.detection import ZoomOutDetector

    zoom = analyzer.detector if isinstance(analyzer.detector, ZoomOutDetector) else None
    det = analyzer.detector if zoom is None else zoom.detector
    bands = [(y0, x1) for x1 in (210, 450) for y0 in (70, 80, 90, 100)]
    chosen = bands[:2]
    if hasattr(det, "accept"):
        kept_low = dropped = None
        for y0, x1 in bands:
            m = _masked(img, y0, x1)
            found = analyzer.detect(m)
            cands = det.primary.decode(det.primary.infer(m), min(det.low, det.primary.score_threshold))
            if kept_low is None and any(d.score < det.accept for d in found):
                kept_low = (y0, x1)
            if dropped is None and len(found) < len(cands):
                dropped = (y0, x1)
        if kept_low is None or dropped is None:
            raise AssertionError(f"confirm golden: no band keeps a face below accept "
                                 f"({kept_low}) or drops a candidate ({dropped})")
        chosen = [kept_low, dropped]
    confirm_cases = []
    for k, (y0, x1) in enumerate(chosen):
        masked = _masked(img, y0, x1)
        confirm_cases.append({"image": out.image(f"e2e_confirm_{k}.u8", masked), "band": [y0, x1],
                              "detections": _detections_json(analyzer.detect(masked))})
    # A face small in the frame (the whole astronaut photo): the box mapping's guard falls
    # back to the constant mapping there (the keypoint-linear one makes the box ~1.9x too
    # wide); checked here, then the app's whole pipeline must give Python's face.
    from lponet_tf.detection.box_mapping import BoxMapping
    from lponet_tf import detection as D

    astro = _astronaut()
    astro_dets = analyzer.detect(astro)
    for d in astro_dets:
        m = D.BOX_MAPPINGS[d.source]
        free = BoxMapping(m.dx, m.dy, m.sx, m.sy, m.keypoint_weights).apply(d.box, d.keypoints)
        guarded = m.apply(d.box, d.keypoints)
        if not (free[2] - free[0]) > 1.3 * (guarded[2] - guarded[0]):
            raise AssertionError("astronaut golden: the box guard did not change the mapping")
    astro_faces = analyzer.analyze_detections(astro, astro_dets)
    # The default detector's zoom-out pass: the astronaut with a synthetic face mask, cropped
    # to its landmark box (a masked face filling the frame). The first of a few mask seeds
    # whose close-up the first pass misses and the zoom-out pass finds is the golden case.
    zoom_cases = []
    if zoom is not None:
        for seed in range(10):
            close = _masked_close_up(astro, astro_faces[0].landmarks, seed)
            if not zoom.detector.detect(close) and analyzer.detect(close):
                zoom_cases.append({"image": out.image("e2e_zoom.u8", close), "seed": seed,
                                   "detections": _detections_json(analyzer.detect(close))})
                break
        if not zoom_cases:
            raise AssertionError("zoom golden: no masked close-up needs the zoom-out pass")
    check_cases = _candidate_check_cases(out, analyzer, astro, astro_faces[0].landmarks)
    astro_cases = [dict(_face_json(out, f"e2e_astro_mask_{i}.f32", f, ref),
                        detection=_detections_json([d])[0])
                   for i, (d, f, ref) in enumerate(zip(
                       astro_dets, astro_faces, landmark_reference(analyzer, astro, astro_faces)))]
    # The GPU model entry (float I/O, the preset's fp16 export) on the CPU: Python's faces on
    # the int8 run's boxes (the float path of the app's model code).
    gpu = FaceAnalyzer.create(model=str(assets / sidecar["gpu_model"]["file"]),
                              detector=sidecar["detector"]["name"], threads=2)
    gpu_faces = gpu.analyze_boxes(img, [f.box for f in faces])
    gpu_cases = [_face_json(out, f"e2e_gpu_mask_{i}.f32", f, ref)
                 for i, (f, ref) in enumerate(zip(gpu_faces,
                                                  landmark_reference(gpu, img, gpu_faces)))]
    gpu.close()
    # Video: the same photo drifting across a larger frame, through FaceAnalyzer.track
    # (detection reuse, merging, One-Euro smoothing). Each face also gets its unsmoothed
    # landmarks (the same box analysed again) and their near-tie alternatives.
    video = _tracked_video(out, analyzer, img, "e2e_frame", 12, (img.shape[0] + 40, img.shape[1] + 80),
                           lambda i: (40 + round(3.0 * i) - 16, 20 + round(1.5 * i) - 8))
    # Fast motion: the faces move a quarter of their width per frame, so last frame's
    # landmark box cuts them and the tracked faces are refined on their new landmark boxes
    # (FaceAnalyzer.refine_faces; checked) where they start moving, and cropped ahead by their
    # motion after that (checked), each keeping its track id.
    step = 0.25 * float(faces[0].box[2] - faces[0].box[0])
    fast = _tracked_video(out, analyzer, img, "e2e_fast", 6,
                          (img.shape[0] + 20, img.shape[1] + 20 + int(np.ceil(5 * step))),
                          lambda i: (10 + round(step * i), 10))
    if {f["track_id"] for fr in fast["faces"] for f in fr} != {1, 2} or fast["detections_run"] != 1:
        raise AssertionError("fast video golden: the two faces must keep ids 1 and 2, found "
                             f"once: {[[f['track_id'] for f in fr] for fr in fast['faces']]}")
    if not fast["refined_frames"] or not fast["moved_on_frames"]:
        raise AssertionError("fast video golden: a tracked face must be refined (where it starts "
                             "moving) and one cropped ahead by its motion: refined in frames "
                             f"{fast['refined_frames']}, ahead in {fast['moved_on_frames']}")
    # A face hidden for two frames (blacked out) while the other stays tracked: the detector
    # runs on every frame while its track is missing, and it comes back with its id on the
    # first frame it can be seen (not at the next detect_every frame).
    gone = faces[1].box
    pad = 0.3 * float(gone[2] - gone[0])
    hidden_box = tuple(int(v) for v in np.round([max(gone[0] - pad, 0), max(gone[1] - pad, 0),
                                                 min(gone[2] + pad, img.shape[1]),
                                                 min(gone[3] + pad, img.shape[0])]))
    hidden = _tracked_video(out, analyzer, img, "e2e_hidden", 7, (img.shape[0] + 40, img.shape[1] + 80),
                            lambda i: (40 + round(3.0 * i) - 16, 20 + round(1.5 * i) - 8),
                            hide=({2, 3}, hidden_box))
    ids = [sorted(f["track_id"] for f in fr) for fr in hidden["faces"]]
    kept = ids[2]  # the face left in view, whichever id it has
    if (len(kept) != 1 or ids != [[1, 2], [1, 2], kept, kept, [1, 2], [1, 2], [1, 2]]
            or hidden["detections_run"] != 4):
        raise AssertionError(f"hidden video golden: face 2 must be lost on frames 2-3 and back with "
                             f"its id on frame 4 (detector on frames 0, 2, 3, 4): {ids}, "
                             f"{hidden['detections_run']} detections")
    analyzer.close()
    return {"assets": str(assets), "model_description": (f"preset {sidecar['model']['preset']}, "
                                  f"{sidecar['model']['quantization']}"),
            "image": out.image("e2e_image.u8", img), "faces": res,
            "refine_cases": refine_cases, "gpu_model_faces": gpu_cases,
            "confirm_cases": confirm_cases,
            "zoom_cases": zoom_cases,
            "check_cases": check_cases,
            "astronaut": {"image": out.image("e2e_astro.u8", astro), "faces": astro_cases},
            "video": video, "fast_video": fast, "hidden_video": hidden}


def _tracked_video(out: _Out, analyzer, img: np.ndarray, name: str, n: int, size, shift,
                   hide=None) -> dict:
    """``img`` at ``shift(i) = (dx, dy)`` in ``n`` black frames of ``size`` (h, w) (with
    ``hide = (frames, (x0, y0, x1, y1))``, that box of ``img`` blacked out in those frames) through
    ``analyzer.track`` (after a reset): per frame the image and timestamp, per face its track
    id, box, score, smoothed landmarks and pose, and its unsmoothed landmarks (its box analysed
    again: the tracker's input, checked) with their near-tie alternatives; the frames that
    ran the detector, the tracked (not detected) frames whose face was refined (its box is
    neither the previous frame's landmark box nor that box moved on by the face's motion),
    and those whose face was cropped on the moved-on box."""
    from lponet_tf.detection import landmark_box

    frames, tracks, refined, moved_on = [], [], [], []
    analyzer.reset()
    for i in range(n):
        frame = np.zeros((*size, 3), np.uint8)
        dx, dy = shift(i)
        frame[dy:dy + img.shape[0], dx:dx + img.shape[1]] = img
        if hide is not None and i in hide[0]:
            x0, y0, x1, y1 = hide[1]
            frame[dy + y0:dy + y1, dx + x0:dx + x1] = 0
        ts = i * 1000.0 / 30.0
        session = analyzer._session
        previous = [landmark_box(f.landmarks) for f in session.previous] if i else []
        ahead = session._crop_boxes_now(session.previous, ts / 1000.0) if i else []
        detections = session.detections_run if i else 0
        faces_t = analyzer.track(frame, ts)
        raw = analyzer.analyze_boxes(frame, [f.box for f in faces_t])
        tracked_raw = analyzer._session.previous  # what the tracker smoothed
        if not all(np.allclose(a.landmarks, b.landmarks, atol=1e-3)
                   for a, b in zip(raw, tracked_raw)) or len(raw) != len(tracked_raw):
            raise AssertionError(f"{name} {i}: re-analysing the tracked boxes does not give "
                                 "the tracker's unsmoothed landmarks")
        if i and analyzer._session.detections_run == detections:
            def near(box, boxes):
                return any(np.allclose(box, b, atol=1e-4) for b in boxes)
            if any(not near(f.box, previous + ahead) for f in faces_t):
                refined.append(i)
            if any(near(f.box, ahead) and not near(f.box, previous) for f in faces_t):
                moved_on.append(i)
        refs = landmark_reference(analyzer, frame, raw)
        frames.append({"image": out.image(f"{name}_{i}.u8", frame), "timestamp_ms": ts})
        tracks.append([{"track_id": f.track_id, "box": f.box.tolist(), "score": f.score,
                        "landmarks": f.landmarks.tolist(), "euler": f.pose.tolist(),
                        "rotation": f.rotation.tolist(), "raw_landmarks": ref["landmarks"],
                        "alternatives": ref["alternatives"]}
                       for f, ref in zip(faces_t, refs)])
    return {"frames": frames, "faces": tracks, "detections_run": analyzer._session.detections_run,
            "refined_frames": refined, "moved_on_frames": moved_on}


def goldens_face_crop(out: _Out) -> dict:
    """crop_face on faces much larger than the crop (the area-shrink path), with the paper's
    enlargement and others (the region read comes from the transform), and on huge finite
    boxes (a shrink factor beyond int: the plain warp)."""
    import cv2

    from lponet_tf.codec.crop import crop_face

    big = cv2.resize(_astronaut(), (1536, 1536), interpolation=cv2.INTER_LINEAR)
    cases = []
    plan = [((570.0, 240.0, 810.0, 520.0), 128, 0.1), ((520.0, 90.0, 900.0, 560.0), 64, 0.1),
            ((-100.0, -80.0, 500.0, 480.0), 128, 0.1), ((300.0, 200.0, 1100.0, 1000.0), 128, 0.3),
            ((300.0, 200.0, 1100.0, 1000.0), 128, 0.5), ((700.0, 650.0, 900.0, 800.0), 64, 1.0),
            ((-4e9, -3e9, 4e9, 5e9), 128, 0.1), ((-1e30, -1e30, 1e30, 1e30), 128, 0.1)]
    for j, (box, size, enlarge) in enumerate(plan):
        crop, t = crop_face(big, np.float32(box), size, enlarge)
        cases.append({"box": np.float32(box).tolist(), "size": size, "enlarge": enlarge,
                      "factor": float(t.shrink_factor),
                      "crop": out.f32(f"face_crop_{j}.f32", crop.astype(np.float32))})
    return {"image": out.image("face_crop_img.u8", big), "cases": cases}


GOLDENS = {
    "crop.json": goldens_crop,
    "rotations.json": goldens_rotations,
    "heatmaps.json": goldens_heatmaps,
    "visibility.json": goldens_visibility,
    "smoothing.json": goldens_smoothing,
    "blazeface.json": goldens_blazeface,
    "box_mapping.json": goldens_box_mapping,
    "face_boxes.json": goldens_face_boxes,
    "face_crop.json": goldens_face_crop,
}
DESKTOP_GOLDENS = {"shim.json": goldens_shim, "e2e.json": goldens_e2e, "quant.json": goldens_quant}


def write_goldens(root: pathlib.Path, desktop: bool) -> list:
    """Write every golden file into ``root`` (with the desktop ones when ``desktop``).

    Returns:
        the names written.
    """
    out = _Out(root)
    todo = dict(GOLDENS, **(DESKTOP_GOLDENS if desktop else {}))
    for name, fn in todo.items():
        (root / name).write_text(json.dumps(fn(out)))
    return list(todo)
