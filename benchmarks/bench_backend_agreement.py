#!/usr/bin/env python
"""How far apart two runtimes of the bundled preset put the same faces' landmarks.

The bundled ``lponet_lite.tflite`` (fp16 weights, LiteRT) against the same weights as a Keras
model (``backend="keras"``), both through ``FaceAnalyzer`` with its defaults, on the preset's
validation faces of a 300W-format folder: on the true landmark box (the protocol's crop) and
end to end (each analyzer's own detector, crop and refinement). Per face, the largest and the
mean distance between the two runtimes' points, in image pixels.

Rounding alone moves points by hundredths of a pixel; a point whose heatmap has two
near-equal peaks (a hidden jaw point) can move to the other peak, and end to end a refined
crop can differ. Both show up as the faces with a point more than 1 px apart.

    python benchmarks/bench_backend_agreement.py --data /data/300w \
        --out benchmarks/results/backend_agreement.md
"""
from __future__ import annotations

import argparse
import datetime
import pathlib

import numpy as np


def _rows(data: str, limit=None):
    from lponet_tf.data import read_dataset
    from lponet_tf.detection import landmark_box, matching_face
    from lponet_tf.evaluation.end_to_end import PRESET_HOLDOUT
    from lponet_tf.inference.analyzer import FaceAnalyzer
    from lponet_tf.training.datasets import holdout_split

    records = holdout_split(read_dataset("300w", data), **PRESET_HOLDOUT)[:limit]
    tflite, keras_ = FaceAnalyzer.create(threads=2), FaceAnalyzer.create(backend="keras", threads=2)
    out = {"true box": [], "end to end": []}
    for rec in records:
        truth = np.asarray(rec.landmarks, np.float64)
        box = landmark_box(truth)
        iod = float(np.linalg.norm(truth[36] - truth[45]))
        pairs = {"true box": (tflite.analyze(rec.image_path, boxes=[box])[0],
                              keras_.analyze(rec.image_path, boxes=[box])[0]),
                 "end to end": (matching_face(tflite.analyze(rec.image_path), box)[0],
                                matching_face(keras_.analyze(rec.image_path), box)[0])}
        for mode, (a, b) in pairs.items():
            if a is not None and b is not None:
                d = np.linalg.norm(a.landmarks - b.landmarks, axis=1)
                out[mode].append((float(d.max()), float(d.mean()), iod))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a 300W-format folder")
    ap.add_argument("--limit", type=int, default=None, help="first N validation faces")
    ap.add_argument("--out", default=None, help="also write the table to this Markdown file")
    args = ap.parse_args(argv)
    if args.out and pathlib.Path(args.out).exists():
        ap.error(f"{args.out} exists; choose another --out")
    lines = [f"# Bundled .tflite (fp16, LiteRT) against the same weights on Keras "
             f"({datetime.date.today()})", "",
             "| crop | faces | mean distance, px | faces with a point > 1 px | largest, px | largest, % of inter-ocular |",
             "|---|---|---|---|---|---|"]
    for mode, rows in _rows(args.data, args.limit).items():
        x = np.array(rows, np.float64).reshape(-1, 3)
        lines.append(f"| {mode} | {len(x)} | {x[:, 1].mean():.4f} | {int((x[:, 0] > 1).sum())} | "
                     f"{x[:, 0].max():.2f} | {100 * (x[:, 0] / x[:, 2]).max():.2f} |")
    lines += ["", "```", "python benchmarks/bench_backend_agreement.py --data /data/300w", "```"]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
