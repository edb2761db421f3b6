"""JVM tests of ``android_demo/``: the app's pure-Java core and the desktop LiteRT bridge.

This module is the driver: it writes golden values with the Python library (same inputs ->
numbers the Java code must reproduce), compiles the Java sources with ``javac`` (and the JNI
bridge with ``gcc``), runs JUnit 5's console launcher, and prints one plain line
``N passed, N failed`` for CI. The JUnit tests themselves live in
``android_demo/core/src/test/java`` (core vs goldens) and ``android_demo/desktop/src/test/java``
(the ``org.tensorflow.lite.Interpreter`` stand-in on ``libLiteRt.so`` and the end-to-end
pipeline on a real photo).

Requirements, checked here: a JDK (``javac``; skipped with a message when absent), JUnit 5's
console launcher from Debian's ``junit5`` package (installed with apt when missing and we are
root), and for the bridge ``gcc`` plus ``libLiteRt.so`` from the ``ai-edge-litert`` wheel
(version pinned to the one the bridge declares).

Run alone: ``make test-java`` (or ``pytest tests/test_android_core.py``).
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
ANDROID = REPO / "android_demo"
JUNIT_JAR = pathlib.Path("/usr/share/java/junit-platform-console-standalone.jar")
#: The LiteRT C API the JNI bridge declares (android_demo/desktop/src/main/c).
LITERT_VERSION = "2.3.0"
ASTRONAUT = REPO / "lponet_tf" / "assets" / "astronaut.png"


# --------------------------------------------------------------------------------------
# toolchain
# --------------------------------------------------------------------------------------
def _java_home():
    javac = shutil.which("javac")
    if javac is None:
        return None
    return pathlib.Path(os.path.realpath(javac)).parents[1]


def _ensure_junit() -> str:
    """Path of the JUnit console launcher; installs Debian's junit5 when missing (root)."""
    if JUNIT_JAR.is_file():
        return ""
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "install", "-y", "-q", "junit5"],
                    ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "junit5"]):
            subprocess.run(cmd, env=env, capture_output=True, timeout=900)
            if JUNIT_JAR.is_file():
                return ""
    return f"JUnit 5 console launcher not found at {JUNIT_JAR} (apt-get install junit5)"


def _litert_lib():
    """(path of libLiteRt.so, reason it cannot be used or "")."""
    try:
        version = importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        return None, "ai-edge-litert is not installed"
    if version != LITERT_VERSION:
        return None, (f"ai-edge-litert {version} installed; the JNI bridge declares the "
                      f"{LITERT_VERSION} C API")
    spec = importlib.util.find_spec("ai_edge_litert")
    lib = pathlib.Path(list(spec.submodule_search_locations)[0]) / "libLiteRt.so"
    if not lib.is_file():
        return None, f"{lib} not found in the wheel"
    return lib, ""


def _run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", **kw)
    if proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


# --------------------------------------------------------------------------------------
# golden writers: each returns a JSON-able dict; data arrays go to raw files next to it
# --------------------------------------------------------------------------------------
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

    from lponet_tf.data.crop import CropTransform, square_box

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
    return {
        "six_d": six.tolist(), "six_d_matrix": g.rotation_6d_to_matrix(six).tolist(),
        "euler": eul.tolist(), "euler_matrix": g.euler_to_matrix(eul).tolist(),
        "matrices": mats.tolist(), "matrices_euler": g.matrix_to_euler(mats).tolist(),
        "geodesic": [float(g.geodesic_distance(mats[i], mats[i + 1])) for i in range(10)],
    }


def goldens_heatmaps(out: _Out) -> dict:
    from lponet_tf.heatmaps import decode_heatmaps, encode_heatmaps

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
    for i, m in enumerate(maps):
        xy, s = decode_heatmaps(m)
        cases.append({"file": out.f32(f"heatmaps_{i}.f32", m), "shape": list(m.shape),
                      "xy": xy.tolist(), "scores": s.tolist()})
    return {"cases": cases, "stride": 4}


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
    return {"occlusion": out.f32("visibility_occ.f32", occ), "shape": list(occ.shape),
            "points": pts.tolist(), "stride": 4, "visibility": vis.tolist()}


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
    return res


