#!/usr/bin/env python
"""Side-by-side benchmark: lponet_lite in every export format vs dlib and MediaPipe.

One run measures, on the same validation faces of ``/data/300w`` (the training
configs' hold-out: 15% of the photos, seed 0, never trained on):

(a) ``lponet_lite`` (all three heads: 68 landmarks, 6D pose, visible-face mask) as Keras
    (``tf.function``), TFLite fp32, dynamic-range, full int8 (uint8 I/O) and int8 with
    float I/O, and ONNX (onnxruntime) — exported with the project's own export code
    (:class:`lponet_tf.export.pipeline.ModelExporter`) — in ms per face at batch 1 with
    1 and 2 threads (medians over many calls), and its NME (inter-ocular) on the paper's
    crop of the ground-truth landmark box;
(b) dlib's 68-point shape predictor (``face-recognition-models``) given the same box:
    ms per face and NME, plus two other boxes (the tight landmark box and dlib's own HOG
    detection) and HOG detection + landmarks on a face-region image;
(c) MediaPipe Face Mesh (468 points, mediapipe 0.10.21): the graph in tracking mode
    (landmark model only) and with detection on every call, and its bundled
    ``face_landmark.tflite`` / ``face_detection_short_range.tflite`` timed in LiteRT in the
    same harness as ours. No NME (its points are not the iBUG 68).

The "1 thread" column runs every engine in a process restricted to one CPU
(``taskset``) with the engine's thread count at 1; "2 threads" gives the process both
CPUs and the engine 2 threads (MediaPipe's graph has no thread setting; dlib's predictor
is single-threaded). The peers run in their own venvs (``benchmarks/setup_peers.sh``).

    bash benchmarks/setup_peers.sh
    .venv/bin/python benchmarks/bench_peers.py --output out/peers.json
    # -> out/peers.json and out/peers.md; see docs/peers.md

Debug quickly without the trained weights: ``--random-weights --faces 8 --repeats 2
--calibration-faces 8``.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_data import data_root  # noqa: E402

PEERS = REPO / ".venv-peers"
DLIB_PY = PEERS / "dlib" / "bin" / "python"
MP_PY = PEERS / "mediapipe" / "bin" / "python"
WORKERS = REPO / "benchmarks" / "peers"
REGION_SIZE = 256      # face-region image for detectors: the face about 107 px wide
REGION_SCALE = 2.0     # region side / the paper's square crop side
PRESET = "lponet_lite"

#: Our exports: key -> (ExportSpec kwargs or None for Keras, label).
FORMATS = {
    "keras": (None, "Keras 3 (`tf.function`, float32)"),
    "tflite_fp32": (dict(format="tflite", quantize="none"), "TFLite fp32"),
    "tflite_dynamic": (dict(format="tflite", quantize="dynamic"), "TFLite dynamic-range int8"),
    "tflite_int8": (dict(format="tflite", quantize="int8", io_dtype="uint8"),
                    "TFLite full int8 (uint8 I/O)"),
    "tflite_int8_floatio": (dict(format="tflite", quantize="int8"),
                            "TFLite full int8 (float I/O)"),
    "tflite_int8_asset": (dict(format="tflite", quantize="int8", io_dtype="int8", float_outputs=True,
                               keep_float=("pose_path",)),
                          "TFLite int8, pose path in float, float outputs (the Android asset)"),
    "onnx": (dict(format="onnx"), "ONNX fp32 (onnxruntime)"),
}


def log(msg: str) -> None:
    print(f"[bench_peers {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> list:
    return [round(v, 2) for v in os.getloadavg()]


def stats(times) -> dict:
    t = np.asarray(times, np.float64)
    if t.size == 0:
        return {"n": 0}
    return {"n": int(t.size), "median": float(np.median(t)), "p10": float(np.percentile(t, 10)),
            "p90": float(np.percentile(t, 90)), "min": float(t.min()), "mean": float(t.mean())}


def cpu_list():
    return sorted(os.sched_getaffinity(0))


def pinned(cmd, threads: int, pin_cpu: int):
    """``cmd`` restricted to one CPU for the 1-thread column; unchanged otherwise."""
    if threads == 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(pin_cpu)] + list(cmd)
    return list(cmd)


# --------------------------------------------------------------------------------------
# The faces
# --------------------------------------------------------------------------------------
def prepare_faces(data_root: str, limit, size: int, seed: int = 0) -> dict:
    """Validation faces: our crops, the boxes given to dlib and the detector regions."""
    from lponet_tf.codec.crop import CropTransform, box_from_landmarks, crop_face, square_box
    from lponet_tf.codec.image import load_image
    from lponet_tf.export.representative import read_records

    records = read_records(data_root, "val")  # sorted by path, as load_faces
    total = len(records)
    if limit is not None and limit < total:
        pick = np.random.default_rng(seed).choice(total, size=limit, replace=False)
        records = [records[i] for i in sorted(pick)]
    crops, gt_crop, gt_img, tight, same, regions, to_image, paths = ([] for _ in range(8))
    for r in records:
        image = load_image(r.image_path)
        lm = np.asarray(r.landmarks, np.float32)
        box = box_from_landmarks(lm)
        # The paper's evaluation crop (= representative.crop_record, = lponet evaluate).
        t = CropTransform.from_box(box, size)
        crops.append(t.warp(image).astype(np.float32))
        gt_crop.append(t.to_crop(lm))
        gt_img.append(lm)
        tight.append(box)
        sq = square_box(box)
        same.append(sq)
        # Region: same centre, REGION_SCALE x the square's side (crop_face adds 10%/side).
        c, side = (sq[:2] + sq[2:]) / 2, (sq[2] - sq[0]) * REGION_SCALE / 1.2
        region, rt = crop_face(image, np.r_[c - side / 2, c + side / 2], REGION_SIZE)
        regions.append(region)
        to_image.append(rt.inverse_matrix)
        paths.append(os.path.abspath(r.image_path))
    return {
        "paths": np.array(paths), "crops": np.stack(crops), "gt_crop": np.stack(gt_crop),
        "gt_image": np.stack(gt_img), "box_tight": np.stack(tight), "box_same": np.stack(same),
        "regions": np.stack(regions).astype(np.uint8), "region_to_image": np.stack(to_image),
        "val_total": total,
    }


# --------------------------------------------------------------------------------------
# Our exports and NME
# --------------------------------------------------------------------------------------
def export_all(model, workdir: pathlib.Path, data_root: str, calibration_faces: int,
               formats=tuple(FORMATS)) -> dict:
    from lponet_tf.export.pipeline import ExportSpec, ModelExporter

    files = {}
    if "keras" in formats:
        keras_path = workdir / f"{PRESET}.keras"
        model.save(keras_path)
        files["keras"] = {"path": str(keras_path), "size_bytes": keras_path.stat().st_size,
                          "seconds": None}
    with ModelExporter(model, data=data_root, calibration_faces=calibration_faces,
                       preset=PRESET) as ex:
        for key, (spec, label) in FORMATS.items():
            if spec is None or key not in formats:
                continue
            spec = ExportSpec(**spec)
            log(f"export {spec.label}")
            rec = ex.export(spec, workdir / spec.filename(PRESET), parity=False)
            files[key] = {"path": rec["path"], "size_bytes": rec["size_bytes"],
                          "seconds": round(rec["seconds"], 1)}
    return files


def nme_of_runner(runner, crops, gt_crop, batch: int = 16) -> dict:
    from lponet_tf.heatmaps import decode_heatmaps
    from lponet_tf.metrics import nme

    preds = []
    for i in range(0, len(crops), batch):
        out = runner(crops[i : i + batch])
        preds.append(decode_heatmaps(out["heatmaps"])[0])
    pred = np.concatenate(preds)
    err = nme(pred, gt_crop, "inter_ocular").per_image
    return {"per_image": err.tolist(), **summarize_nme(err)}


def summarize_nme(err) -> dict:
    err = np.asarray(err, np.float64)
    return {"mean": float(err.mean()), "median": float(np.median(err)),
            "failure_rate_10": float((err > 10).mean()), "n": int(err.size)}


# --------------------------------------------------------------------------------------
# Timing worker (a subprocess per thread count, so TensorFlow's pools get the setting)
# --------------------------------------------------------------------------------------
def _tflite_callable(path, threads, sample):
    from ai_edge_litert.interpreter import Interpreter

    from lponet_tf.runtime.tflite_runner import quantize

    it = Interpreter(model_path=str(path), num_threads=threads)
    inp = it.get_input_details()[0]
    shape = [1] + list(inp["shape"][1:])
    if list(inp["shape"]) != shape:
        it.resize_tensor_input(inp["index"], shape)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    outs = [o["index"] for o in it.get_output_details()]

    def prep(x):  # an app hands the model its native input type; not timed
        x = np.asarray(x, np.float32)[None]
        return quantize(x, inp) if np.issubdtype(inp["dtype"], np.integer) else x

    def call(x):
        it.set_tensor(inp["index"], x)
        it.invoke()
        return [it.get_tensor(o) for o in outs]

    return prep, call, {"input": [int(v) for v in inp["shape"]],
                        "input_dtype": np.dtype(inp["dtype"]).name, "outputs": len(outs)}


def _onnx_callable(path, threads):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def call(x):
        return sess.run(None, {name: x})

    return (lambda x: np.asarray(x, np.float32)[None]), call, {"onnxruntime": ort.__version__}


def _keras_callable(path):
    import keras
    import tensorflow as tf

    from lponet_tf.runtime.keras_runner import load_keras_model
    from lponet_tf.model import inference_model

    model = inference_model(load_keras_model(path))
    size = model.lponet_config.input_size
    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                     input_signature=[tf.TensorSpec((1, size, size, 3), tf.float32)])

    def call(x):
        out = fn(x)
        return [v.numpy() for v in out.values()]

    return (lambda x: tf.constant(np.asarray(x, np.float32)[None])), call, {
        "tensorflow": tf.__version__, "keras": keras.__version__}


def _prepost_callable(size):
    """Per-face work around the model: crop warp from the region image + heatmap decode."""
    from lponet_tf.heatmaps import decode_heatmaps
    from lponet_tf.codec.crop import crop_face

    rng = np.random.default_rng(0)
    heat = rng.random((1, size // 4, size // 4, 68)).astype(np.float32)
    c, half = REGION_SIZE / 2, REGION_SIZE / REGION_SCALE / 1.2 / 2
    box = np.array([c - half, c - half, c + half, c + half])  # the face's tight box

    def call(region):
        crop, t = crop_face(region, box, size)
        xy, _ = decode_heatmaps(heat)
        return t.to_image(xy[0])

    return (lambda x: x), call, {}


def timing_worker(manifest_path: str, threads: int, output: str) -> int:
    """Time every model of the manifest at batch 1 with ``threads`` threads.

    Rounds interleave the models (each round runs every model once over every face), so a
    change of machine load touches all of them alike; the result keeps every call's ms.
    """
    manifest = json.loads(pathlib.Path(manifest_path).read_text())
    if "keras" in manifest["models"]:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    import cv2

    cv2.setNumThreads(threads)
    data = np.load(manifest["faces"])
    crops, regions = data["crops"], data["regions"]
    engines, info = {}, {}
    for key, spec in manifest["models"].items():
        kind = spec["kind"]
        if kind == "keras":
            prep, call, meta = _keras_callable(spec["path"])
            inputs = crops
        elif kind == "tflite":
            prep, call, meta = _tflite_callable(spec["path"], threads, None)
            inputs = crops if spec.get("input") != "mediapipe" else None
        elif kind == "onnx":
            prep, call, meta = _onnx_callable(spec["path"], threads)
            inputs = crops
        elif kind == "prepost":
            prep, call, meta = _prepost_callable(manifest["input_size"])
            inputs = regions
        else:
            raise ValueError(kind)
        if inputs is None:  # a MediaPipe model: the region image resized to its input
            import cv2 as _cv2

            side = meta["input"][1]
            scale = spec.get("scale", 1 / 255.0)
            offset = spec.get("offset", 0.0)
            inputs = np.stack([_cv2.resize(r, (side, side), interpolation=_cv2.INTER_AREA)
                               for r in regions]).astype(np.float32) * scale + offset
        xs = [prep(x) for x in inputs]
        for _ in range(manifest["warmup"]):
            call(xs[0])
        engines[key] = (call, xs)
        info[key] = meta
    times = {k: [] for k in engines}
    clock = time.perf_counter
    for _ in range(manifest["rounds"]):
        for key, (call, xs) in engines.items():
            bucket = times[key]
            for x in xs:
                t0 = clock()
                call(x)
                bucket.append((clock() - t0) * 1e3)
    pathlib.Path(output).write_text(json.dumps(
        {"threads": threads, "cpus": cpu_list(), "times": times, "info": info,
         "loadavg_end": loadavg()}))
    return 0


def mediapipe_models() -> dict:
    """The bundled ``.tflite`` files of the mediapipe venv (without importing it here)."""
    found = {}
    for sub, name in (("face_landmark", "face_landmark.tflite"),
                      ("face_detection", "face_detection_short_range.tflite")):
        hits = sorted(PEERS.glob(f"mediapipe/lib/python*/site-packages/mediapipe/modules/{sub}/{name}"))
        if hits:
            found[name] = str(hits[0])
    return found


# --------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------
def run_json(cmd, output, log_path, timeout=None) -> dict:
    log("$ " + " ".join(str(c) for c in cmd))
    with open(log_path, "a") as lf:
        proc = subprocess.run([str(c) for c in cmd], stdout=lf, stderr=subprocess.STDOUT,
                              cwd=REPO, timeout=timeout)
    if proc.returncode != 0:
        tail = pathlib.Path(log_path).read_text()[-3000:]
        raise RuntimeError(f"{cmd[0]} ... failed (exit {proc.returncode}):\n{tail}")
    return json.loads(pathlib.Path(output).read_text())


def machine_info() -> dict:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def portable_paths(obj, workdir: pathlib.Path):
    """``obj`` with this machine's paths made relative: the results file is committed.

    Files in the (temporary) work folder become ``<workdir>/name``, others are written
    relative to the repository (``.venv-peers/...``, ``../data``).
    """
    if isinstance(obj, dict):
        return {k: portable_paths(v, workdir) for k, v in obj.items()}
    if isinstance(obj, list):
        return [portable_paths(v, workdir) for v in obj]
    if isinstance(obj, str) and os.path.isabs(obj) and os.path.exists(obj):
        path = pathlib.Path(obj).resolve()
        if path.is_relative_to(workdir.resolve()):
            return "<workdir>/" + str(path.relative_to(workdir.resolve()))
        return os.path.relpath(path, REPO)
    return obj


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--output", default="out/peers.json", help="results JSON")
    ap.add_argument("--markdown", default=None, help="Markdown table (default: .md beside --output)")
    ap.add_argument("--data", default=str(data_root() / "300w"),
                    help="a 300W-format folder (default: $LPONET_SHARED_DATA/300w)")
    ap.add_argument("--faces", type=int, default=None, help="validation faces (default: all)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="timing rounds over all faces per engine and thread count")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--pin-cpu", type=int, default=None,
                    help="CPU for the 1-thread runs (default: the last allowed one)")
    ap.add_argument("--calibration-faces", type=int, default=200,
                    help="training faces for int8 calibration (the export default)")
    ap.add_argument("--random-weights", action="store_true",
                    help="debug: the preset's architecture without its weights")
    ap.add_argument("--skip", default="", help="comma list: dlib, mediapipe, ours")
    ap.add_argument("--formats", default=",".join(FORMATS),
                    help="our formats, comma list of: " + ", ".join(FORMATS))
    ap.add_argument("--workdir", default=None, help="keep exports and worker files here")
    ap.add_argument("--_time-worker", nargs=3, metavar=("MANIFEST", "THREADS", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._time_worker:
        m, t, o = args._time_worker
        return timing_worker(m, int(t), o)

    started = time.time()
    out_json = pathlib.Path(args.output)
    out_md = pathlib.Path(args.markdown) if args.markdown else out_json.with_suffix(".md")
    out_json.parent.mkdir(parents=True, exist_ok=True)
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="bench_peers_"))
    workdir.mkdir(parents=True, exist_ok=True)
    worker_log = workdir / "workers.log"
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise SystemExit(f"unknown --formats {sorted(unknown)}; choose from {list(FORMATS)}")
    threads_list = [int(t) for t in args.threads.split(",")]
    pin_cpu = args.pin_cpu if args.pin_cpu is not None else cpu_list()[-1]
    result = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(), "loadavg": {"start": loadavg()},
        "command": " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
        "settings": {"repeats": args.repeats, "threads": threads_list, "pin_cpu": pin_cpu,
                     "calibration_faces": args.calibration_faces,
                     "random_weights": args.random_weights, "region_size": REGION_SIZE},
    }

    from lponet_tf.presets import from_preset, get_preset

    preset = get_preset(PRESET)
    if not args.random_weights and not preset.has_weights:
        raise SystemExit(f"{preset.weights_path} does not exist yet: train it, or debug with "
                         "--random-weights")
    model = from_preset(PRESET, load_weights=not args.random_weights)
    size = preset.config.input_size
    result["model"] = {
        "preset": PRESET, "input_size": size, "channels": preset.config.channels,
        "params": int(model.count_params()),
        "weights": None if args.random_weights else {
            "file": os.path.relpath(preset.weights_path, REPO),
            "sha256": sha256(preset.weights_path)},
    }

    log(f"validation faces from {args.data}")
    faces = prepare_faces(args.data, args.faces, size)
    n = len(faces["crops"])
    result["faces"] = {"n": n, "val_total": faces["val_total"], "data": args.data,
                       "split": "holdout_split(records, 0.15, seed=0, part='val')"}
    faces_npz = workdir / "faces.npz"
    np.savez(faces_npz, **{k: v for k, v in faces.items() if k != "val_total"})
    log(f"{n} faces -> {faces_npz}; load {loadavg()}")

    # (a) ours: exports, NME, timing ------------------------------------------------
    if "ours" not in skip:
        files = export_all(model, workdir, args.data, args.calibration_faces, formats)
        result["ours"] = {"files": files, "nme": {}}
        from lponet_tf.runtime import load_runner

        for key, f in files.items():
            runner = load_runner(model, preset=PRESET) if key == "keras" else load_runner(f["path"])
            result["ours"]["nme"][key] = nme_of_runner(runner, faces["crops"], faces["gt_crop"])
            log(f"NME {key}: {result['ours']['nme'][key]['mean']:.3f}%")
    mp_files = mediapipe_models() if "mediapipe" not in skip else {}
    models = {}
    if "ours" not in skip:
        for key, f in result["ours"]["files"].items():
            kind = "keras" if key == "keras" else ("onnx" if key == "onnx" else "tflite")
            models[key] = {"kind": kind, "path": f["path"]}
        models["prepost"] = {"kind": "prepost"}
    if "face_landmark.tflite" in mp_files:  # MediaPipe's face mesh: input 0..1
        models["mp_landmark"] = {"kind": "tflite", "input": "mediapipe",
                                 "path": mp_files["face_landmark.tflite"]}
    if "face_detection_short_range.tflite" in mp_files:  # BlazeFace: input -1..1
        models["mp_detector"] = {"kind": "tflite", "input": "mediapipe", "scale": 2 / 255.0,
                                 "offset": -1.0, "path": mp_files["face_detection_short_range.tflite"]}
    manifest = workdir / "manifest.json"
    manifest.write_text(json.dumps({"faces": str(faces_npz), "models": models,
                                    "rounds": args.repeats, "warmup": 10,
                                    "input_size": size}))
    result["timing"] = {}
    if models:
        for t in threads_list:
            out = workdir / f"timing_{t}.json"
            cmd = pinned([sys.executable, __file__, "--_time-worker", manifest, t, out], t, pin_cpu)
            result["loadavg"][f"ours_{t}_start"] = loadavg()
            res = run_json(cmd, out, worker_log)
            result["timing"][f"threads_{t}"] = {
                "cpus": res["cpus"], "info": res["info"],
                "stats": {k: stats(v) for k, v in res["times"].items()}}
            log(f"timing {t} thread(s): " + ", ".join(
                f"{k} {v['median']:.2f}" for k, v in result["timing"][f"threads_{t}"]["stats"].items()))

    # (b) dlib ------------------------------------------------------------------------
    if "dlib" not in skip:
        if not DLIB_PY.exists():
            raise SystemExit("no .venv-peers/dlib: run bash benchmarks/setup_peers.sh")
        dlib_in = workdir / "dlib_faces.npz"
        np.savez(dlib_in, paths=faces["paths"], box_same=faces["box_same"],
                 box_tight=faces["box_tight"], regions=faces["regions"],
                 region_to_image=faces["region_to_image"])
        out = workdir / "dlib.json"
        result["loadavg"]["dlib_start"] = loadavg()
        res = run_json(pinned([DLIB_PY, WORKERS / "dlib_worker.py", dlib_in, out,
                               "--repeats", max(4 * args.repeats, 4),
                               "--detect-repeats", max(args.repeats, 2)], 1, pin_cpu),
                       out, worker_log)
        from lponet_tf.metrics import nme

        d = {"info": res["info"], "timing": {k: stats(v) for k, v in res["timing"].items()},
             "nme": {}}
        gt = faces["gt_image"]
        for kind, preds in res["predictions"].items():
            ok = np.array([p is not None for p in preds])
            if not ok.any():
                continue
            p = np.array([p for p in preds if p is not None], np.float64)
            err = nme(p, gt[ok], "inter_ocular").per_image
            entry = {"per_image": err.tolist(), "detected": int(ok.sum()), **summarize_nme(err)}
            ref = next(iter(result.get("ours", {}).get("nme", {}).values()), None)
            if not ok.all() and ref is not None:  # ours on the same subset
                ours = np.asarray(ref["per_image"])[ok]
                entry["ours_same_subset"] = summarize_nme(ours)
            d["nme"][kind] = entry
        result["dlib"] = d
        log(f"dlib: predictor {d['timing']['predictor'].get('median', float('nan')):.2f} ms, "
            f"NME " + ", ".join(f"{k} {v['mean']:.3f}" for k, v in d["nme"].items()))

    # (c) MediaPipe graph ---------------------------------------------------------------
    if "mediapipe" not in skip:
        if not MP_PY.exists():
            raise SystemExit("no .venv-peers/mediapipe: run bash benchmarks/setup_peers.sh")
        mp_in = workdir / "mp_faces.npz"
        np.savez(mp_in, regions=faces["regions"])
        result["mediapipe"] = {}
        for t in threads_list:
            out = workdir / f"mediapipe_{t}.json"
            result["loadavg"][f"mediapipe_{t}_start"] = loadavg()
            res = run_json(pinned([MP_PY, WORKERS / "mediapipe_worker.py", mp_in, out,
                                   "--repeats", max(2 * args.repeats, 2)], t, pin_cpu),
                           out, worker_log)
            result["mediapipe"][f"threads_{t}"] = {
                "info": res["info"], "found": res["found"],
                "timing": {k: stats(v) for k, v in res["timing"].items()}}
            log(f"mediapipe {t}: " + ", ".join(
                f"{k} {v['median']:.2f} ms" for k, v in
                result["mediapipe"][f"threads_{t}"]["timing"].items()))

    result["loadavg"]["end"] = loadavg()
    result["seconds"] = round(time.time() - started, 1)
    result = portable_paths(result, workdir)
    out_json.write_text(json.dumps(result, indent=1))
    out_md.write_text(markdown(result))
    log(f"wrote {out_json} and {out_md} ({result['seconds']} s)")
    print(out_md.read_text())
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------
def fmt(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def markdown(r: dict) -> str:
    threads = r["settings"]["threads"]
    head = "| engine | what is run | outputs | " + " | ".join(
        f"ms/face, {t} thread{'s' if t > 1 else ''}" for t in threads) + " | NME % (inter-ocular) | file |"
    rows = [head, "|" + "---|" * (5 + len(threads))]

    def t_of(key, t):
        return r.get("timing", {}).get(f"threads_{t}", {}).get("stats", {}).get(key, {}).get("median")

    ours = r.get("ours", {})
    all3 = "68 lm + pose + mask"
    for key, (_, label) in FORMATS.items():
        if key not in ours.get("files", {}):
            continue
        f = ours["files"][key]
        nme_v = ours["nme"].get(key, {}).get("mean")
        rows.append(f"| lponet_lite | {label} | {all3} | "
                    + " | ".join(fmt(t_of(key, t)) for t in threads)
                    + f" | {fmt(nme_v)} | {f['size_bytes'] / 2**20:.2f} MiB |")
    if any(t_of("prepost", t) is not None for t in threads):
        rows.append("| lponet_lite | + crop warp and heatmap decode (numpy/OpenCV, per face) | | "
                    + " | ".join(fmt(t_of("prepost", t)) for t in threads) + " | | |")
    d = r.get("dlib")
    if d:
        nm = d["nme"]
        n = r["faces"]["n"]
        pred = d["timing"]["predictor"].get("median")
        rows.append(f"| dlib {d['info']['dlib']} | 68-point shape predictor, the same box as ours "
                    f"| 68 lm | {fmt(pred)} | (single-threaded) | {fmt(nm.get('same', {}).get('mean'))} "
                    f"| {d['info']['model_bytes'] / 2**20:.1f} MiB |")
        if "tight" in nm:
            rows.append("| dlib | shape predictor, tight landmark box (no margin) | 68 lm | | | "
                        f"{fmt(nm['tight']['mean'])} | |")
        if "hog" in nm:
            h = nm["hog"]
            ours_sub = (h.get("ours_same_subset") or h.get("ours_keras_same_subset", {})).get("mean")
            extra = f"; ours on the same {h['detected']}: {fmt(ours_sub)}" if ours_sub is not None else ""
            rows.append(f"| dlib | shape predictor, dlib's own HOG box ({h['detected']}/{n} "
                        f"faces found) | 68 lm | | | {fmt(h['mean'])}{extra} | |")
        det = d["timing"].get("hog_detect_predict", {}).get("median")
        rows.append(f"| dlib | HOG detection + predictor, {r['settings']['region_size']} px "
                    f"region | box + 68 lm | {fmt(det)} | (single-threaded) | | |")
    mp = r.get("mediapipe")
    mp_info = next(iter(mp.values()))["info"] if mp else {}
    mp_sizes = {k: f"{v['bytes'] / 2**20:.2f} MiB" for k, v in mp_info.get("models", {}).items()}
    if any(t_of("mp_landmark", t) is not None for t in threads):
        rows.append("| MediaPipe | `face_landmark.tflite` alone in LiteRT (our harness) | 468 lm | "
                    + " | ".join(fmt(t_of("mp_landmark", t)) for t in threads)
                    + f" | n/a | {mp_sizes.get('face_landmark.tflite', '')} |")
    if any(t_of("mp_detector", t) is not None for t in threads):
        rows.append("| MediaPipe | `face_detection_short_range.tflite` alone in LiteRT | boxes | "
                    + " | ".join(fmt(t_of("mp_detector", t)) for t in threads)
                    + f" | n/a | {mp_sizes.get('face_detection_short_range.tflite', '')} |")
    if mp:
        ver = mp_info["mediapipe"]

        def m_of(mode, t):
            return mp.get(f"threads_{t}", {}).get("timing", {}).get(mode, {}).get("median")

        def found(mode):
            counts = [v["found"].get(mode) for v in mp.values() if mode in v["found"]]
            return f"{min(counts)}/{r['faces']['n']}" if counts else "?"

        rows.append(f"| MediaPipe {ver} | Face Mesh graph, tracking: landmark model only "
                    f"({found('tracking')} faces kept) | 468 lm | "
                    + " | ".join(fmt(m_of("tracking", t)) for t in threads) + " | n/a | |")
        rows.append(f"| MediaPipe {ver} | Face Mesh graph, detection + landmarks every call "
                    f"({found('detect_landmarks')} faces found), {mp_info['region_size']} px region"
                    " | box + 468 lm | "
                    + " | ".join(fmt(m_of("detect_landmarks", t)) for t in threads) + " | n/a | |")

    la = r["loadavg"]
    lines = [
        f"Measured {r['date_utc']} on {r['machine']['cpu']} ({r['machine']['cpus']} CPUs), "
        f"{r['faces']['n']} validation faces of 300W (of {r['faces']['val_total']}; "
        f"{r['faces']['split']}), batch 1, medians over "
        f"{r['settings']['repeats']} rounds over all faces. Load average (1/5/15 min) at the "
        f"start {la['start']}, at the end {la['end']}."
        + (" **Random weights (debug run): NME meaningless.**" if r["settings"]["random_weights"] else ""),
        "",
        *rows,
        "",
    ]
    # Target line
    target_t = 2 if 2 in threads else threads[-1]
    mp_lm = t_of("mp_landmark", target_t)
    mp_tr = (mp or {}).get(f"threads_{target_t}", {}).get("timing", {}).get("tracking", {}).get("median")
    for key in ("tflite_int8", "tflite_int8_asset"):
        ours_int8 = t_of(key, target_t)
        if ours_int8 is None:
            continue
        verdict = "meets" if ours_int8 <= 2.5 else "misses"
        lines.append(
            f"Target (issue 15): int8 <= 2.5 ms per face with {target_t} threads; {FORMATS[key][1]}: "
            f"**{fmt(ours_int8)} ms, {verdict} it**; MediaPipe's landmark-only model in the same "
            f"run: {fmt(mp_lm)} ms alone in LiteRT, {fmt(mp_tr)} ms as its tracking graph.")
        lines.append("")
    lines.append(f"Command: `{r['command']}` ({r['seconds']} s).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
