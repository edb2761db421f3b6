"""The training pre-flight's cost: every face's landmarks checked against its image's size,
read from the file headers (``lponet_tf.data.sample.check_records``), against
reading each size by decoding the image (what the pseudo-pose labels did before), side by
side in interleaved rounds (docs/training.md, "Config checking").

Both read the same files; the first round warms the page cache for both, and the rounds
after it time the two alternately, so disk and load changes hit both. Reported: the median
seconds per pass of each and their ratio.

Usage:
    LPONET_SHARED_DATA=<folder with 300w/> .venv/bin/python benchmarks/bench_preflight.py
    .venv/bin/python benchmarks/bench_preflight.py --rounds 7
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from lponet_tf.codec.image import load_image  # noqa: E402
from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.data.sample import check_records  # noqa: E402

from bench_data import data_root  # noqa: E402


def decoded_sizes(records) -> dict:
    """``{image_path: (height, width)}`` by decoding every image (the codec's loader)."""
    return {r.image_path: load_image(r.image_path).shape[:2] for r in records}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds after the warm-up")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    records = read_dataset("300w", str(data_root() / "300w"))
    headers = check_records(records)
    decoded = decoded_sizes(records)  # warm-up, and the two must agree
    if headers != decoded:
        bad = [p for p in headers if headers[p] != decoded.get(p)]
        raise SystemExit(f"header and decoded sizes differ for {len(bad)} images, e.g. {bad[:3]}")
    times = {"headers (check_records)": [], "decoding every image": []}
    for _ in range(args.rounds):
        for name, fn in (("headers (check_records)", check_records),
                         ("decoding every image", decoded_sizes)):
            t0 = time.perf_counter()
            fn(records)
            times[name].append(time.perf_counter() - t0)
    print(f"{len(records)} faces, {len(headers)} images; median of {args.rounds} interleaved rounds "
          "after a warm-up (page cache warm)\n")
    print("| sizes read by | seconds per pass (median) | ratio to headers |")
    print("|---|---:|---:|")
    base = float(np.median(times["headers (check_records)"]))
    for name, values in times.items():
        print(f"| {name} | {np.median(values):.3f} | {np.median(values) / base:.1f}x |")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
