#!/usr/bin/env python
"""Interleaved latency of several model files: ratios that survive a noisy machine.

    python benchmarks/bench_latency_ab.py A.tflite B.tflite [C.tflite ...] [--threads 1 2]
        [--rounds 30] [--calls 20] [--out out/ab.md]

``bench_export.py`` times one format after the other, so a neighbour's job that starts in
the middle lands on one row only. Here every model is loaded once per thread count, and
the calls alternate: each round runs ``--calls`` batch-1 calls of every model in turn (order
rotated each round), on the same real-looking input. Per model it reports the median over
all calls and the median of its per-round ratio to the first model: a load change slows
all models of a round alike, so the ratio column is the one to read.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+",
                    help="model files (.tflite / .onnx); the first is the reference")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--calls", type=int, default=20, help="calls per model per round")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", help="also write the Markdown table here")
    args = ap.parse_args(argv)
    if len(args.models) < 2:
        ap.error("give at least two model files")
    missing = [m for m in args.models if not pathlib.Path(m).is_file()]
    if missing:
        ap.error(f"not found: {', '.join(missing)}")
    if min(args.threads) < 1 or args.rounds < 1 or args.calls < 1:
        ap.error("--threads, --rounds and --calls must be >= 1")
    from tqdm import tqdm

    from lponet_tf.runtime import load_runner

    lines = [f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible; "
             f"load average at the start {[round(v, 2) for v in os.getloadavg()]}; "
             f"{args.rounds} rounds x {args.calls} calls per model, batch 1.", "",
             "| model | threads | ms/face (median) | ratio to the first (median of rounds) |",
             "|---|---:|---:|---:|"]
    for threads in args.threads:
        runners = [load_runner(m, threads=threads) for m in args.models]
        size = runners[0].metadata.input_size
        face = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        for r in runners:
            for _ in range(args.warmup):
                r(face)
        times = [[] for _ in runners]
        ratios = [[] for _ in runners]
        for k in tqdm(range(args.rounds), desc=f"{threads} thread(s)", unit="round"):
            order = np.roll(np.arange(len(runners)), k)
            round_ms = {}
            for i in order:
                t = []
                for _ in range(args.calls):
                    t0 = time.perf_counter()
                    runners[i](face)
                    t.append(1000.0 * (time.perf_counter() - t0))
                times[i] += t
                round_ms[i] = float(np.median(t))
            for i in range(len(runners)):
                ratios[i].append(round_ms[i] / round_ms[0])
        for path, t, q in zip(args.models, times, ratios):
            lines.append(f"| {pathlib.Path(path).name} | {threads} | {np.median(t):.2f} | "
                         f"{np.median(q):.3f} |")
        for r in runners:
            r.close()
    lines.append("")
    lines.append(f"Load average at the end {[round(v, 2) for v in os.getloadavg()]}.")
    text = "\n".join(lines)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
