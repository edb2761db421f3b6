"""Jitter and lag of the One-Euro smoothing (lponet_tf.inference.smoothing).

Landmarks: a real 300W landmark set (68 points; $LPONET_SHARED_DATA/300w, first HELEN face by
default) is the ground truth of a 30 fps video of 10 s.
* Jitter, still face: Gaussian noise (sigma = 1 px and 2 px per coordinate, per frame) is
  added; "jitter" is the mean frame-to-frame landmark motion (mean over points of
  |p_t - p_{t-1}|, px) and "error" the RMS distance to the truth (px), before vs after.
* Lag, moving face: the same face translated at constant speed (0.5 and 2 face sizes per
  second), sigma = 1 px noise; "lag" is the mean steady-state distance behind the truth
  along the motion (px, and ms = px / speed).
Rotations: the same for a head pose (1 degree noise on each axis, as a random rotation of
that size; a yaw turn at 30 and 120 degrees per second).

Configurations: raw, the defaults (LandmarkFilter: one cutoff per face), the same
parameters with a cutoff per point (speed="point") and per coordinate ("elementwise", as
in the paper), and a plain exponential filter of the same resting cutoff (beta = 0), which
shows what the speed adaptation buys.

Usage:
    .venv/bin/python benchmarks/bench_smoothing.py          # ~2 s
    .venv/bin/python benchmarks/bench_smoothing.py --grid   # also scan min_cutoff x beta
"""
from __future__ import annotations

import argparse
import math
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lponet_tf.inference.smoothing import (  # noqa: E402
    LANDMARK_DEFAULTS, ROTATION_DEFAULTS, LandmarkFilter, OneEuroFilter, RotationFilter,
)

from bench_data import data_root  # noqa: E402

SHARED = data_root()
FPS, SECONDS = 30.0, 10.0
SPEEDS = (0.1, 0.5, 2.0)  # face sizes per second: slow drift, head motion, fast motion


def read_pts(path) -> np.ndarray:
    text = pathlib.Path(path).read_text().split("{", 1)[1].split("}", 1)[0]
    return np.array([[float(v) for v in ln.split()] for ln in text.strip().splitlines()])


def face_size(pts):
    wh = pts.max(0) - pts.min(0)
    return math.sqrt(wh[0] * wh[1])


class _PerPoint:
    """The same One-Euro parameters with another speed mode (for the comparison rows)."""

    def __init__(self, speed, min_cutoff, beta, d_cutoff):
        self.f = OneEuroFilter(min_cutoff, beta, d_cutoff, speed=speed)

    def __call__(self, pts, t):
        return self.f(pts, t, scale=face_size(pts))


def run_landmarks(make, truth_seq, noise, rng):
    f = make()
    ts = np.arange(len(truth_seq)) / FPS
    raw = truth_seq + rng.normal(0, noise, truth_seq.shape) if noise else truth_seq.copy()
    out = np.stack([f(p, t) if f else p for p, t in zip(raw, ts)])
    return out


def jitter(seq):
    return float(np.mean(np.linalg.norm(np.diff(seq, axis=0), axis=2)))


def rms_error(seq, truth, skip):
    return float(np.sqrt(np.mean(np.sum((seq[skip:] - truth[skip:]) ** 2, axis=2))))


def lag_px(seq, truth, skip, direction):
    return float(np.mean(((truth[skip:] - seq[skip:]) @ direction)))


def landmark_table(base, configs, rng_seed=0):
    n = int(FPS * SECONDS)
    size = face_size(base)
    skip = int(FPS * 2)  # steady state: ignore the first 2 s
    still = np.repeat(base[None], n, axis=0)
    rows = []
    for label, make in configs:
        row = [label]
        for sigma in (1.0, 2.0):
            out = run_landmarks(make, still, sigma, np.random.default_rng(rng_seed))
            row += [jitter(out), rms_error(out, still, skip)]
        for speed_fs in SPEEDS:
            v = speed_fs * size  # px / s
            moving = base[None] + np.arange(n)[:, None, None] / FPS * np.array([v, 0.0])
            out = run_landmarks(make, moving, 1.0, np.random.default_rng(rng_seed + 1))
            lp = lag_px(out, moving, skip, np.array([1.0, 0.0]))
            row += [lp, 1e3 * lp / v]
        rows.append(row)
    return rows, size


def _random_small_rotation(rng, deg):
    axis_angle = rng.normal(0, math.radians(deg), 3)
    th = np.linalg.norm(axis_angle)
    if th < 1e-12:
        return np.eye(3)
    k = axis_angle / th
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(th) * kx + (1 - math.cos(th)) * kx @ kx


def _yaw(deg):
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def _angle(a, b):
    c = (np.trace(a @ b.T) - 1) / 2
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


