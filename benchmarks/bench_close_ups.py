"""Faces that fill the frame, end to end: how many the analyzer finds and how well it places
their landmarks, with and without the default detector's zoom-out pass (docs/detection.md,
"Faces that fill the frame").

Faces: the preset's validation holdout of the real 300W faces (195), each cut from its photo
as the square of its landmark box's longer side times ``--side`` (1.0: brows and chin at the
border, as in a close-up selfie; mid-gray where the square leaves the photo), bare and with the
first training face mask of ``bench_masked_detection.py`` drawn on the whole photo first.

Per detector: the share of close-ups with a detection overlapping the landmark box by IoU >=
0.5 (the detector alone), the share found end to end (``FaceAnalyzer.analyze``, bundled model,
its defaults: a face whose *landmarks'* box overlaps the true one by IoU >= 0.5, the rule of
``scripts/evaluate_end_to_end.py``), the inter-ocular NME (Eq. 10) over the found faces, and
the share of close-ups returned with another face besides (each holds one face: a repeat of it,
or a stray on an ear or a cheek).

Usage:
    .venv/bin/python benchmarks/bench_close_ups.py             # ~3 min on 2 cores
    .venv/bin/python benchmarks/bench_close_ups.py --side 1.2  # a looser close-up
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bench_masked_detection as bench  # noqa: E402  (the faces, masks and close-up crop)
from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.detection import landmark_box, matching_face  # noqa: E402
from lponet_tf.inference.analyzer import FaceAnalyzer  # noqa: E402
from lponet_tf.metrics import nme  # noqa: E402
from lponet_tf.training.datasets import holdout_split  # noqa: E402

DETECTORS = ("blazeface_confirmed", "blazeface_confirmed_zoom")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side", type=float, default=1.0,
                    help="close-up side, times the landmark box's longer side")
    ap.add_argument("--limit", type=int, default=None, help="first N validation faces only")
    ap.add_argument("--model", default=None,
                    help="a .keras / .tflite model instead of the bundled preset (a candidate)")
    args = ap.parse_args(argv)
    if not args.side > 0:
        ap.error(f"--side must be > 0, got {args.side}")
    if args.model is not None and not pathlib.Path(args.model).is_file():
        ap.error(f"--model: no such file: {args.model}")
    records = read_dataset("300w", str(bench.SHARED / "300w"))
    val = holdout_split(records, **bench.HOLDOUT)[: args.limit]
    analyzers = {d: FaceAnalyzer.create(model=args.model, detector=d, threads=2) for d in DETECTORS}
    print(f"{len(val)} validation faces (300W holdout {bench.HOLDOUT}), close-up side "
          f"{args.side} x the landmark box; {args.model or 'bundled model'}, FaceAnalyzer defaults\n")
    print("| close-ups | detector | detection IoU >= 0.5 | found end to end | NME on the found "
          "(median) | another face returned |")
    print("|---|---|---|---|---|---|")
    for masked in (False, True):
        hits = {d: 0 for d in DETECTORS}
        errors = {d: [] for d in DETECTORS}
        extra = {d: 0 for d in DETECTORS}
        for r in val:
            img, lm = bench.read_rgb(r.image_path), np.asarray(r.landmarks, np.float64)
            if masked:
                key = zlib.crc32(pathlib.Path(r.image_path).name.encode())
                img = bench.occluded(img, lm, ["mask"], (key, 0))
            close, clm = bench.close_up(img, lm, args.side)
            gt = landmark_box(clm)
            for d, analyzer in analyzers.items():
                hits[d] += bench.found(analyzer.detect(close), gt, centre=False)
                faces = analyzer.analyze(close)
                face, _ = matching_face(faces, gt)
                extra[d] += len(faces) > (face is not None)
                errors[d].append(np.nan if face is None
                                 else nme(face.landmarks[None], clm[None]).per_image[0])
        for d in DETECTORS:
            e = np.asarray(errors[d])
            print(f"| {'masked' if masked else 'bare'} | {d} | {hits[d] / len(val):.3f} "
                  f"| {np.mean(~np.isnan(e)):.3f} | {np.nanmean(e):.2f}% ({np.nanmedian(e):.2f}%) "
                  f"| {extra[d] / len(val):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
