"""Video: how well ``FaceAnalyzer.track`` follows a face that moves fast (docs/inference.md,
"Video", "Fast motion").

Between detector runs, ``track`` crops each face on the box of its landmarks in the previous
frame. A face that moved a good part of its width since then is cut by that crop; with
``refine`` (the default) such a face is analysed again on its new landmark box before it is
judged (``FaceAnalyzer.refine_faces``), as ``analyze`` does a detector box.

Each clip is one 300W validation face (the preset's holdout), scaled so that its landmark box
is ``--face-width`` px wide, on a 2.5-face-width square of its photo, pasted on a 1000 x 500
gray frame and moved right by a fixed share of the face's width per frame (``--speeds``; 0:
a still face), 20 frames or until it reaches the frame's edge; with ``--motion swing`` it
swings right and back instead, a period of 10 frames, the speed its fastest per frame (a head
shaken: the motion turns every 5 frames). Every frame goes through
``track`` (smoothing off: the landmarks of the crops themselves) and, for reference,
``analyze``. Reported per speed, over all clips: the NME against the 300W ground truth
(inter-ocular, outer eye corners; mean and 90th percentile over frames) of ``analyze`` and of
``track`` (the tracked face overlapping the true box most; a frame where ``track`` reports no
face is counted, not scored), the distinct track ids per clip (1 is right: one face),
and per frame the network runs (face crops through the landmark model, all of ``track``'s
passes, detection frames included) and the detector runs of ``track``. ``--ahead both``
runs every clip with and without the crop moved on by the face's motion (``TrackingSession``
crops a face that moved on its last two frames where that motion puts it; "off" is its
``crop_ahead=False``), side by side.

Usage:
    LPONET_SHARED_DATA=<folder with 300w/> .venv/bin/python benchmarks/bench_fast_motion.py
    .venv/bin/python benchmarks/bench_fast_motion.py --limit 20 --speeds 0,0.1,0.2,0.3
    .venv/bin/python benchmarks/bench_fast_motion.py --limit 30 --motion swing --ahead both
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import time
from typing import List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.detection import landmark_box, matching_face  # noqa: E402
from lponet_tf.evaluation.end_to_end import PRESET_HOLDOUT  # noqa: E402
from lponet_tf.inference import FaceAnalyzer  # noqa: E402
from lponet_tf.inference.video import TrackingSession  # noqa: E402
from lponet_tf.training.datasets import holdout_split  # noqa: E402

from bench_data import data_root  # noqa: E402
from bench_masked_detection import read_rgb  # noqa: E402

FRAME_W, FRAME_H, TOP, LEFT, FRAMES = 1000, 500, 150, 20, 20


class CountingRunner:
    """The analyzer's runner, counting the crops it is given."""

    def __init__(self, runner):
        self.runner, self.metadata, self.crops = runner, runner.metadata, 0

    def __call__(self, crops):
        self.crops += len(crops)
        return self.runner(crops)


