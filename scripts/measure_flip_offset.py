#!/usr/bin/env python
"""Measure the x offset of a model's landmark labels: what flip augmentation must keep and
flip test-time augmentation must turn back.

    python scripts/measure_flip_offset.py --data 300w=/data/300w [--model M.tflite] [--part train]

A network reproduces its training labels' convention. Labels that sit ``d`` px right of the
mirror-symmetric place come out ``d`` px right in the direct run and ``d`` px left in the
mirrored run (mirrored back), whatever the network's own asymmetry: the mean of the two
runs, minus the labels, is ``-d``. Each face is analysed on its true landmark box, as
``lponet evaluate`` does, directly and mirrored (``mirror_outputs``).

It prints ``d`` in image pixels (``augment.flip_label_x_offset`` of a training config that
keeps the offset through flips) and in input-crop pixels (``flip_label_x_offset`` of
``FaceAnalyzerOptions`` / ``Preset``), with the NME of the direct run and of flip TTA with and
without the crop-pixel correction. Faces: the preset's photo hold-out (15%, seed 0), the
training part by default, so that the offset is not tuned on the validation faces.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class MirroredRun:
    """A runner answering with the mirrored crop's outputs mapped back."""

    def __init__(self, runner):
        self.runner = runner

    def __call__(self, images):
        from lponet_tf.inference.flip_tta import mirror_outputs

        x = np.asarray(images)
        x = x[None] if x.ndim == 3 else x
        return mirror_outputs(self.runner(x[:, :, ::-1]))

    def __getattr__(self, name):
        if name == "runner":
            raise AttributeError(name)
        return getattr(self.runner, name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, metavar="300w=PATH", help="the 300W faces")
    parser.add_argument("--model", default=None, help="model file (default: the bundled preset)")
    parser.add_argument("--part", default="train", choices=("train", "val"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default=None, help="also write the figures to this JSON")
    args = parser.parse_args(argv)
    import cv2
    from tqdm import tqdm

    from lponet_tf.codec.crop import face_box, square_box
    from lponet_tf.data import read_dataset
    from lponet_tf.evaluation.end_to_end import PRESET_HOLDOUT
    from lponet_tf.inference.analyzer import FaceAnalyzer
    from lponet_tf.metrics import nme
    from lponet_tf.training.datasets import holdout_split

    root = args.data.split("=", 1)[-1]
    records = holdout_split(read_dataset("300w", root), **dict(PRESET_HOLDOUT, part=args.part))
    analyzer = FaceAnalyzer.create(model=args.model, threads=args.threads, refine=False)
    mirrored = FaceAnalyzer(MirroredRun(analyzer.runner), analyzer.detector, analyzer.options)
    size = analyzer.metadata.input_size
    direct, back, truth, scale = [], [], [], []
    for rec in tqdm(records, desc=f"{args.part} faces", unit="face"):
        image = cv2.cvtColor(cv2.imread(str(rec.image_path)), cv2.COLOR_BGR2RGB)
        gt = np.asarray(rec.landmarks, np.float64)
        box = face_box(landmarks=gt)
        direct.append(analyzer.analyze(image, boxes=[box])[0].landmarks)
        back.append(mirrored.analyze(image, boxes=[box])[0].landmarks)
        square = square_box(box)
        truth.append(gt), scale.append(size / (square[2] - square[0]))
    direct, back, truth, scale = map(np.asarray, (direct, back, truth, scale))
    consistent = (direct + back) / 2.0 - truth  # image px; -d on average
    d_image = float(-consistent[..., 0].mean())
    d_crop = float(-(consistent[..., 0] * scale[:, None]).mean())
    shift = np.stack([d_crop / scale, np.zeros_like(scale)], axis=1)[:, None, :]
    result = {
        "model": args.model or "bundled preset", "part": args.part, "faces": len(truth),
        "label_x_offset_image_px": round(d_image, 3),
        "label_x_offset_crop_px": round(d_crop, 3),
        "mirror_consistent_y_image_px": round(float(consistent[..., 1].mean()), 3),
        "nme_direct": round(float(nme(direct, truth).per_image.mean()), 3),
        "nme_mirrored": round(float(nme(back, truth).per_image.mean()), 3),
        "nme_flip_average": round(float(nme((direct + back) / 2, truth).per_image.mean()), 3),
        "nme_flip_average_corrected": round(float(nme((direct + back) / 2 + shift, truth).per_image.mean()), 3),
    }
    print(json.dumps(result, indent=1))
    if args.output:
        pathlib.Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