def _detections_json(dets) -> list:
    return [{"box": d.box.tolist(), "score": d.score,
             "keypoints": None if d.keypoints is None else d.keypoints.tolist(),
             "source": d.source} for d in dets]


def goldens_blazeface(out: _Out) -> dict:
    from lponet_tf.inference import detectors as D

    anchors = {name: D._blaze_anchors(spec).tolist() for name, spec in D._BLAZE_SPECS.items()}
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
    return {"anchors": anchors, "letterboxes": letterboxes, "cases": cases,
            "score_threshold": det.score_threshold, "iou_threshold": det.iou_threshold}


def goldens_box_mapping(out: _Out) -> dict:
    from lponet_tf.inference.detectors import BOX_MAPPINGS, BoxMapping

    rng = np.random.default_rng(16)
    boxes = np.sort(rng.uniform(0, 400, (8, 2, 2)), axis=1).transpose(0, 2, 1).reshape(8, 4)
    boxes = boxes[:, [0, 2, 1, 3]]  # x0, y0, x1, y1 with x0 < x1, y0 < y1
    kps = rng.uniform(0, 400, (8, 6, 2))
    weights = tuple(tuple(float(v) for v in row) for row in rng.normal(0, 0.05, (13, 4)))
    mappings = {"const": BoxMapping(0.02, -0.07, 0.93, 1.12),
                "keypoints": BoxMapping(0.01, 0.02, 1.0, 1.0, keypoint_weights=weights)}
    res = {"boxes": boxes.tolist(), "keypoints": kps.tolist(), "mappings": {}}
    for name, m in mappings.items():
        res["mappings"][name] = {
            "dx": m.dx, "dy": m.dy, "sx": m.sx, "sy": m.sy,
            "keypoint_weights": None if m.keypoint_weights is None else [list(r) for r in
                                                                         m.keypoint_weights],
            "out": [m.apply(b, k).tolist() for b, k in zip(boxes, kps)]}
    res["registered"] = sorted(BOX_MAPPINGS)
    return res


