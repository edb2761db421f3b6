"""Video: how often the default detector's zoom-out pass and the analyzer's candidate check
should run while no face is tracked (``FaceAnalyzerOptions.zoom_out_every`` and
``candidate_check``, which runs on the same frames; docs/inference.md, "Video").

Each clip is a camera that first sees no face and then a face that fills the frame: ``lead``
face-free frames (the photo with its face painted gray, resized to the close-up's size), then
``--face-frames`` frames of the validation face's close-up (the square of its landmark box's
longer side, as in ``bench_masked_detection.py``), sliding 2 px a frame, bare or with a
training-style face mask. ``lead`` cycles through ``--lead-min`` (3) to 4 more frames over
the faces, so the face appears at every phase of the zoom-out cadence. Every clip runs through
:meth:`FaceAnalyzer.track` once per setting, the settings interleaved clip by clip (one
analyzer each, 1 thread, the bundled model).

Settings: every ``--every`` value with each ``--check`` value (``off`` / ``on``:
``candidate_check``, with ``candidate_check_every`` from ``--check-every``). Reported per setting: CPU time (``time.process_time``) of ``track`` on
the face-free frames (median and mean, and the mean's ratio to the first setting's: the ratios
come from the same run), the share of face frames in which the face is found (a face whose landmarks' box overlaps
the true one by IoU >= 0.5, ``lponet_tf.detection.matching_face``), and the delay from the
face's first frame to its first found frame (frames; a face never found counts the clip's
length). With ``--exit-frames N`` the clip ends with N face-free frames again (the person
left): the share of them in which the analyzer still reports a face is the last column.
Settings also cross ``--min-tracking`` values (``min_tracking_confidence``; default: the
library's).

Usage:
    .venv/bin/python benchmarks/bench_zoom_out_video.py            # 60 faces, 1, 2, 3, 5, check off
    .venv/bin/python benchmarks/bench_zoom_out_video.py --every 1,3 --check off,on
    .venv/bin/python benchmarks/bench_zoom_out_video.py --every 1 --check on \
        --min-tracking 0.2,0.35 --face-frames 20 --exit-frames 10
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.detection import landmark_box, matching_face  # noqa: E402
from lponet_tf.evaluation.end_to_end import PRESET_HOLDOUT  # noqa: E402
from lponet_tf.inference import FaceAnalyzer  # noqa: E402
from lponet_tf.inference.analyzer import TRACKING_MIN_CONFIDENCE  # noqa: E402
from lponet_tf.training.datasets import holdout_split  # noqa: E402

from bench_data import data_root  # noqa: E402
from bench_masked_detection import close_up, face_free, occluded, read_rgb  # noqa: E402

STEP_PX = 2


def clips(records, face_frames, lead_min=3):
    """(style, lead frames, face frames, true boxes) per face and style (bare, masked)."""
    for i, r in enumerate(records):
        img, lm = read_rgb(r.image_path), np.asarray(r.landmarks, np.float64)
        key = zlib.crc32(pathlib.Path(r.image_path).name.encode())
        painted, _ = face_free(img, lm)
        for style, photo in (("bare", img), ("masked", occluded(img, lm, ["mask"], (key, 0)))):
            near, nlm = close_up(photo, lm)
            n = near.shape[0]
            empty = cv2.resize(painted, (n, n), interpolation=cv2.INTER_AREA)
            lead = [empty] * (lead_min + i % 5)
            faces = [np.roll(near, STEP_PX * f, axis=1) for f in range(face_frames)]
            boxes = [landmark_box(nlm + [STEP_PX * f, 0]) for f in range(face_frames)]
            yield style, lead, faces, boxes


def run_clip(analyzer, lead, faces, boxes, exit_frames=0):
    """(CPU ms of each face-free frame before the face, found flag of each face frame, face
    reported flag of each of ``exit_frames`` face-free frames after it)."""
    analyzer.reset()
    t, cpu, hits = 0.0, [], []
    for frame in lead:
        c0 = time.process_time()
        analyzer.track(frame, t)
        cpu.append((time.process_time() - c0) * 1000.0)
        t += 33.3
    for frame, box in zip(faces, boxes):
        hits.append(matching_face(analyzer.track(frame, t), box)[0] is not None)
        t += 33.3
    ghosts = []
    for _ in range(exit_frames):
        ghosts.append(bool(analyzer.track(lead[0], t)))
        t += 33.3
    return cpu, hits, ghosts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=60, help="first N validation faces")
    ap.add_argument("--every", default="1,2,3,5", help="zoom_out_every values, comma-separated")
    ap.add_argument("--face-frames", type=int, default=8)
    ap.add_argument("--check", default="off", help="candidate_check values, comma-separated: off, on")
    ap.add_argument("--check-every", type=int, default=10, help="candidate_check_every (with --check on)")
    ap.add_argument("--lead-min", type=int, default=3, help="face-free frames before a face: this to this + 4")
    ap.add_argument("--exit-frames", type=int, default=0, help="face-free frames after the face (it left)")
    ap.add_argument("--min-tracking", default=str(TRACKING_MIN_CONFIDENCE),
                    help="min_tracking_confidence values, comma-separated")
    args = ap.parse_args(argv)
    tracking = [float(v) for v in args.min_tracking.split(",")]
    every = [int(v) for v in args.every.split(",")]
    checks = args.check.split(",")
    if not every or min(every) < 1 or min(args.limit, args.face_frames, args.check_every, args.lead_min) < 1:
        ap.error("--every values, --limit, --face-frames, --check-every and --lead-min must be >= 1")
    if args.exit_frames < 0 or not all(0 <= v <= 1 for v in tracking):
        ap.error("--exit-frames must be >= 0 and --min-tracking values in [0, 1]")
    if not checks or not set(checks) <= {"off", "on"}:
        ap.error(f"--check takes off and / or on, got {args.check!r}")
    val = holdout_split(read_dataset("300w", str(data_root() / "300w")), **PRESET_HOLDOUT)[: args.limit]
    settings = [(k, c, m) for k in every for c in checks for m in tracking]
    analyzers = {(k, c, m): FaceAnalyzer.create(threads=1, zoom_out_every=k, candidate_check=c == "on",
                                                candidate_check_every=args.check_every,
                                                min_tracking_confidence=m)
                 for k, c, m in settings}
    cpu = {k: [] for k in settings}
    hits = {(k, s): [] for k in settings for s in ("bare", "masked")}
    ghosts = {(k, s): [] for k in settings for s in ("bare", "masked")}
    t0 = time.time()
    for style, lead, faces, boxes in clips(val, args.face_frames, args.lead_min):
        for k, analyzer in analyzers.items():
            c, h, g = run_clip(analyzer, lead, faces, boxes, args.exit_frames)
            cpu[k] += c
            hits[k, style].append(h)
            ghosts[k, style] += g
    base = float(np.mean(cpu[settings[0]]))
    print(f"{len(val)} validation faces ({PRESET_HOLDOUT}), bare and masked close-ups, "
          f"{args.face_frames} face frames after {args.lead_min}-{args.lead_min + 4} face-free ones"
          f"{'' if 'on' not in checks else f', candidate_check_every {args.check_every}'}; {time.time() - t0:.0f} s; "
          f"load average at the end {os.getloadavg()[0]:.2f}\n")
    print(f"| zoom_out_every | candidate_check | min_tracking_confidence | CPU ms per face-free frame, median (mean) "
          f"| mean / first row | face frames found, bare / masked "
          "| delay to the first found frame, bare / masked | never found, bare / masked "
          "| frames after it left with a face, bare / masked |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in settings:
        row = []
        for s in ("bare", "masked"):
            h = np.asarray(hits[k, s])
            first = [int(np.argmax(c)) if c.any() else len(c) for c in h]
            row.append((h.mean(), np.mean(first), int((~h.any(axis=1)).sum()), len(h)))
        (fb, db, nb, n), (fm, dm, nm, _) = row
        left = " / ".join(f"{np.mean(ghosts[k, s]):.3f}" if ghosts[k, s] else "-" for s in ("bare", "masked"))
        print(f"| {k[0]} | {k[1]} | {k[2]} | {np.median(cpu[k]):.2f} ({np.mean(cpu[k]):.2f}) | {np.mean(cpu[k]) / base:.2f} "
              f"| {fb:.3f} / {fm:.3f} | {db:.2f} / {dm:.2f} | {nb} / {nm} of {n} | {left} |")


if __name__ == "__main__":
    main()
