"""The out-of-plane turns' triangle affines: the batched solve (``out_of_plane._affines``)
against the per-triangle ``cv2.getAffineTransform`` loop it replaced, side by side in one run.

Two measures, each alternating the two implementations round by round so that machine load
touches both alike:

- the function alone on a 100-point Delaunay mesh (about 185 triangles, the size of a face
  mesh with its border anchors): milliseconds per call;
- the whole single-process training pipeline of ``preset_lite_gpu`` (turns on half the
  samples) on real 300W faces: batches of 16 per second, 20 batches a round.

Usage:
    .venv/bin/python benchmarks/bench_triangle_affines.py [--data 300W_FOLDER] [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")  # the numpy pipeline: no TensorFlow needed
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench_data import data_root  # noqa: E402


def loop_affines(src, dst, triangles):
    """The implementation before 2026-12-04, kept here as the reference."""
    return np.stack([cv2.getAffineTransform(src[t].astype(np.float32), dst[t].astype(np.float32))
                     for t in triangles]).astype(np.float64)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(data_root() / "300w"), help="a 300W-format folder")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if not pathlib.Path(args.data).is_dir():
        parser.error(f"--data {args.data}: not a folder")
    from scipy.spatial import Delaunay

    from lponet_tf.config import LPONetConfig
    from lponet_tf.data import out_of_plane
    from lponet_tf.training.config import load_config, validate_config
    from lponet_tf.training.trainer import _numpy_datasets

    batched = out_of_plane._affines
    impls = (("loop", loop_affines), ("batched", batched))
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 128, (100, 2))
    dst = src + rng.normal(0, 3, src.shape)
    tri = Delaunay(src).simplices
    calls = {name: [] for name, _ in impls}
    for _ in range(args.rounds):
        for name, fn in impls:
            t0 = time.perf_counter()
            for _ in range(200):
                fn(src, dst, tri)
            calls[name].append((time.perf_counter() - t0) / 200 * 1e3)

    config = validate_config(load_config("preset_lite_gpu", overrides=["init_from=null"],
                                         data_roots={"300w": args.data}))
    train, _ = _numpy_datasets(config, LPONetConfig.from_dict(config["model"]))
    for i in range(len(train.sources[0]) // 16 + 1):  # every photo decoded and cached first
        train[i]
    rates, index = {name: [] for name, _ in impls}, 1000
    for _ in range(args.rounds):
        for name, fn in impls:
            out_of_plane._affines = fn
            t0 = time.perf_counter()
            for i in range(index, index + 20):
                train[i]
            index += 20
            rates[name].append(20 / (time.perf_counter() - t0))
    out_of_plane._affines = batched

    print(f"{len(tri)} triangles; {args.rounds} rounds, alternating; load average {os.getloadavg()}")
    for name, _ in impls:
        print(f"{name:8s} {np.median(calls[name]):7.3f} ms a call   "
              f"{np.median(rates[name]):6.2f} batches/s  (rounds: {', '.join(f'{r:.2f}' for r in rates[name])})")
    print(f"batched / loop: {np.median(calls['loop']) / np.median(calls['batched']):.1f}x faster a call, "
          f"pipeline {np.median(rates['batched']) / np.median(rates['loop']):.2f}x the batches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