def _blaze_model_path() -> pathlib.Path:
    from lponet_tf.inference import detectors as D

    return D._blaze_model_dir() / D._BLAZE_SPECS["short"].file


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
    spec = importlib.util.spec_from_file_location(
        "lponet_export_assets", ANDROID / "tools" / "export_assets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _e2e_model():
    """(model for the app's export tool, description): the bundled preset when its trained
    weights ship with the package, else a small randomly initialised LPONet (the comparison
    Java vs Python is as strict either way; only the preset makes the landmarks meaningful)."""
    from lponet_tf.presets import DEFAULT_PRESET, get_preset

    if get_preset(DEFAULT_PRESET).has_weights:
        return None, f"preset {DEFAULT_PRESET} (bundled weights)"
    import keras

    from lponet_tf.config import LPONetConfig
    from lponet_tf.model import build_lponet

    keras.utils.set_random_seed(5)
    model = build_lponet(LPONetConfig(input_size=64, channels=16), include_intermediate=False)
    return model, "random LPONet (input 64, C 16): preset weights not bundled"


def goldens_e2e(out: _Out) -> dict:
    """The app's assets made by android_demo/tools/export_assets.py (the library's TFLite
    exporter), and the Python FaceAnalyzer's faces on a real photo with them."""
    from lponet_tf.inference.analyzer import FaceAnalyzer

    assets = out.root / "assets"
    model, what = _e2e_model()
    sidecar = _export_tool().export_assets(assets, model=model)
    # refine=False: the Java pipeline does not (yet) re-analyse a face on its own landmark
    # box (FaceAnalyzerOptions.refine); with trained weights that second pass moves boxes.
    analyzer = FaceAnalyzer.create(model=str(assets / sidecar["model"]["file"]),
                                   detector=sidecar["detector"]["name"], threads=2,
                                   refine=False)
    img = _two_faces()
    dets = analyzer.detect(img)
    faces = analyzer.analyze_detections(img, dets)
    res = []
    for i, (d, f) in enumerate(zip(dets, faces)):
        res.append({
            "detection": _detections_json([d])[0], "face_box": f.box.tolist(),
            "score": f.score, "landmarks": f.landmarks.tolist(),
            "landmark_scores": f.landmark_scores.tolist(), "visibility": f.visibility.tolist(),
            "euler": f.pose.tolist(), "rotation": f.rotation.tolist(),
            "crop_box": f.crop_box.tolist(), "mask": out.f32(f"e2e_mask_{i}.f32", f.mask),
        })
    # Video: the same photo drifting across a larger frame, through FaceAnalyzer.track
    # (detection reuse, merging, One-Euro smoothing).
    frames, tracks = [], []
    analyzer.reset()
    for i in range(12):
        frame = np.zeros((img.shape[0] + 40, img.shape[1] + 80, 3), np.uint8)
        dy, dx = 20 + round(1.5 * i) - 8, 40 + round(3.0 * i) - 16
        frame[dy:dy + img.shape[0], dx:dx + img.shape[1]] = img
        ts = i * 1000.0 / 30.0
        faces_t = analyzer.track(frame, ts)
        frames.append({"image": out.image(f"e2e_frame_{i}.u8", frame), "timestamp_ms": ts})
        tracks.append([{"track_id": f.track_id, "box": f.box.tolist(), "score": f.score,
                        "landmarks": f.landmarks.tolist(), "euler": f.pose.tolist(),
                        "rotation": f.rotation.tolist()} for f in faces_t])
    session = getattr(analyzer, "_session", None)
    analyzer.close()
    return {"assets": str(assets), "model_description": what,
            "image": out.image("e2e_image.u8", img), "faces": res,
            "video": {"frames": frames, "faces": tracks,
                      "detections_run": getattr(session, "detections_run", None)}}


def goldens_face_crop(out: _Out) -> dict:
    """crop_face on faces much larger than the crop (the area-shrink path)."""
    import cv2

    from lponet_tf.inference.analyzer import crop_face

    big = cv2.resize(_astronaut(), (1536, 1536), interpolation=cv2.INTER_LINEAR)
    cases = []
    plan = [((570.0, 240.0, 810.0, 520.0), 128), ((520.0, 90.0, 900.0, 560.0), 64),
            ((-100.0, -80.0, 500.0, 480.0), 128)]
    for j, (box, size) in enumerate(plan):
        crop, t = crop_face(big, np.float32(box), size)
        cases.append({"box": np.float32(box).tolist(), "size": size,
                      "factor": int(1.0 / t.matrix[0, 0]),
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
    "face_crop.json": goldens_face_crop,
}
DESKTOP_GOLDENS = {"shim.json": goldens_shim, "e2e.json": goldens_e2e}


def write_goldens(root: pathlib.Path, desktop: bool) -> dict:
    out = _Out(root)
    status = {}
    todo = dict(GOLDENS, **(DESKTOP_GOLDENS if desktop else {}))
    for name, fn in todo.items():
        try:
            data = fn(out)
        except ImportError as exc:  # a Python module the golden needs does not exist yet
            data = {"available": False, "reason": f"Python side not available: {exc}"}
        (root / name).write_text(json.dumps(data))
        status[name] = data.get("available", True)
    return status


# --------------------------------------------------------------------------------------
# build + run
# --------------------------------------------------------------------------------------
def _sources(*dirs):
    files = []
    for d in dirs:
        files += sorted(str(p) for p in pathlib.Path(d).rglob("*.java"))
    return files


@pytest.fixture(scope="module")
def jvm_results(tmp_path_factory):
    java_home = _java_home()
    if java_home is None or shutil.which("java") is None:
        return {"not_run": "no JDK (javac/java not on PATH): JVM tests of android_demo/ not run"}
    reason = _ensure_junit()
    if reason:
        return {"not_run": reason}
    work = tmp_path_factory.mktemp("jvm")
    goldens, classes, reports = work / "goldens", work / "classes", work / "reports"
    for d in (goldens, classes, reports):
        d.mkdir()

    lib, why_not = _litert_lib()
    gcc = shutil.which("gcc")
    jni_h = java_home / "include" / "jni.h"
    desktop = lib is not None and gcc is not None and jni_h.is_file()
    if not desktop:
        why_not = why_not or ("no gcc" if gcc is None else f"no {jni_h}")
    status = write_goldens(goldens, desktop)

    cp = [str(JUNIT_JAR), str(classes)]
    srcs = _sources(ANDROID / "core/src/main/java", ANDROID / "core/src/test/java")
    props = [f"-Dlponet.goldens={goldens}"]
    if desktop:
        jni = work / "liblponet_litert_jni.so"
        _run([gcc, "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror", "-shared",
              "-fPIC", f"-I{java_home / 'include'}", f"-I{java_home / 'include' / 'linux'}",
              str(ANDROID / "desktop/src/main/c/lponet_litert_jni.c"), "-ldl", "-o", str(jni)])
        srcs += _sources(ANDROID / "desktop/src/main/java", ANDROID / "desktop/src/test/java",
                         ANDROID / "app/src/main/java/org/lponet/demo/engine")
        props += [f"-Dlponet.jni.lib={jni}", f"-Dlponet.litert.lib={lib}"]
    _run(["javac", "-encoding", "UTF-8", "-Xlint:all", "-Werror", "-d", str(classes),
          "-cp", os.pathsep.join(cp)] + srcs)
    proc = subprocess.run(
        ["java", *props, "-jar", str(JUNIT_JAR), "--class-path", str(classes),
         "--scan-class-path", "--disable-banner", "--disable-ansi-colors", "--details=tree",
         f"--reports-dir={reports}"],
        capture_output=True, text=True, errors="replace", timeout=1200)
    xml = reports / "TEST-junit-jupiter.xml"
    if not xml.is_file():
        raise AssertionError(f"JUnit produced no report:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    root = ET.parse(xml).getroot()
    n = {k: int(root.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    skipped = [(c.get("classname"), c.get("name"), (c.find("skipped").get("message") or
                                                    c.find("skipped").text or ""))
               for c in root.iter("testcase") if c.find("skipped") is not None]
    return {"counts": n, "stdout": proc.stdout, "stderr": proc.stderr, "skipped": skipped,
            "goldens": status, "desktop": desktop, "why_no_desktop": why_not}


def test_jvm_suite(jvm_results, capsys):
    if "not_run" in jvm_results:
        with capsys.disabled():
            print(f"\nJVM tests (android_demo) not run: {jvm_results['not_run']}\n"
                  "0 passed, 0 failed\n", flush=True)
        pytest.skip(jvm_results["not_run"])
    n = jvm_results["counts"]
    failed = n["failures"] + n["errors"]
    passed = n["tests"] - failed - n["skipped"]
    with capsys.disabled():
        # CI reads this exact line (the JUnit console summary is not parsed).
        print(f"\nJVM tests (android_demo):\n{passed} passed, {failed} failed\n", flush=True)
    assert failed == 0, f"JVM test failures:\n{jvm_results['stdout'][-12000:]}"
    assert passed > 0, "no JVM test ran"


def test_jvm_desktop_bridge_ran(jvm_results):
    """The LiteRT bridge and end-to-end tests must run wherever their toolchain exists."""
    if "not_run" in jvm_results:
        pytest.skip(jvm_results["not_run"])
    if not jvm_results["desktop"]:
        pytest.skip(f"desktop LiteRT bridge not built: {jvm_results['why_no_desktop']}")
    skipped_desktop = [s for s in jvm_results["skipped"] if ".desktop." in (s[0] or "")]
    assert not skipped_desktop, f"desktop JVM tests skipped: {skipped_desktop}"


def test_jvm_skips_are_explained(jvm_results):
    """Core tests may only skip when Python marked their golden unavailable."""
    if "not_run" in jvm_results:
        pytest.skip(jvm_results["not_run"])
    unexplained = [s for s in jvm_results["skipped"] if "not available" not in s[2]]
    assert not unexplained, f"JVM tests skipped without a reason from the goldens: {unexplained}"
