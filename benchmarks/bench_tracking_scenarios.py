"""Video: ``FaceAnalyzer.track`` on scenes with one or two moving faces (docs/inference.md,
"Video"): faces crossing (one passing behind the other), overtaking, a fast face stopping
beside a still one, a face stopping, reversing, accelerating, shaken, and a small face moving.

Each clip pastes 300W validation faces (the preset's holdout; their landmark box
``BASE_W`` = 80 px wide, with an elliptical feathered mask: face, some hair and neck) on a
640 x 480 gray frame at sub-pixel positions, later faces drawn over earlier ones, and runs it
through ``track`` (smoothing off), the faces of the clip ``i`` taken from the validation list
from ``i`` on. Per scenario, over all clips: the NME of the faces that are at least 90%
visible (tracked face matched to the true one by landmark-box IoU >= 0.3, Hungarian; mean,
90th percentile and frames above 10%), such faces not reported, the distinct track ids per
true face (1 is right), the frames in which a face carries an id first given to the other
face (id swaps), and the network (landmark) runs and detector runs per frame. ``--ahead
both`` runs every clip with and without the crops moved on by a steady face's motion ("off": ``TrackingSession(analyzer,
crop_ahead=False)``), side by side.

Usage:
    LPONET_SHARED_DATA=<folder with 300w/> .venv/bin/python benchmarks/bench_tracking_scenarios.py
    .venv/bin/python benchmarks/bench_tracking_scenarios.py --clips 16 --ahead both
    .venv/bin/python benchmarks/bench_tracking_scenarios.py --scenarios cross_behind_15,jitter_10
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import time
from typing import Callable, Dict, List, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.detection import box_iou, landmark_box  # noqa: E402
from lponet_tf.evaluation.end_to_end import PRESET_HOLDOUT  # noqa: E402
from lponet_tf.inference import FaceAnalyzer  # noqa: E402
from lponet_tf.inference.video import TrackingSession  # noqa: E402
from lponet_tf.training.datasets import holdout_split  # noqa: E402

from bench_data import data_root  # noqa: E402
from bench_fast_motion import CountingRunner  # noqa: E402

W, H, BASE_W, GRAY = 640, 480, 80.0, 110
VISIBLE = 0.9  # a face is to be found when this share of its landmarks can be seen
#: A frame: (face slot, centre x, centre y, scale) per face, drawn in order.
Frame = List[Tuple[int, float, float, float]]


class Source:
    """A face photo scaled so that its landmark box is BASE_W wide, centred at the origin."""

    def __init__(self, record):
        img = cv2.cvtColor(cv2.imread(record.image_path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        lm = np.asarray(record.landmarks, np.float64)
        x0, y0, x1, y1 = landmark_box(lm)
        s = BASE_W / (x1 - x0)
        side = int(round(3 * BASE_W * max(1.0, (y1 - y0) / (x1 - x0))))
        m = np.float64([[s, 0, side / 2 - (x0 + x1) / 2 * s], [0, s, side / 2 - (y0 + y1) / 2 * s]])
        self.img = cv2.warpAffine(img, m, (side, side), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
        self.lm = lm @ m[:, :2].T + m[:, 2] - side / 2
        mask = np.zeros((side, side), np.float32)
        bh = (y1 - y0) * s
        cv2.ellipse(mask, (side // 2, int(side / 2 - 0.12 * bh)), (int(0.68 * BASE_W), int(0.78 * bh)),
                    0, 0, 360, 1.0, -1)
        self.mask = cv2.GaussianBlur(mask, (0, 0), 3)
        self.side = side

    def place(self, cx: float, cy: float, scale: float):
        """``(rgb layer, alpha, landmarks)`` of the face centred at ``(cx, cy)``."""
        c = self.side / 2
        m = np.float64([[scale, 0, cx - scale * c], [0, scale, cy - scale * c]])
        rgb = cv2.warpAffine(self.img, m, (W, H), flags=cv2.INTER_LINEAR).astype(np.float32)
        return rgb, cv2.warpAffine(self.mask, m, (W, H), flags=cv2.INTER_LINEAR), self.lm * scale + (cx, cy)


def render(sources: List[Source], placements: Frame):
    """The frame (uint8 RGB) and per face ``(slot, true landmarks, visible share)``."""
    frame = np.full((H, W, 3), GRAY, np.float32)
    layers = []
    for slot, cx, cy, scale in placements:
        rgb, alpha, lm = sources[slot].place(cx, cy, scale)
        frame = frame * (1 - alpha[..., None]) + rgb * alpha[..., None]
        layers.append((slot, alpha, lm))
    truths = []
    for i, (slot, _, lm) in enumerate(layers):
        seen = (lm[:, 0] >= 0) & (lm[:, 0] <= W - 1) & (lm[:, 1] >= 0) & (lm[:, 1] <= H - 1)
        xi = np.clip(np.round(lm[:, 0]).astype(int), 0, W - 1)
        yi = np.clip(np.round(lm[:, 1]).astype(int), 0, H - 1)
        for _, above, _ in layers[i + 1:]:
            seen &= above[yi, xi] < 0.5
        truths.append((slot, lm, float(seen.mean())))
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), truths


# -- scenes (speeds: shares of the face's width per frame) ---------------------------------
def cross(speed: float, dy: float = 0.0) -> List[Frame]:
    """Face 0 moves right over face 1, which moves left ``dy`` face widths lower."""
    d = 2.2 * BASE_W
    n = int(math.ceil(2 * d / (speed * BASE_W))) + 1
    return [[(1, W / 2 + d - speed * BASE_W * k, H / 2 + dy * BASE_W, 1.0),
             (0, W / 2 - d + speed * BASE_W * k, H / 2, 1.0)] for k in range(n)]


def overtake(fast: float, slow: float, dy: float = 0.3) -> List[Frame]:
    """Both move right; face 0 (in front) from behind at ``fast``, face 1 ahead at ``slow``."""
    clip, xa, xb = [], 80.0, 80.0 + 2.2 * BASE_W
    while xa < W - BASE_W and xb < W - BASE_W:
        clip.append([(1, xb, H / 2 + dy * BASE_W, 1.0), (0, xa, H / 2, 1.0)])
        xa, xb = xa + fast * BASE_W, xb + slow * BASE_W
    return clip


def approach_stop(speed: float, gap: float, moving: int = 8, still: int = 10) -> List[Frame]:
    """Face 1 stands still; face 0 comes from the left at ``speed`` and stops ``gap`` face
    widths before it."""
    xb = 440.0
    x0 = xb - (1 + gap) * BASE_W - moving * speed * BASE_W
    return [[(1, xb, H / 2, 1.0), (0, x0 + min(k, moving) * speed * BASE_W, H / 2, 1.0)]
            for k in range(moving + 1 + still)]


def path(xs, y: float = H / 2, scale: float = 1.0) -> List[Frame]:
    return [[(0, float(x), y, scale)] for x in xs]


def stop_then_reverse(speed: float, each: int = 10) -> List[Frame]:
    """Moves right ``each`` frames, then back left."""
    steps = [speed] * (each - 1) + [-speed] * each
    return path(100.0 + BASE_W * np.concatenate([[0.0], np.cumsum(steps)]))


def jitter(amount: float, seed: int, n: int = 30) -> List[Frame]:
    """A camera shaking: independent offsets within +-``amount`` of one place, in x and y."""
    d = np.random.default_rng(seed).uniform(-amount, amount, (n, 2)) * BASE_W
    return [[(0, W / 2 + dx, H / 2 + dy, 1.0)] for dx, dy in d]


SCENARIOS: Dict[str, Callable[[int], List[Frame]]] = {
    "cross_behind_5": lambda i: cross(0.05, 0.3),
    "cross_behind_15": lambda i: cross(0.15, 0.3),
    "cross_behind_30": lambda i: cross(0.30, 0.3),
    "cross_level_15": lambda i: cross(0.15),
    "cross_apart_30": lambda i: cross(0.30, 1.2),  # no overlap
    "overtake_15_0": lambda i: overtake(0.15, 0.0),
    "overtake_30_5": lambda i: overtake(0.30, 0.05),
    "stop_beside_30": lambda i: approach_stop(0.30, 0.0),
    "stop_beside_45": lambda i: approach_stop(0.45, 0.05),
    "stop_and_back_30": lambda i: stop_then_reverse(0.30),
    "accelerate": lambda i: path(60.0 + BASE_W * np.cumsum([0.0] + [0.02 * k for k in range(1, 22)])),
    "shake_50_of_10": lambda i: path(W / 2 + 0.5 * BASE_W * np.sin(2 * np.pi * np.arange(30) / 10)),
    "jitter_10": lambda i: jitter(0.10, seed=i),
    "small_moving_10": lambda i: path(200.0 + 0.10 * BASE_W * 0.4 * np.arange(30), scale=0.4),
}


def faces_of(clip: List[Frame]) -> int:
    return 1 + max(slot for frame in clip for slot, *_ in frame)


def run_clip(analyzer, counter, sources: List[Source], clip: List[Frame], crop_ahead: bool = True) -> dict:
    """The clip's counts (a new :class:`TrackingSession` of ``analyzer``): NMEs of visible
    faces, visible faces missed, ids per face, id-swap frames, network runs, frames."""
    session = TrackingSession(analyzer, crop_ahead=crop_ahead)
    nme, missed, ids, owner, swaps, runs = [], 0, {}, {}, 0, 0
    for k, placements in enumerate(clip):
        frame, truths = render(sources, placements)
        before = counter.crops
        faces = session.track(frame, 33.3 * k)
        runs += counter.crops - before
        match = {}
        if truths and faces:
            iou = box_iou(np.stack([landmark_box(lm) for _, lm, _ in truths]),
                          np.stack([landmark_box(f.landmarks) for f in faces]))
            match = {int(r): int(c) for r, c in zip(*linear_sum_assignment(-iou)) if iou[r, c] >= 0.3}
        for i, (slot, lm, seen) in enumerate(truths):
            face = faces[match[i]] if i in match else None
            if seen >= VISIBLE:
                if face is None:
                    missed += 1
                else:
                    io = np.linalg.norm(lm[36] - lm[45])
                    nme.append(float(np.linalg.norm(face.landmarks - lm, axis=1).mean() / io * 100))
            if face is not None:
                ids.setdefault(slot, set()).add(face.track_id)
                swaps += owner.setdefault(face.track_id, slot) != slot
    return {"nme": nme, "missed": missed, "ids": [len(v) for v in ids.values()], "swaps": swaps,
            "runs": runs, "detections": session.detections_run, "frames": len(clip)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=16, help="clips per scenario")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated names")
    ap.add_argument("--ahead", choices=("on", "off", "both"), default="on",
                    help="crop a steadily moving face where its motion puts it (the default), or not")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    names = args.scenarios.split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or args.clips < 1:
        ap.error(f"unknown scenarios {unknown} (known: {', '.join(SCENARIOS)})" if unknown
                 else "--clips must be >= 1")
    records = holdout_split(read_dataset("300w", str(data_root() / "300w")), **PRESET_HOLDOUT)
    analyzer = FaceAnalyzer.create(smoothing=False, threads=args.threads)
    counter = analyzer.runner = CountingRunner(analyzer.runner)
    t0 = time.time()
    print(f"{args.clips} clips per scenario of 300W validation faces ({PRESET_HOLDOUT}), "
          f"{BASE_W:g} px wide, on {W} x {H} frames, smoothing off\n")
    print("| scenario | crop ahead | NME mean (p90) | frames NME > 10% | visible faces missed "
          "| ids per face, mean (max) | id-swap frames (clips) | network runs per frame "
          "| detector runs per frame |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        for ahead in (("on", "off") if args.ahead == "both" else (args.ahead,)):
            clips = []
            for i in range(args.clips):
                clip = SCENARIOS[name](i)
                n = faces_of(clip)
                sources = [Source(records[(n * i + j) % len(records)]) for j in range(n)]
                clips.append(run_clip(analyzer, counter, sources, clip, crop_ahead=ahead == "on"))
            nme = [v for c in clips for v in c["nme"]]
            ids = [v for c in clips for v in c["ids"]]
            frames = sum(c["frames"] for c in clips)
            print(f"| {name} | {ahead} | {np.mean(nme):.2f}% ({np.percentile(nme, 90):.2f}%) "
                  f"| {sum(v > 10 for v in nme)} of {len(nme)} "
                  f"| {sum(c['missed'] for c in clips)} | {np.mean(ids):.2f} ({max(ids)}) "
                  f"| {sum(c['swaps'] for c in clips)} ({sum(c['swaps'] > 0 for c in clips)}) "
                  f"| {sum(c['runs'] for c in clips) / frames:.2f} "
                  f"| {sum(c['detections'] for c in clips) / frames:.2f} |", flush=True)
    print(f"\n{time.time() - t0:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
