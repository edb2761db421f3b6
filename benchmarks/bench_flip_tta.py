"""Cost of flip test-time augmentation: network time per face with and without it, side by
side in one run (the bundled ``lponet_lite`` .tflite, or ``--model``), batch 1.

    python benchmarks/bench_flip_tta.py [--model M.tflite] [--threads 2] [--runs 50]

Prints the median milliseconds per face of the plain runner and of
:class:`lponet_tf.inference.flip_tta.FlipTTARunner` around it (the crop and its mirror in one
batch of 2, then the averaging in numpy), and their ratio. The accuracy side (NME with and
without) is ``lponet evaluate ... --flip-tta`` (docs/inference.md).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def median_ms(fn, x, runs: int) -> float:
    fn(x)  # warm-up (delegate set-up, first allocation)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file (default: the bundled .tflite)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)
    from lponet_tf.inference.flip_tta import FlipTTARunner
    from lponet_tf.presets import get_preset
    from lponet_tf.runtime import load_runner

    model = args.model or str(get_preset("lponet_lite").bundled_tflite())
    runner = load_runner(model, threads=args.threads)
    s = runner.metadata.input_size
    x = np.random.default_rng(0).uniform(0, 255, (1, s, s, 3)).astype(np.float32)
    plain = median_ms(runner, x, args.runs)
    tta = median_ms(FlipTTARunner(runner), x, args.runs)
    print(f"model {model}, {args.threads} threads, batch 1, median of {args.runs} calls")
    print("| runner | ms/face | ratio |\n|---|---:|---:|")
    print(f"| plain | {plain:.2f} | 1.00 |")
    print(f"| flip TTA | {tta:.2f} | {tta / plain:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