def patch(record, face_width):
    """(square patch of the photo around the face, its landmarks in the patch)."""
    img, lm = read_rgb(record.image_path), np.asarray(record.landmarks, np.float64)
    x0, y0, x1, y1 = landmark_box(lm)
    s = face_width / (x1 - x0)
    side = int(round(2.5 * face_width))
    cx, cy = (x0 + x1) / 2 * s, (y0 + y1) / 2 * s
    m = np.float64([[s, 0, side / 2 - cx], [0, s, side / 2 - cy]])  # photo -> patch
    out = cv2.warpAffine(img, m, (side, side), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return out, lm @ m[:, :2].T + m[:, 2]


SWING_PERIOD = 10  # frames


def positions(step: float, side: int, motion: str) -> List[float]:
    """The square's left edge per frame: ``step`` px a frame to the right ("steady", until
    the frame's edge), or a swing right and back whose fastest frame moves ``step`` px."""
    if motion == "swing":
        amplitude = step * SWING_PERIOD / math.pi  # peak of d/dk of amplitude (1 - cos) / 2
        return [LEFT + amplitude * (1 - math.cos(2 * math.pi * k / SWING_PERIOD)) / 2
                for k in range(FRAMES)]
    n = FRAMES if step == 0 else min(FRAMES, int((FRAME_W - side - LEFT) // step) + 1)
    return [LEFT + step * k for k in range(n)]


def run_clip(analyzer, counter, src, lm, step, motion="steady", crop_ahead=True):
    """Per frame: (analyze NME or None, track NME or None), and the clip's ids, network and
    detector runs of track (a new :class:`TrackingSession` of ``analyzer``)."""
    io = np.linalg.norm(lm[36] - lm[45])
    side = src.shape[0]
    xs = positions(step, side, motion)
    n = len(xs)
    session = TrackingSession(analyzer, crop_ahead=crop_ahead)
    nme, ids, runs = [], set(), 0
    for k in range(n):
        x = int(round(xs[k]))
        frame = np.full((FRAME_H, FRAME_W, 3), 100, np.uint8)
        frame[TOP:TOP + side, x:x + side] = src
        gt = lm + (x, TOP)
        before = counter.crops
        tracked = session.track(frame, 33.3 * k)
        runs += counter.crops - before
        ref = analyzer.analyze(frame)
        row = []
        for faces in (ref, tracked):
            face, _ = matching_face(faces, landmark_box(gt), min_iou=0.0)
            row.append(None if face is None else
                       float(np.linalg.norm(face.landmarks - gt, axis=1).mean() / io * 100))
            if faces is tracked and face is not None:
                ids.add(face.track_id)
        nme.append(row)
    return nme, ids, runs, session.detections_run, n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=20, help="first N validation faces")
    ap.add_argument("--speeds", default="0,0.1,0.2,0.3",
                    help="shares of the face's width moved per frame, comma-separated")
    ap.add_argument("--face-width", type=float, default=80.0, help="landmark-box width, px")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--motion", choices=("steady", "swing"), default="steady")
    ap.add_argument("--ahead", choices=("on", "off", "both"), default="on",
                    help="crop a moving face where its motion puts it (the default), or not")
    args = ap.parse_args(argv)
    speeds = [float(v) for v in args.speeds.split(",")]
    records = holdout_split(read_dataset("300w", str(data_root() / "300w")),
                            **PRESET_HOLDOUT)[: args.limit]
    analyzer = FaceAnalyzer.create(smoothing=False, threads=args.threads)
    counter = analyzer.runner = CountingRunner(analyzer.runner)
    sources = [patch(r, args.face_width) for r in records]
    t0 = time.time()
    print(f"{len(records)} validation faces ({PRESET_HOLDOUT}), {args.face_width:g} px wide, "
          f"{FRAMES} frames per clip, {args.motion} motion, smoothing off\n")
    print("| motion per frame (share of face width) | crop ahead | NME analyze, mean (p90) "
          "| NME track, mean (p90) | frames without the face | track ids per clip, mean (max) "
          "| network runs per frame | detector runs per frame |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for speed in speeds:
        for ahead in (("on", "off") if args.ahead == "both" else (args.ahead,)):
            ea, et, missed, nids, runs, dets, frames = [], [], 0, [], 0, 0, 0
            for src, lm in sources:
                fw = landmark_box(lm)[2] - landmark_box(lm)[0]
                nme, ids, r, d, n = run_clip(analyzer, counter, src, lm, speed * fw, args.motion,
                                             crop_ahead=ahead == "on")
                ea += [a for a, _ in nme if a is not None]
                et += [t for _, t in nme if t is not None]
                missed += sum(t is None for _, t in nme)
                nids.append(len(ids))
                runs, dets, frames = runs + r, dets + d, frames + n
            print(f"| {speed:.0%} | {ahead} | {np.mean(ea):.2f}% ({np.percentile(ea, 90):.2f}%) "
                  f"| {np.mean(et):.2f}% ({np.percentile(et, 90):.2f}%) | {missed} of {frames} "
                  f"| {np.mean(nids):.2f} ({max(nids)}) | {runs / frames:.2f} | {dets / frames:.2f} |",
                  flush=True)
    print(f"\n{time.time() - t0:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
