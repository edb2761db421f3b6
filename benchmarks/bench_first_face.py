#!/usr/bin/env python
"""Time to the first face in a fresh process: ``import lponet_tf`` + ``FaceAnalyzer.create()``
+ ``analyze(photo)``, with the bundled TFLite export (the default) and with the Keras preset
(``backend="keras"``, which imports TensorFlow).

    python benchmarks/bench_first_face.py [--runs 3] [--image lponet_tf/assets/astronaut.png]

Prints a Markdown table (median and range of ``--runs`` fresh processes per path).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]

CODE = """
import sys, time
t0 = time.perf_counter()
import lponet_tf
analyzer = lponet_tf.FaceAnalyzer.create(backend={backend!r})
t1 = time.perf_counter()
faces = analyzer.analyze({image!r})
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, len(faces), 'tensorflow' in sys.modules)
"""


def first_face(backend: str, image: str):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", CODE.format(backend=backend, image=image)],
                         capture_output=True, text=True, env=env, check=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]), out[3] == "True"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="first-face latency, TFLite vs Keras")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--image", default=str(REPO / "lponet_tf" / "assets" / "astronaut.png"))
    args = parser.parse_args(argv)
    print("| path | create (s) | first analyze (s) | total (s), median [min, max] | faces | TensorFlow imported |")
    print("|---|---:|---:|---:|---:|---|")
    for label, backend in (("bundled .tflite (default)", "auto"), ("Keras preset", "keras")):
        runs = [first_face(backend, args.image) for _ in range(args.runs)]
        totals = [a + b for a, b, _, _ in runs]
        print(f"| {label} | {statistics.median(r[0] for r in runs):.2f} | "
              f"{statistics.median(r[1] for r in runs):.2f} | {statistics.median(totals):.2f} "
              f"[{min(totals):.2f}, {max(totals):.2f}] | {runs[0][2]} | {runs[0][3]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
