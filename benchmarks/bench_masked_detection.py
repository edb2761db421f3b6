"""Masked and occluded faces: how often each candidate detector setting finds them, and how
many false positives it gives on face-free images (issue 15 item 2; docs/detection.md).

Faces: the preset's validation holdout of the real 300W faces (lponet_tf/configs/
preset_lite.yaml: ``holdout: {fraction: 0.15, seed: 0, part: val}``, 195 faces). Each face's
whole photo (not the network crop) gets a synthetic occluder drawn from its 68 landmarks with
the training occluders (lponet_tf/data/occlusion.py): a face mask (medical or cloth), and
separately a random one of sunglasses / hand / patch. Each face is rendered with
``--variants`` random masks (seeded by face and variant), and once with each mask style that no
training config draws (``plain`` and ``round``, ``lponet_tf.data.benchmark_sets``: the
"plain mask" / "round mask" columns). The "small" columns shrink the
photo 3x onto a gray canvas of the original size (the face then spans about 1/6 of the
image side).

A face counts as **found** when a detection overlaps its landmark box (tight box of the 68
points) with IoU >= 0.5, or the detection's centre lies inside that box. In the close-up
columns (the square of the landmark box's longer side cut from the photo, the face filling the
frame, bare and with a mask) only IoU >= 0.5 counts: there the landmark box is nearly the
whole image, so any detection's centre lies inside it.

Face-free images (every detection is a false positive):

* ``painted``: every 300W photo (1,207) with its face region (landmark box enlarged 30% per
  side) painted mid-gray. A few AFW photos hold a real second face, so this is an upper
  bound;
* ``background``: from every 300W photo, the largest strip (top, bottom, left or right)
  that does not touch the enlarged face box, when both its sides are >= 48 px;
* ``texture``: ``--textures`` random 256x256 images of the occluders' textures (solid,
  noise, stripes, checker).

Candidate settings are decoded from one inference per image and model (BlazeFaceDetector.
infer / decode), so a threshold sweep costs no extra inference:

* ``back@t``, ``short@t``: one model at score threshold ``t`` (the old default: back@0.6);
* ``auto``: short@0.5, then back@0.6 when short finds nothing (``blazeface_auto``);
* ``back@0.6>back@0.3``: back@0.6, then back at 0.3 when nothing is found;
* ``confirmed a.. l.. c.. s..``: :class:`lponet_tf.detection.ConfirmedDetector` (back model,
  confirmed by the short one) with ``accept``, ``low``, ``confirm_threshold`` and
  ``small_face``: back detections >= accept (or >= 0.6 with a box narrower than small_face
  of the image side) are kept; other back detections down to ``low`` only when the short
  model at ``confirm_threshold`` finds the same face.

"unmasked tiny" shrinks the photo 6x (face about 1/12 of the image side).

The candidate check (``lponet_tf.inference.candidate_check``, on by default in ``FaceAnalyzer``):
on every image where the default detector (:data:`DEFAULT_ROW`) finds nothing, the back model's
best ``MAX_CANDIDATES`` detections down to ``CANDIDATE_SCORE`` (from the same inference) are
analysed by the bundled model (``FaceAnalyzer.analyze_detections``: crop, network, refinement)
once; rows ``DEFAULT + check cC vV`` keep those with mean landmark score >= C and mean
visibility < V (the library's rule with those constants; the library's are marked), and count
a kept face by its landmark box. A last line gives the network runs and CPU time the check
costs per image it runs on (without the back model's inference, which the benchmark shares
with the detector and the library runs again: about 5 ms more).

Usage:
    .venv/bin/python benchmarks/bench_masked_detection.py --variants 3 # the docs table, ~6 min
    .venv/bin/python benchmarks/bench_masked_detection.py --limit 40   # quick look
    .venv/bin/python benchmarks/bench_masked_detection.py --video 40   # detection reuse in video
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.data.benchmark_sets import EVAL_ONLY_STYLES, draw_mask  # noqa: E402
from lponet_tf.data.occluders.textures import make_texture  # noqa: E402
from lponet_tf.data.occlusion import OcclusionConfig, occlude, visible_face_from_landmarks  # noqa: E402
from lponet_tf.detection import BlazeFaceDetector, box_iou, landmark_box  # noqa: E402
from lponet_tf.detection.confirm import ConfirmedDetector  # noqa: E402
from lponet_tf.detection.zoom_out import (  # noqa: E402
    ZOOM_OUT_MAX_SIDE, merge_passes, zoom_out, zoomed_back,
)
from lponet_tf.evaluation.end_to_end import PRESET_HOLDOUT, CountingRunner  # noqa: E402
from lponet_tf.inference import candidate_check as check  # noqa: E402
from lponet_tf.inference.analyzer import FaceAnalyzer  # noqa: E402
from lponet_tf.training.datasets import holdout_split  # noqa: E402

from bench_data import data_root  # noqa: E402

SHARED = data_root()
#: The preset's validation holdout (lponet_tf/configs/preset_lite.yaml).
HOLDOUT = PRESET_HOLDOUT
OTHER_OCCLUDERS = ("sunglasses", "hand", "patch")
#: Settings also tried with a zoom-out pass (ZoomOutDetector) at each of these borders.
#: (setting on the image, setting on the padded image).
ZOOM_BASES = (("back@0.6", "back@0.6"),
              ("confirmed a0.7 l0.3 c0.45 s0.1", "confirmed a0.7 l0.3 c0.45 s0.1"),
              ("confirmed a0.7 l0.3 c0.45 s0.1", "confirmed a1.0 l0.6 c0.5 s0.0"),
              ("confirmed a0.7 l0.3 c0.45 s0.1", "confirmed a1.0 l0.5 c0.5 s0.0"))
ZOOM_PADS = (0.5, 1.0, 1.5)
#: The zoom-out pass also runs when no first-pass face scores at least this (merged:
#: :func:`merge_passes`); None: only when the first pass finds nothing.
ZOOM_SURE = (None, 0.7, 0.8)
#: The library's default detector among the settings (lponet_tf.detection.DEFAULT_DETECTOR).
DEFAULT_ROW = ("confirmed a0.7 l0.3 c0.45 s0.1 +zoom 1.0 below 0.8 (confirmed a1.0 l0.6 c0.5 s0.0)")
#: Candidate-check constants tried: (min mean landmark score, max mean visibility).
CHECK_RULES = tuple((c, v) for c in (0.45, 0.48, 0.5) for v in (0.45, 0.5, 0.55, 1.01))


# ------------------------------------------------------------------------------ images
def read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def occluded(image, landmarks, kinds, seed):
    """A copy of the whole photo with the given occluders drawn from its landmarks."""
    out = image.copy()
    visible = visible_face_from_landmarks(landmarks, out.shape[:2])
    occlude(out, visible, landmarks, OcclusionConfig(prob=1.0), np.random.default_rng(seed),
            kinds=kinds)
    return out


def eval_masked(image, landmarks, rng, style):
    """A copy of the whole photo with an evaluation-only mask (``benchmark_sets --style``)."""
    return draw_mask(image.copy(), landmarks, rng, style)


def shrink(image, landmarks, k=3):
    """The photo shrunk k times, centred on a mid-gray canvas of its size (pixel-centre rule)."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (round(w / k), round(h / k)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    canvas = np.full_like(image, 128)
    oy, ox = (h - sh) // 2, (w - sw) // 2
    canvas[oy:oy + sh, ox:ox + sw] = small
    return canvas, (landmarks + 0.5) * [sw / w, sh / h] - 0.5 + [ox, oy]


