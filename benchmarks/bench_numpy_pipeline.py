"""Throughput of the numpy data path (``lponet_tf.data.numpy_pipeline.FaceBatches``, the
keras ``PyDataset`` that feeds ``fit`` without TensorFlow), per core and with workers.

A training config's own batches (default ``preset_lite_gpu2``, the GPU recipe of the bundled
weights: turns, occluders, flips as that config sets them) from real 300W faces
($LPONET_SHARED_DATA/300w), the photos decoded before timing (the config caches them):

- ``1 core``: ``FaceBatches[i]`` in a loop in this process (no Keras machinery), with the
  row's BLAS threads;
- ``threads xN`` / ``processes xN``: through Keras' PyDataset adapter (what ``fit`` uses,
  ``numpy_pipeline.delivery_rate``) with ``workers=N``, threads or forked processes
  (``use_multiprocessing``), every batch of a process crossing a pipe;
- ``pipe only``: the same processes returning one batch prepared beforehand: what the pipe
  and Keras' queue alone allow.

Rows: float32 or ``compact`` batches (uint8 images, float16 heatmap targets:
``train.data_compact``), and numpy's BLAS threads in the workers: one (``FaceBatches``'
default, and ``lponet_tf.training.train`` runs ``fit`` with one here) or BLAS' own default
(a thread per core, as before that default). Rows alternate in one run (the machine is noisy).

Usage:
    .venv/bin/python benchmarks/bench_numpy_pipeline.py               # ~3 min
    .venv/bin/python benchmarks/bench_numpy_pipeline.py --seconds 20 --workers 14
"""
from __future__ import annotations

import argparse
import os
import pathlib
import pickle
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")  # the path exists for backends without tf.data
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import keras  # noqa: E402
from bench_data import data_root  # noqa: E402

SHARED = data_root()


def batches(config_name, data, workers=1, processes=False, compact=False, blas=1):
    from lponet_tf.config import LPONetConfig
    from lponet_tf.training.config import load_config, validate_config
    from lponet_tf.training.trainer import _numpy_datasets

    overrides = ["output_dir=unused", f"train.data_workers={workers}",
                 f"train.data_processes={str(processes).lower()}",
                 f"train.data_compact={str(compact).lower()}"]
    config = validate_config(load_config(config_name, overrides=overrides, data_roots={"300w": data}))
    train, _ = _numpy_datasets(config, LPONetConfig.from_dict(config["model"]))
    train.blas_threads = blas
    for s, records in enumerate(train.sources):  # decoded before a worker forks
        for i in range(len(records)):
            train._read(s, i)
    return train


class Prepared(keras.utils.PyDataset):
    """The same batch every time: the adapter's rate is then the transport's."""

    def __init__(self, batch, **kwargs):
        super().__init__(**kwargs)
        self.batch = batch

    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        return self.batch


def direct_rate(ds, seconds):
    ds[0]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ds[1 + n]
        n += 1
    return n * ds.batch_size / (time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "300w"))
    parser.add_argument("--config", default="preset_lite_gpu2")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not pathlib.Path(args.data).is_dir():
        raise SystemExit(f"{args.data}: no 300W folder (set $LPONET_SHARED_DATA or pass --data)")
    from lponet_tf.data.numpy_pipeline import blas_threads, delivery_rate

    probe = batches(args.config, args.data)
    print(f"{args.config}: {probe.config.input_size} px, batch {probe.batch_size}, "
          f"{sum(len(r) for r in probe.sources)} faces, {os.cpu_count()} cores, "
          f"{args.seconds:.0f} s per measurement")
    n = args.workers
    print(f"| batches | BLAS threads | pickled/sample | 1 core img/s | threads x{n} img/s "
          f"| processes x{n} img/s | pipe only x{n} img/s |")
    print("|---|---|---|---|---|---|---|")
    for compact in (False, True):
        for blas in (None, 1):
            one = batches(args.config, args.data, compact=compact, blas=blas)
            size = one.batch_size
            nbytes = len(pickle.dumps(one[0], protocol=pickle.HIGHEST_PROTOCOL)) / size
            with_blas = {"blas": blas}
            with blas_threads(blas):
                r1 = direct_rate(one, args.seconds)
            rt = size * delivery_rate(batches(args.config, args.data, n, False, compact, blas),
                                      args.seconds, **with_blas)
            rp = size * delivery_rate(batches(args.config, args.data, n, True, compact, blas),
                                      args.seconds, **with_blas)
            rq = size * delivery_rate(Prepared(one[0], workers=n, use_multiprocessing=True),
                                      args.seconds, **with_blas) if blas == 1 else None
            cells = [f"{v:.0f}" if v is not None else "" for v in (r1, rt, rp, rq)]
            print(f"| {'compact' if compact else 'float32'} | {blas or 'default'} | "
                  f"{nbytes / 1e6:.3f} MB | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
