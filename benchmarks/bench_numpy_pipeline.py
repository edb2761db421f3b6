"""Throughput of the numpy data path (``lponet_tf.data.numpy_pipeline.FaceBatches``, the
keras ``PyDataset`` that feeds ``fit`` without TensorFlow), per core and with workers.

Full training preparation on every sample (decode, crop, augmentation, occlusion synthesis,
target encoding) of real 300W faces ($LPONET_SHARED_DATA/300w), at 128 and 256 px:

- ``1 core``: ``FaceBatches[i]`` in a loop in this process (no Keras machinery);
- ``threads xN`` / ``processes xN``: through Keras' PyDataset adapter (what ``fit`` uses)
  with ``workers=N``, threads or processes (``use_multiprocessing``). Processes send
  every batch through a pipe: the bytes per sample are printed beside the rates (float32
  heatmaps are most of them).

Usage:
    .venv/bin/python benchmarks/bench_numpy_pipeline.py               # ~2 min
    .venv/bin/python benchmarks/bench_numpy_pipeline.py --seconds 20 --workers 4
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")  # the path exists for backends without tf.data
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_data import data_root  # noqa: E402

SHARED = data_root()


def batches(records, size, batch, **kwargs):
    from lponet_tf.config import LPONetConfig
    from lponet_tf.data.augment import AugmentConfig
    from lponet_tf.data.numpy_pipeline import FaceBatches
    from lponet_tf.data.occlusion import OcclusionConfig

    config = LPONetConfig(input_size=size, channels=16)
    return FaceBatches([(records, 1)], config, batch, augment=AugmentConfig(),
                       occlusion=OcclusionConfig(prob=1.0), seed=0, num_stacks=1, **kwargs)


def direct_rate(ds, batch, seconds):
    ds[0]  # warm-up (page cache)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ds[1 + n // batch]
        n += batch
    return n / (time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "300w"))
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from lponet_tf.data import read_dataset
    from lponet_tf.data.numpy_pipeline import delivery_rate

    records = read_dataset("300w", args.data)
    print(f"{len(records)} faces, batch {args.batch}, {os.cpu_count()} cores, "
          f"{args.seconds:.0f} s per measurement")
    print("| size | bytes/sample | 1 core img/s | threads x{0} img/s | processes x{0} img/s |".format(
        args.workers))
    print("|---|---|---|---|---|")
    for size in (128, 256):
        one = batches(records, size, args.batch)
        x, y, w = one[0]
        nbytes = (x.nbytes + sum(v.nbytes for v in y.values()) + sum(v.nbytes for v in w.values())) / args.batch
        r1 = direct_rate(one, args.batch, args.seconds)
        rt = args.batch * delivery_rate(batches(records, size, args.batch, workers=args.workers), args.seconds)
        rp = args.batch * delivery_rate(
            batches(records, size, args.batch, workers=args.workers, use_multiprocessing=True), args.seconds)
        print(f"| {size} | {nbytes / 1e6:.2f} MB | {r1:.0f} | {rt:.0f} | {rp:.0f} |", flush=True)


if __name__ == "__main__":
    main()
