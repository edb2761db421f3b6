"""The box guard of the detector-box -> landmark-box mapping, measured on faces of several
sizes in the frame (docs/detection.md, "The guard"; issue 17 item 3).

The keypoint-linear mappings (lponet_tf/detection/box_mappings.json) were fitted on 300W
photos, where the face spans about half the image. Here each held-out AFW photo (337 faces,
not used in the fit) is shrunk k times and centred on a mid-gray canvas of its original size
(the face then spans about 1/(2k) of the image side). For each detector's best-matching
detection (IoU >= 0.2 with the landmark box), the mean IoU with the landmark box (tight box of
the 68 points) of: the raw box, the constant mapping, the keypoint-linear mapping without
the guard, and the shipped (guarded) mapping, with the share of detections the guard lets
keep the keypoint mapping.

Usage:
    .venv/bin/python benchmarks/bench_box_guard.py                  # back and short, ~3 min
    .venv/bin/python benchmarks/bench_box_guard.py --models back --bound 0.1
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_masked_detection import read_rgb, shrink  # noqa: E402
from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.detection import BOX_MAPPINGS, BlazeFaceDetector, box_iou, landmark_box  # noqa: E402

from bench_data import data_root  # noqa: E402

SHARED = data_root()
SCALES = (1, 1.25, 1.5, 2, 3, 4, 6)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="back,short")
    ap.add_argument("--every", type=int, default=1, help="every Nth AFW face")
    ap.add_argument("--bound", type=float, default=None,
                    help="try another guard bound G instead of the shipped one")
    args = ap.parse_args(argv)
    records = [r for r in read_dataset("300w", str(SHARED / "300w"))
               if r.attributes.get("source") == "afw"][:: args.every]
    for model in args.models.split(","):
        det = BlazeFaceDetector(model, num_threads=1)
        m = BOX_MAPPINGS[det.source]
        if args.bound is not None:
            m = dataclasses.replace(m, max_size_deviation=args.bound)
        const = dataclasses.replace(m, keypoint_weights=None)
        unguarded = dataclasses.replace(m, max_size_deviation=None)
        print(f"\n{det.source}: {len(records)} AFW faces, guard max_size_deviation = "
              f"{m.max_size_deviation} (e^{m.max_size_deviation} = "
              f"{math.exp(m.max_size_deviation):.3f}x)\n")
        print("| k (face about 1/(2k) of the frame) | n | raw | constant | keypoints, no guard "
              "| guarded (shipped) | kept keypoints |")
        print("|---|---|---|---|---|---|---|")
        for k in SCALES:
            rows = []
            for r in records:
                img, lm = read_rgb(r.image_path), np.asarray(r.landmarks, np.float64)
                if k != 1:
                    img, lm = shrink(img, lm, k)
                gt = landmark_box(lm)
                dets = det.detect(img)
                if not dets:
                    continue
                d = max(dets, key=lambda d: box_iou(d.box, gt)[0, 0])
                if box_iou(d.box, gt)[0, 0] < 0.2:
                    continue
                g, c = m.apply(d.box, d.keypoints), const.apply(d.box)
                rows.append([box_iou(b, gt)[0, 0] for b in
                             (d.box, c, unguarded.apply(d.box, d.keypoints), g)]
                            + [not np.allclose(g, c)])
            a = np.array(rows, np.float64)
            print(f"| {k} | {len(a)} | " + " | ".join(f"{v:.3f}" for v in a[:, :4].mean(0))
                  + f" | {a[:, 4].mean():.2f} |")


if __name__ == "__main__":
    main()
