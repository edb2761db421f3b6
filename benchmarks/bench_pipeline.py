"""Input pipeline throughput beside the model's training throughput, in one run.

The pipeline must not be the bottleneck of training: its images/s (decode, crop, full
augmentation, occlusion synthesis on every sample, target encoding; ``make_dataset`` with
AUTOTUNE parallelism, real 300W faces from $LPONET_SHARED_DATA/300w) should be at least 3x the
model's training images/s (forward + backward + RMSprop update of the multitask loss with
deep supervision, on in-memory batches so that only the model is timed).

Pairs compared: the default model (paper: 2 stacks, C = 256, 256 px) with the 256 px
pipeline, and a small model (C = 64, 128 px) with the 128 px pipeline. Each measurement
runs alone (pipeline, then model); in real training both share the CPU.

Usage:
    .venv/bin/python benchmarks/bench_pipeline.py   # ~90 s of CPU time (wall time grows with load)
    .venv/bin/python benchmarks/bench_pipeline.py --seconds 20 --data /path/to/300w
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench_data import data_root  # noqa: E402

SHARED = data_root()


def pipeline_rate(records, size: int, batch: int, seconds: float, seed: int = 0) -> float:
    """Images/s of the full training pipeline (augmentation + occlusion on every sample)."""
    from lponet_tf.data.augment import AugmentConfig
    from lponet_tf.data.occlusion import OcclusionConfig
    from lponet_tf.data.pipeline import make_dataset

    ds = make_dataset(records, size, batch_size=batch, augment=AugmentConfig(),
                      occlusion=OcclusionConfig(prob=1.0), seed=seed, deterministic=False)
    it = iter(ds)
    for _ in range(2):  # warm-up: AUTOTUNE ramps up, files enter the page cache
        next(it)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        next(it)
        n += batch
    return n / (time.perf_counter() - t0)


def model_rate(config, batch: int, seconds: float, min_steps: int = 2) -> float:
    """Training images/s of ``config`` (stage-1 losses, deep supervision), after warm-up."""
    import keras
    import tensorflow as tf

    from lponet_tf.losses import HeatmapLoss, OcclusionLoss, PoseLoss
    from lponet_tf.model import build_lponet

    model = build_lponet(config)
    per_task = {"heatmaps": HeatmapLoss(), "pose": PoseLoss(), "occlusion": OcclusionLoss()}
    gamma = {"heatmaps": 1.0, "pose": 1.0, "occlusion": 10.0}
    names = model.output_names
    model.compile(optimizer=keras.optimizers.RMSprop(1e-4),
                  loss={n: per_task[n.split("_")[0]] for n in names},
                  loss_weights={n: gamma[n.split("_")[0]] for n in names})
    s, g, k = config.input_size, config.heatmap_size, config.num_landmarks
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 255, (batch, s, s, 3)).astype("float32"))
    occ = rng.uniform(0, 1, (batch, g, g, 1)).astype("float32")
    base = {"heatmaps": rng.uniform(0, 1, (batch, g, g, k)).astype("float32"),
            "pose": np.broadcast_to(np.eye(3, dtype="float32"), (batch, 3, 3)).copy(),
            "occlusion": np.concatenate([1 - occ, occ], -1)}
    y = {n: tf.constant(base[n.split("_")[0]]) for n in names}
    w = {n: tf.ones((batch,)) for n in names}
    for _ in range(2):  # warm-up: tracing, then one step with everything allocated
        model.train_on_batch(x, y, sample_weight=w)
    steps, t0 = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - t0 < seconds:
        model.train_on_batch(x, y, sample_weight=w)
        steps += 1
    return steps * batch / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(SHARED / "300w"), help="300W folder (image + .pts)")
    ap.add_argument("--seconds", type=float, default=8.0, help="timed seconds per measurement")
    ap.add_argument("--batch", type=int, default=16, help="pipeline batch size")
    args = ap.parse_args(argv)

    from lponet_tf.config import LPONetConfig
    from lponet_tf.data import read_dataset

    records = read_dataset("300w", args.data)
    print(f"{len(records)} faces from {args.data}; {os.cpu_count()} CPU cores visible")
    pairs = [
        ("default (C=256, 2 stacks)", LPONetConfig(), 4),
        ("small (C=64, 2 stacks)", LPONetConfig(input_size=128, channels=64), 16),
    ]
    rows = []
    for name, cfg, model_batch in pairs:
        p = pipeline_rate(records, cfg.input_size, args.batch, args.seconds)
        print(f"  pipeline {cfg.input_size:3d} px: {p:8.1f} img/s", flush=True)
        m = model_rate(cfg, model_batch, args.seconds)
        print(f"  model {name}, {cfg.input_size} px, batch {model_batch}: {m:8.2f} img/s", flush=True)
        rows.append((name, cfg.input_size, p, m))
    print("\nmodel                       size  pipeline img/s  train img/s   ratio  (target >= 3x)")
    for name, size, p, m in rows:
        print(f"{name:27s} {size:4d}  {p:14.1f}  {m:11.2f}  {p / m:6.1f}x  {'ok' if p / m >= 3 else 'LOW'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