def rotation_table(configs, seed=0):
    n = int(FPS * SECONDS)
    skip = int(FPS * 2)
    rows = []
    for label, make in configs:
        rng = np.random.default_rng(seed)
        row = [label]
        truth = [_yaw(20.0)] * n
        f = make()
        out = [f(_random_small_rotation(rng, 1.0) @ r, i / FPS) if f else
               _random_small_rotation(rng, 1.0) @ r for i, r in enumerate(truth)]
        row += [np.mean([_angle(a, b) for a, b in zip(out[1:], out[:-1])]),
                math.sqrt(np.mean([_angle(a, b) ** 2 for a, b in zip(out[skip:], truth[skip:])]))]
        for dps in (30.0, 120.0):
            truth = [_yaw(-60 + dps * i / FPS) for i in range(n)]
            f = make()
            out = [f(_random_small_rotation(rng, 1.0) @ r, i / FPS) if f else r
                   for i, r in enumerate(truth)]
            # Signed lag along the yaw motion, in degrees, then in ms.
            lag = np.mean([math.degrees(math.atan2((r @ o.T)[0, 2], (r @ o.T)[0, 0]))
                           for r, o in zip(truth[skip:], out[skip:])])
            row += [lag, 1e3 * lag / dps]
        rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pts", default=None, help="a .pts file (default: first 300W HELEN face)")
    ap.add_argument("--grid", action="store_true", help="scan min_cutoff x beta for landmarks")
    args = ap.parse_args(argv)
    pts_file = args.pts or next(iter(sorted((SHARED / "300w" / "helen_trainset").glob("*.pts"))), None)
    if pts_file is None:
        sys.exit(f"no 300W landmarks under {SHARED} (set LPONET_SHARED_DATA or pass --pts)")
    base = read_pts(pts_file)
    d = LANDMARK_DEFAULTS
    configs = [
        ("raw (no smoothing)", lambda: None),
        (f"One-Euro, defaults {d}", lambda: LandmarkFilter()),
        ("  same, cutoff per point", lambda: _PerPoint("point", **d)),
        ("  same, cutoff per coordinate", lambda: _PerPoint("elementwise", **d)),
        (f"  exponential only (beta=0, fc={d['min_cutoff']} Hz)",
         lambda: LandmarkFilter(d["min_cutoff"], 0.0, d["d_cutoff"])),
    ]
    rows, size = landmark_table(base, configs)
    print(f"# landmarks: {pathlib.Path(pts_file).name}, face size sqrt(w*h) = {size:.0f} px, "
          f"{FPS:.0f} fps, {SECONDS:.0f} s, steady state after 2 s\n")
    print("| landmarks | jitter s=1 px | error s=1 | jitter s=2 px | error s=2 "
          + "".join(f"| lag @{v} face/s px (ms) " for v in SPEEDS) + "|")
    print("|---|---|---|---|---|" + "---|" * len(SPEEDS))
    for r in rows:
        print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} "
              + "".join(f"| {r[5 + 2 * i]:.2f} ({r[6 + 2 * i]:.0f}) " for i in range(len(SPEEDS))) + "|")

    rd = ROTATION_DEFAULTS
    rconfigs = [
        ("raw (no smoothing)", lambda: None),
        (f"quaternion One-Euro, defaults {rd}", lambda: RotationFilter()),
        (f"  exponential only (beta=0, fc={rd['min_cutoff']} Hz)",
         lambda: RotationFilter(rd["min_cutoff"], 0.0, rd["d_cutoff"])),
    ]
    print("\n| rotation (1 deg noise) | jitter deg | error deg | lag @30 deg/s deg (ms) | lag @120 deg/s deg (ms) |")
    print("|---|---|---|---|---|")
    for r in rotation_table(rconfigs):
        print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.2f} ({r[4]:.0f}) | {r[5]:.2f} ({r[6]:.0f}) |")

    if args.grid:
        print("\n| min_cutoff | beta | jitter s=1 | jitter s=2 "
              + "".join(f"| lag @{v} px (ms) " for v in SPEEDS) + "|")
        print("|---|---|---|---|" + "---|" * len(SPEEDS))
        for mc in (0.2, 0.3, 0.5, 1.0):
            for beta in (1.0, 2.0, 4.0, 8.0, 16.0):
                cfg = [("", lambda mc=mc, beta=beta: LandmarkFilter(mc, beta, 1.0))]
                r = landmark_table(base, cfg)[0][0]
                print(f"| {mc} | {beta} | {r[1]:.2f} | {r[3]:.2f} "
                      + "".join(f"| {r[5 + 2 * i]:.2f} ({r[6 + 2 * i]:.0f}) " for i in range(len(SPEEDS))) + "|")


if __name__ == "__main__":
    main()