def close_up(image, landmarks, side=1.0):
    """The square of ``side`` times the landmark box's longer side, centred on the box: the
    face fills the frame, as in a close-up selfie (the forehead and the jaw touch the border);
    mid-gray where the square leaves the photo."""
    x0, y0, x1, y1 = landmark_box(landmarks)
    half = side * max(x1 - x0, y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(round(cx - half)), int(round(cy - half))
    n = int(round(2 * half))
    h, w = image.shape[:2]
    canvas = np.full((n, n, 3), 128, np.uint8)
    sx0, sy0, sx1, sy1 = max(0, left), max(0, top), min(w, left + n), min(h, top + n)
    canvas[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = image[sy0:sy1, sx0:sx1]
    return canvas, landmarks - [left, top]


def face_free(image, landmarks):
    """(painted photo, background strip or None) of one photo."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = landmark_box(landmarks)
    mx, my = 0.3 * (x1 - x0), 0.3 * (y1 - y0)
    x0, y0 = max(0, int(x0 - mx)), max(0, int(y0 - my))
    x1, y1 = min(w, int(np.ceil(x1 + mx)) + 1), min(h, int(np.ceil(y1 + my)) + 1)
    painted = image.copy()
    painted[y0:y1, x0:x1] = 128
    strips = [image[:y0], image[y1:], image[:, :x0], image[:, x1:]]
    strips = [s for s in strips if min(s.shape[:2]) >= 48]
    best = max(strips, key=lambda s: s.shape[0] * s.shape[1]) if strips else None
    return painted, (None if best is None else np.ascontiguousarray(best))


def textures(n, seed=0):
    rng = np.random.default_rng(seed)
    kinds = ("solid", "noise", "stripes", "checker")
    return [make_texture(kinds[i % len(kinds)], (256, 256), rng) for i in range(n)]


# ------------------------------------------------------------------------------ settings
class Cached:
    """A BlazeFaceDetector whose ``infer`` returns the current image's stored output, so
    every setting is decoded from one inference per image and model."""

    def __init__(self, det):
        self.det, self.out = det, None
        self.source, self.score_threshold = det.source, det.score_threshold

    def infer(self, image):
        return self.out

    def decode(self, out, score_threshold=None):
        return self.det.decode(out, score_threshold)


def settings(back, short):
    """name -> fn(image) -> detections (``back`` / ``short``: :class:`Cached`)."""
    out = {}
    for t in (0.6, 0.5, 0.4, 0.3):
        out[f"back@{t}"] = lambda im, t=t: back.decode(back.out, t)
    for t in (0.5, 0.4):
        out[f"short@{t}"] = lambda im, t=t: short.decode(short.out, t)
    out["auto"] = lambda im: short.decode(short.out, 0.5) or back.decode(back.out, 0.6)
    out["back@0.6>back@0.3"] = lambda im: back.decode(back.out, 0.6) or back.decode(back.out, 0.3)
    for accept, low, ct, small in ((0.6, 0.3, 0.4, 0.0), (0.7, 0.3, 0.4, 0.0),
                                   (0.7, 0.3, 0.4, 0.2), (0.7, 0.3, 0.5, 0.2),
                                   (0.7, 0.3, 0.4, 0.1), (0.7, 0.3, 0.4, 0.12),
                                   (0.65, 0.3, 0.4, 0.1), (0.7, 0.3, 0.45, 0.1),
                                   (0.7, 0.25, 0.4, 0.1)):
        det = ConfirmedDetector(back, short, accept, low, ct, small)
        out[f"confirmed a{accept} l{low} c{ct} s{small}"] = det.detect
    # Every detection confirmed (accept 1.0): the zoom-out pass's candidates.
    for low, ct in ((0.6, 0.5), (0.5, 0.5)):
        det = ConfirmedDetector(back, short, 1.0, low, ct, 0.0)
        out[f"confirmed a1.0 l{low} c{ct} s0.0"] = det.detect
    return out


def zoom_name(base, zoomed, pad, sure=None) -> str:
    return (f"{base} +zoom {pad}" + ("" if sure is None else f" below {sure}")
            + ("" if zoomed == base else f" ({zoomed})"))


def found(dets, gt, centre: bool = True) -> bool:
    """Whether a detection (anything with ``.box``) finds the face whose landmark box is ``gt``:
    IoU >= 0.5, or (``centre``) the detection's centre inside ``gt``."""
    for d in dets:
        box = np.asarray(d.box, np.float64)
        c = (box[:2] + box[2:]) / 2
        if (box_iou(box, gt)[0, 0] >= 0.5
                or (centre and gt[0] <= c[0] <= gt[2] and gt[1] <= c[1] <= gt[3])):
            return True
    return False


class LandmarkBox:
    """A kept candidate-check face, counted by its landmark box like a detection."""

    def __init__(self, box):
        self.box = np.asarray(box, np.float64)


def video_part(val, n_faces, frames=10, step_px=3):
    """Per-frame share of frames in which the masked face is present, in a clip of the masked
    photo sliding ``step_px`` px per frame, through :meth:`FaceAnalyzer.track` (detection
    every frame until a face is found, then the last landmarks' box is reused and the
    detector runs every ``detect_every`` frames or when the face is lost), for the old and
    the new default detector; against the same detectors run on every frame alone."""
    from lponet_tf.detection import as_detector
    from lponet_tf.inference import FaceAnalyzer

    rows = {}
    for name, spec in (("back@0.6", BlazeFaceDetector("back", num_threads=1)),
                       ("blazeface_confirmed", as_detector("blazeface_confirmed")),
                       ("default (blazeface_confirmed_zoom)", as_detector())):
        analyzer = FaceAnalyzer.create(detector=spec, threads=1)
        per_frame = tracked = 0
        for r in val[:n_faces]:
            img, lm = read_rgb(r.image_path), np.asarray(r.landmarks, np.float64)
            key = zlib.crc32(pathlib.Path(r.image_path).name.encode())
            masked = occluded(img, lm, ["mask"], (key, 0))
            analyzer.reset()
            for f in range(frames):
                dx = step_px * f
                frame = np.roll(masked, dx, axis=1)
                gt = landmark_box(lm + [dx, 0])
                per_frame += found(spec.detect(frame), gt)
                faces = analyzer.track(frame, timestamp_ms=f * 33.3)
                tracked += found(faces, gt)
        total = n_faces * frames
        rows[name] = (per_frame / total, tracked / total)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N validation faces only")
    ap.add_argument("--variants", type=int, default=2, help="random masks per face")
    ap.add_argument("--textures", type=int, default=200)
    ap.add_argument("--face-free-every", type=int, default=1,
                    help="use every Nth 300W photo for the face-free sets")
    ap.add_argument("--video", type=int, default=0, metavar="N",
                    help="only the video part, on N masked validation faces (10-frame clips)")
    args = ap.parse_args(argv)
    if args.video:
        val = holdout_split(read_dataset("300w", str(SHARED / "300w")), **HOLDOUT)
        print(f"video: {args.video} masked validation faces, 10 frames each, sliding 3 px/frame\n")
        print("| detector | frames with the face: detector alone | with FaceAnalyzer.track |")
        print("|---|---|---|")
        for name, (alone, tracked) in video_part(val, args.video).items():
            print(f"| {name} | {alone:.3f} | {tracked:.3f} |")
        return
    t_start = time.time()
    records = read_dataset("300w", str(SHARED / "300w"))
    val = holdout_split(records, **HOLDOUT)[: args.limit]
    models = {m: Cached(BlazeFaceDetector(m, num_threads=1)) for m in ("back", "short")}
    cands = settings(models["back"], models["short"])
    # The zoom-out pass decodes the padded image's inference with the same settings.
    zoomed = {m: Cached(d.det) for m, d in models.items()}
    zoomed_cands = settings(zoomed["back"], zoomed["short"])

    def run(image):
        for m in models.values():
            m.out = m.det.infer(image)
        res = {name: fn(image) for name, fn in cands.items()}
        # which first passes leave the second to run (None: only an empty one), whatever the pad
        unsure = {sure: [b for b, _ in ZOOM_BASES
                         if not any(d.score >= (sure or 0.0) for d in res[b])]
                  for sure in ZOOM_SURE}
        for pad in ZOOM_PADS:
            if any(unsure.values()):  # else no setting needs the padded image
                padded, p, scale = zoom_out(image, pad, max_side=ZOOM_OUT_MAX_SIDE)
                for m in zoomed.values():
                    m.out = m.det.infer(padded)
            for b, z in ZOOM_BASES:
                second = None
                for sure in ZOOM_SURE:
                    name = zoom_name(b, z, pad, sure)
                    if b not in unsure[sure]:
                        res[name] = res[b]
                        continue
                    if second is None:
                        second = zoomed_back(zoomed_cands[z](padded), p, image.shape, scale)
                    res[name] = merge_passes(res[b], second)
        return res

    names = list(cands) + [zoom_name(b, z, pad, sure) for pad in ZOOM_PADS for b, z in ZOOM_BASES
                           for sure in ZOOM_SURE]
    assert DEFAULT_ROW in names, DEFAULT_ROW
    counter = CountingRunner(FaceAnalyzer.create(threads=1).runner)
    analyzer = FaceAnalyzer.create(model=counter)
    check_cost = {"images": 0, "runs": 0, "cpu_s": 0.0}

    def run_checked(image):
        """run(), and the candidate check's analysed faces where the default finds nothing."""
        res = run(image)
        res["check faces"] = []
        if not res[DEFAULT_ROW]:
            t0, n0 = time.process_time(), counter.crops
            found = models["back"].det.decode(models["back"].out, check.CANDIDATE_SCORE)
            found = sorted(found, key=lambda d: -d.score)[: check.MAX_CANDIDATES]
            res["check faces"] = analyzer.analyze_detections(image, found)
            check_cost["images"] += 1
            check_cost["runs"] += counter.crops - n0
            check_cost["cpu_s"] += time.process_time() - t0
        return res

    face_sets = {k: [] for k in ("unmasked", "unmasked small", "unmasked tiny", "masked",
                                  "masked small", *(f"{s} mask" for s in EVAL_ONLY_STYLES),
                                  "other occluder", "close-up", "close-up masked")}
    for i, r in enumerate(val):
        img, lm = read_rgb(r.image_path), np.asarray(r.landmarks, np.float64)
        key = zlib.crc32(pathlib.Path(r.image_path).name.encode())
        face_sets["unmasked"].append((run_checked(img), landmark_box(lm)))
        small, slm = shrink(img, lm)
        face_sets["unmasked small"].append((run_checked(small), landmark_box(slm)))
        tiny, tlm = shrink(img, lm, 6)
        face_sets["unmasked tiny"].append((run_checked(tiny), landmark_box(tlm)))
        for v in range(args.variants):
            m = occluded(img, lm, ["mask"], (key, v))
            face_sets["masked"].append((run_checked(m), landmark_box(lm)))
            ms, mlm = shrink(m, lm)
            face_sets["masked small"].append((run_checked(ms), landmark_box(mlm)))
        for style in EVAL_ONLY_STYLES:  # masks unlike the training ones, one per face
            rng = np.random.default_rng([key, 7])
            face_sets[f"{style} mask"].append((run_checked(eval_masked(img, lm, rng, style)), landmark_box(lm)))
        kind = OTHER_OCCLUDERS[i % len(OTHER_OCCLUDERS)]
        face_sets["other occluder"].append((run_checked(occluded(img, lm, [kind], (key, 99))),
                                            landmark_box(lm)))
        near, nlm = close_up(img, lm)
        face_sets["close-up"].append((run_checked(near), landmark_box(nlm)))
        near, nlm = close_up(occluded(img, lm, ["mask"], (key, 0)), lm)
        face_sets["close-up masked"].append((run_checked(near), landmark_box(nlm)))
    free = {"painted": [], "background": [], "texture": []}
    for r in records[:: args.face_free_every]:
        img, lm = read_rgb(r.image_path), np.asarray(r.landmarks, np.float64)
        painted, strip = face_free(img, lm)
        free["painted"].append(run_checked(painted))
        if strip is not None:
            free["background"].append(run_checked(strip))
    free["texture"] = [run_checked(t) for t in textures(args.textures)]

    sizes = {k: len(v) for k, v in {**face_sets, **free}.items()}
    print(f"validation faces: {len(val)} (300W holdout {HOLDOUT}), {args.variants} masks each; "
          f"images per set: {sizes}; {time.time() - t_start:.0f} s\n")
    cols = list(face_sets) + ["FP/img " + k for k in free] + ["FP/img all face-free"]
    print("| setting | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for c, v in CHECK_RULES:
        mark = " (library)" if (c, v) == (check.MIN_CONFIDENCE, check.MAX_VISIBLE) else ""
        name = f"{DEFAULT_ROW} + check c{c} v{v}{mark}"
        names.append(name)
        for res in [r for rows in face_sets.values() for r, _ in rows] + [r for k in free for r in free[k]]:
            kept = check.distinct_faces([f for f in res["check faces"]
                                         if check.is_occluded_face(f, c, v)])
            res[name] = res[DEFAULT_ROW] + [LandmarkBox(landmark_box(f.landmarks)) for f in kept]
    for name in names:
        # A close-up's landmark box is nearly the whole image: any detection's centre lies in
        # it, so there only IoU counts.
        rates = [np.mean([found(res[name], gt, centre=not k.startswith("close-up"))
                          for res, gt in face_sets[k]]) for k in face_sets]
        fps = [np.mean([len(res[name]) for res in free[k]]) for k in free]
        all_fp = np.mean([len(res[name]) for k in free for res in free[k]])
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in rates) + " | "
              + " | ".join(f"{v:.4f}" for v in fps) + f" | {all_fp:.4f} |")
    n = max(check_cost["images"], 1)
    print(f"\ncandidate check: ran on {check_cost['images']} of "
          f"{sum(len(v) for v in face_sets.values()) + sum(len(v) for v in free.values())} images; "
          f"network runs per such image {check_cost['runs'] / n:.2f}, CPU ms per such image "
          f"{1000 * check_cost['cpu_s'] / n:.1f} (1 thread)")


if __name__ == "__main__":
    main()
