#!/usr/bin/env python
"""Wall-time cost of the refinement pass: ``FaceAnalyzer.analyze`` per image (detector,
crops, network, decoding, refine passes) with refinement off and at several ``refine_iou``
thresholds, side by side in one run.

    python benchmarks/bench_refine.py --data <300W folder> [--masked <Masked-300W folder>]
        [--iou 0.8 0.9 1.0] [--rounds 5] [--limit 60] [--model M.tflite] [--threads 2]

Faces: the first ``--limit`` images of the preset's validation hold-out (as
``scripts/evaluate_end_to_end.py``), decoded once before timing. Every setting shares one
runner and one detector; the settings take turns within each round (in a rotated order),
so a slow spell of a shared machine falls on all of them. Prints a Markdown table per set:
median over rounds of the mean ms per image, its ratio to refinement off, and the network
runs per image (every detected face's crops, refine passes included). The accuracy side of
the trade-off is ``scripts/evaluate_end_to_end.py --refine-iou`` (docs/inference.md).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def load_images(records):
    import cv2

    return [cv2.cvtColor(cv2.imread(str(r.image_path)), cv2.COLOR_BGR2RGB) for r in records]


def time_settings(analyzers: dict, images, rounds: int) -> dict:
    """``{setting: (median ms/image over rounds, runs/image)}``."""
    names = list(analyzers)
    for name in names:  # warm-up: delegate set-up, first allocations
        analyzers[name].analyze(images[0])
        analyzers[name].runner.crops = 0
    per_round = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            for image in images:
                analyzers[name].analyze(image)
            per_round[name].append(1000.0 * (time.perf_counter() - t0) / len(images))
    return {name: (float(np.median(per_round[name])),
                   analyzers[name].runner.crops / (rounds * len(images))) for name in names}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a 300W-format folder")
    parser.add_argument("--masked", default=None, help="a Masked-300W folder (optional)")
    parser.add_argument("--iou", type=float, nargs="+", default=[0.8, 0.9, 1.0],
                        help="refine_iou thresholds to time beside refinement off")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=60, help="images per set")
    parser.add_argument("--model", default=None, help="model file (default: the bundled preset)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.limit < 1 or not all(0.0 < t <= 1.0 for t in args.iou):
        parser.error("--rounds and --limit must be >= 1, every --iou in (0, 1]")
    for folder in filter(None, (args.data, args.masked)):
        if not pathlib.Path(folder).is_dir():
            parser.error(f"{folder}: no such folder")

    from lponet_tf.data import read_dataset
    from lponet_tf.evaluation.end_to_end import PRESET_HOLDOUT, CountingRunner
    from lponet_tf.inference.analyzer import FaceAnalyzer
    from lponet_tf.training.datasets import holdout_split

    sets = {"300W validation": ("300w", args.data)}
    if args.masked:
        sets["Masked-300W validation"] = ("masked_300w", args.masked)
    base = FaceAnalyzer.create(model=args.model, threads=args.threads)
    settings = {"off": dataclasses.replace(base.options, refine=False)}
    settings.update({f"refine_iou {t:g}": dataclasses.replace(base.options, refine_iou=t)
                     for t in args.iou})
    print(f"model {args.model or 'bundled preset'}, {args.threads} threads, "
          f"median of {args.rounds} interleaved rounds")
    for title, (reader, folder) in sets.items():
        records = holdout_split(read_dataset(reader, folder), **PRESET_HOLDOUT)[:args.limit]
        images = load_images(records)
        analyzers = {name: FaceAnalyzer(CountingRunner(base.runner), base.detector, options)
                     for name, options in settings.items()}
        timed = time_settings(analyzers, images, args.rounds)
        off = timed["off"][0]
        print(f"\n{title}, {len(images)} images\n")
        print("| refinement | ms / image | ratio to off | network runs / image |")
        print("|---|---:|---:|---:|")
        for name, (ms, runs) in timed.items():
            print(f"| {name} | {ms:.1f} | {ms / off:.2f} | {runs:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
