#!/usr/bin/env python
"""Count the landmarks a training config's augmentation moves off the heatmap grid.

    python scripts/measure_off_grid_points.py --config preset_lite_cpu15 --data-root 300w=/data/300w

Training samples are drawn as the config's pipeline draws them (its augmentation and
occluders, on the records of its first training source, with replacement); for each point
it takes the distance in heatmap cells from its nearest cell to the grid (0 on the grid).
A point off the grid gets an all-zero target, or its Gaussian's tail with
``augment.off_grid_targets: tail`` (docs/training.md, "Landmarks pushed off the crop"); only
points within the 3-cell window have a tail. Prints the share of samples with such a point,
the share of points off the grid and how far off they are.
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

#: Distances reported, in cells (the window radius is 3).
BINS = (1, 2, 3)


def cells_off_grid(landmarks, input_size: int, stride: int = 4) -> np.ndarray:
    """Per point, how many cells its nearest heatmap cell lies off the grid (0 on it)."""
    from lponet_tf.heatmaps import crop_to_grid, nearest_cell

    cell = nearest_cell(crop_to_grid(landmarks, stride))
    last = input_size // stride - 1
    return np.maximum(np.maximum(-cell, cell - last), 0.0).max(axis=-1)


def measure(records, input_size: int, augment, occlusion, samples: int, seed: int) -> dict:
    """Off-grid statistics of ``samples`` prepared samples drawn from ``records``."""
    from tqdm import tqdm

    from lponet_tf.data.sample import prepare_sample

    labelled = [r for r in records if r.landmarks is not None]
    if not labelled:
        raise SystemExit("measure_off_grid_points: the first training source has no landmark labels")
    rng = np.random.default_rng(seed)
    off = []
    for _ in tqdm(range(samples), desc="samples", unit="sample"):
        record = labelled[rng.integers(len(labelled))]
        s = prepare_sample(record, input_size, rng=rng, augment=augment, occlusion=occlusion)
        off.append(cells_off_grid(s.landmarks, input_size))
    d = np.stack(off)
    out = {"samples": samples, "faces": len(labelled), "input_size": input_size,
           "samples_with_a_point_off": float(np.mean((d > 0).any(axis=1))),
           "points_off": float(np.mean(d > 0))}
    out.update({f"points_off_1_to_{k}_cells": float(np.mean((d > 0) & (d <= k))) for k in BINS})
    out[f"points_off_more_than_{BINS[-1]}_cells"] = float(np.mean(d > BINS[-1]))
    return out


def main(argv=None) -> int:
    from lponet_tf.errors import LPONetError
    from lponet_tf.training.config import load_config, parse_data_roots
    from lponet_tf.training.datasets import data_plan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a training config (file or shipped name)")
    parser.add_argument("--data-root", action="append", default=[], metavar="NAME=PATH",
                        help="replace a dataset's root, as `lponet train --data-root`")
    parser.add_argument("--samples", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be >= 1")
    try:
        config = load_config(args.config, data_roots=parse_data_roots(args.data_root))
        plan = data_plan(config)
        size = int(config["model"]["input_size"])
        result = measure(plan.sources[0][0], size, plan.augment, plan.occlusion, args.samples,
                         args.seed)
    except LPONetError as e:  # a bad config, root or data file (ConfigError, DataError): say which
        print(f"measure_off_grid_points: {e}", file=sys.stderr)
        return 2
    print(f"{result['samples']} samples of {result['faces']} faces at {size} px: "
          f"{result['samples_with_a_point_off']:.1%} have a point off the grid; "
          f"{result['points_off']:.2%} of the points are off it")
    for k in BINS:
        print(f"  off by 1 to {k} cells: {result[f'points_off_1_to_{k}_cells']:.2%} of the points")
    print(f"  off by more than {BINS[-1]} cells (no tail): "
          f"{result[f'points_off_more_than_{BINS[-1]}_cells']:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
