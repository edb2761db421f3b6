"""How sure the network is of a face, and of a crop with no face in it: the measurement behind
``FaceAnalyzerOptions.min_tracking_confidence`` (docs/inference.md, "Video").

Between detector runs, ``FaceAnalyzer.track`` analyses each tracked face on the box of its
landmarks in the previous frame, and drops it when its mean landmark score (heatmap peak /
omega, ``Face.confidence``) falls below ``min_tracking_confidence``. When the person leaves,
that box lies on the background, so the threshold must sit between the scores of real faces
and of face-free crops:

* real faces: the preset's validation holdout of the real 300W faces (195), each analysed on
  its own landmark box, bare and with the three mask styles of the Masked-300W sets
  (``--masked STYLE=FOLDER``, made with ``python -m lponet_tf.data.benchmark_sets masked-300w
  ... --style STYLE``);
* face-free crops: the same photos with the face region painted gray, analysed on the face's
  landmark box (what a face that left leaves behind), a face-sized box at a random place of
  each photo's largest face-free strip (``bench_masked_detection.face_free``), and blank
  frames (black, gray, white).

Prints the quantiles of each, and per threshold how many face-free crops would be kept as a
face and how many real faces lost.

Usage:
    .venv/bin/python benchmarks/bench_tracking_confidence.py \\
        --masked any=<Masked-300W folder> --masked plain=<...> --masked round=<...>
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bench_masked_detection as bench  # noqa: E402  (the faces and the face-free images)
from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.detection import landmark_box  # noqa: E402
from lponet_tf.inference.analyzer import TRACKING_MIN_CONFIDENCE, FaceAnalyzer  # noqa: E402
from lponet_tf.training.datasets import holdout_split  # noqa: E402

THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def confidence(analyzer, rgb, box) -> float:
    return float(analyzer.analyze_boxes(rgb, [box], [1.0])[0].confidence)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--masked", action="append", default=[], metavar="STYLE=FOLDER",
                    help="a Masked-300W folder of the same faces (repeatable)")
    ap.add_argument("--model", default=None, help="a .keras / .tflite model instead of the bundled one")
    args = ap.parse_args(argv)
    masked = {}
    for item in args.masked:
        style, sep, folder = item.partition("=")
        if not sep or not pathlib.Path(folder).is_dir():
            ap.error(f"--masked {item!r}: expected STYLE=FOLDER with an existing folder")
        masked[style] = pathlib.Path(folder)
    root = bench.SHARED / "300w"
    if not root.is_dir():
        ap.error(f"no 300W-format folder at {root} (set $LPONET_SHARED_DATA)")
    val = holdout_split(read_dataset("300w", str(root)), **bench.HOLDOUT)
    analyzer = FaceAnalyzer.create(model=args.model, threads=2)
    print(f"{len(val)} validation faces (300W holdout {bench.HOLDOUT}); "
          f"{args.model or 'bundled model'}\n")

    real = {}
    for style, folder in {"bare": None, **masked}.items():
        scores = []
        for r in val:
            path = pathlib.Path(r.image_path)
            if folder is not None:
                path = folder / path.relative_to(root)
            scores.append(confidence(analyzer, bench.read_rgb(path), landmark_box(r.landmarks)))
        real[style] = np.asarray(scores)
    rng = np.random.default_rng(0)
    free = []
    for r in val:
        painted, strip = bench.face_free(bench.read_rgb(r.image_path), r.landmarks)
        free.append(confidence(analyzer, painted, landmark_box(r.landmarks)))
        if strip is not None:
            h, w = strip.shape[:2]
            side = 0.8 * min(h, w)
            x, y = rng.uniform(0, w - side), rng.uniform(0, h - side)
            free.append(confidence(analyzer, strip, [x, y, x + side, y + side]))
    for value in (0, 90, 255):
        free.append(confidence(analyzer, np.full((480, 640, 3), value, np.uint8), [200, 120, 420, 340]))
    free = np.asarray(free)

    print("| crops | n | min | 1% | 5% | median | 95% | 99% | max |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, v in [*((f"faces, {k}", v) for k, v in real.items()), ("face-free", free)]:
        q = np.percentile(v, [0, 1, 5, 50, 95, 99, 100])
        print(f"| {name} | {len(v)} | " + " | ".join(f"{x:.3f}" for x in q) + " |")
    print("\n| min_tracking_confidence | face-free crops kept as a face | "
          + " | ".join(f"real faces lost, {k}" for k in real) + " |")
    print("|---|---:|" + "---:|" * len(real))
    for t in THRESHOLDS:
        mark = " (default)" if t == TRACKING_MIN_CONFIDENCE else ""
        print(f"| {t}{mark} | {int((free >= t).sum())} of {len(free)} | "
              + " | ".join(f"{int((v < t).sum())}" for v in real.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
