#!/usr/bin/env python
"""Heatmap decoders side by side: DARK (the default) and the paper's top-2 rule.

Two measurements on the real 300W validation faces (the training configs' hold-out:
15% of the photos, seed 0, never trained on; ``lponet_tf/configs/preset_lite.yaml``):

(a) the codec floor: perfect heatmaps of the true points, rendered as the training
    targets are (``omega * L``, 7x7 Gaussian of sigma 1 cell, :func:`encode_heatmaps`) on the
    paper's crop of the ground-truth landmark box, decoded back by each rule and mapped to
    the image: the NME a perfect network would get, at 128 and 256 px input and at the
    bundled preset's;
(b) the bundled preset (``FaceAnalyzer.create()``, its default backend) on the same faces,
    each analysed on its ground-truth landmark box (as ``tests/test_preset_accuracy.py``),
    with each rule; plus the decoding time per face (the preset's 68 maps), as a ratio;
(c) with ``--int8``: the preset exported to full int8 (calibrated on 32 training faces) and
    its Keras original on 32 validation crops, decoded by each rule: the landmark shift of
    the export (crop pixels) and the NME of both (the int8 parity test's setting).

NME is inter-ocular (outer eye corners 36 / 45), in %.

    .venv/bin/python benchmarks/bench_decoders.py --data /path/to/300w --output out/decoders.md
"""
from __future__ import annotations

import argparse
import pathlib
import time

import cv2
import numpy as np

from lponet_tf.codec.crop import CropTransform
from lponet_tf.export.representative import read_records
from lponet_tf.heatmaps import DECODERS, decode_heatmaps, encode_heatmaps


def nme(pred: np.ndarray, truth: np.ndarray) -> float:
    """Inter-ocular NME of one face in % (outer eye corners 36, 45)."""
    iod = np.linalg.norm(truth[36] - truth[45])
    return 100.0 * float(np.linalg.norm(pred - truth, axis=1).mean()) / iod


def codec_floor(records, size: int) -> dict:
    """Mean NME per rule of perfect training-target heatmaps decoded back."""
    out = {d: [] for d in DECODERS}
    for record in records:
        truth = np.asarray(record.landmarks, np.float64)
        t = CropTransform.from_landmarks(truth, size)
        heat = 60.0 * encode_heatmaps(t.to_crop(truth), size)
        for d in DECODERS:
            xy, _ = decode_heatmaps(heat, decode=d)
            out[d].append(nme(t.to_image(xy), truth))
    return {d: float(np.mean(v)) for d, v in out.items()}


def preset_nme(records) -> dict:
    """Mean NME (and failures > 10%) of the bundled preset per rule, on the GT boxes."""
    from lponet_tf.inference.analyzer import FaceAnalyzer

    out = {}
    for d in DECODERS:
        analyzer = FaceAnalyzer.create(decode=d)
        errors = []
        for record in records:
            image = cv2.cvtColor(cv2.imread(record.image_path), cv2.COLOR_BGR2RGB)
            truth = np.asarray(record.landmarks, np.float64)
            face, = analyzer.analyze_boxes(image, [[*truth.min(0), *truth.max(0)]])
            errors.append(nme(face.landmarks, truth))
        out[d] = (float(np.mean(errors)), int(np.sum(np.array(errors) > 10.0)),
                  analyzer.runner.backend if hasattr(analyzer.runner, "backend") else "")
        analyzer.close()
    return out


def int8_parity(data) -> dict:
    """Per rule: (mean, p95, max) landmark shift int8 vs Keras in crop px, NME Keras, NME int8."""
    import tempfile

    from lponet_tf.export.representative import load_faces
    from lponet_tf.export.tflite import TFLiteExporter
    from lponet_tf.presets import from_preset
    from lponet_tf.runtime import load_runner

    model = from_preset("lponet_lite")
    size = model.lponet_config.input_size
    calibration = load_faces(data, size, "train", limit=32).images
    faces = load_faces(data, size, "val", limit=32)
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        path = TFLiteExporter(model, preset="lponet_lite", workdir=folder / "work").export(
            folder / "lponet_lite_int8.tflite", "int8", calibration)
        candidate = load_runner(path)(faces.images)["heatmaps"]
    reference = np.asarray(model.predict_on_batch(faces.images)["heatmaps"])
    out = {}
    for d in DECODERS:
        ref_xy, _ = decode_heatmaps(reference, decode=d)
        cand_xy, _ = decode_heatmaps(candidate, decode=d)
        shift = np.linalg.norm(cand_xy - ref_xy, axis=-1)
        out[d] = (float(shift.mean()), float(np.percentile(shift, 95)), float(shift.max()),
                  float(np.mean([nme(p, t) for p, t in zip(ref_xy, faces.landmarks)])),
                  float(np.mean([nme(p, t) for p, t in zip(cand_xy, faces.landmarks)])))
    return out


def decode_time(size: int, repeats: int = 300) -> dict:
    """Median ms to decode one face's maps (``size / 4`` square, 68 of them), per rule."""
    rng = np.random.default_rng(0)
    grid = size // 4
    heat = (60.0 * encode_heatmaps(rng.uniform(10, size - 10, (68, 2)), size)
            + rng.normal(scale=1.0, size=(grid, grid, 68))).astype(np.float32)
    out = {}
    for d in DECODERS:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            decode_heatmaps(heat, decode=d)
            times.append(time.perf_counter() - t0)
        out[d] = 1e3 * float(np.median(times))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the 300W face folder (NAME.png + NAME.pts)")
    p.add_argument("--output", type=pathlib.Path, help="write the markdown table here too")
    p.add_argument("--no-preset", action="store_true", help="codec floor only")
    p.add_argument("--int8", action="store_true",
                   help="also the int8 export's parity per rule (about 4 min of export)")
    args = p.parse_args(argv)

    from lponet_tf.presets import get_preset

    preset_size = get_preset("lponet_lite").config.input_size
    records = read_records(args.data, "val")
    lines = [f"Validation faces: {len(records)} (300W hold-out), NME inter-ocular %.", "",
             "| | " + " | ".join(DECODERS) + " |", "|---|" + "---|" * len(DECODERS)]
    for size in sorted({128, preset_size, 256}):
        floor = codec_floor(records, size)
        lines.append(f"| codec floor, {size} px (perfect heatmaps) | "
                     + " | ".join(f"{floor[d]:.4f}" for d in DECODERS) + " |")
    if not args.no_preset:
        preset = preset_nme(records)
        lines.append("| bundled lponet_lite, GT landmark box | "
                     + " | ".join(f"{preset[d][0]:.3f} ({preset[d][1]} > 10%)"
                                  for d in DECODERS) + " |")
    if args.int8:
        parity = int8_parity(args.data)
        lines.append("| int8 export vs Keras, 32 crops: landmark shift px mean / p95 / max | "
                     + " | ".join("{:.3f} / {:.3f} / {:.3f}".format(*parity[d][:3])
                                  for d in DECODERS) + " |")
        lines.append("| same 32 crops: NME Keras -> int8 | "
                     + " | ".join("{:.3f} -> {:.3f}".format(*parity[d][3:])
                                  for d in DECODERS) + " |")
    speed = decode_time(preset_size)
    ratio = speed["dark"] / speed["top2"]
    grid = preset_size // 4
    lines.append(f"| decode ms per face ({grid}x{grid}x68, numpy) | "
                 + " | ".join(f"{speed[d]:.3f}" for d in DECODERS) + " |")
    lines += ["", f"DARK / top-2 decoding time: {ratio:.2f}x"]
    text = "\n".join(lines)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
