#!/usr/bin/env python
"""Latency, size, memory and parity of every export format of one or more LPONets.

For each model (``--preset``, ``--model`` file, or ``--config`` JSON for an untrained
architecture) and each format (TFLite fp32 / fp16 / dynamic / int8 (uint8 I/O) /
int8 with the pose head in float / QAT int8, ONNX fp32), exported with the project's own
code (:class:`lponet_tf.export.pipeline.ModelExporter`), it measures

* the file size;
* ms per face at batch 1: the median of ``--runs`` calls (after warm-up) through the
  runner the app would use (``ai_edge_litert`` or ``onnxruntime``), with 1 and 2 threads;
* the peak RSS of a fresh process that loads the model and analyses one face (runner +
  heatmap decoding; no TensorFlow imported);
* achieved MAC/s (the model's MACs counted from its Keras graph, :mod:`lponet_tf.export.macs`)
  and its share of this CPU's peak, measured in the same run with large fp32 and int8
  matrix products in LiteRT and onnxruntime (the best of the two per type and thread
  count). int8 and dynamic-range models are compared with the int8 peak, the others with
  fp32;
* with ``--data``: parity against the Keras model on the validation faces (landmark px,
  pose degrees, mask agreement, NME delta), as in ``lponet export``'s report.

Output: a Markdown table on stdout and in ``--out`` (plus ``.json``).

    .venv/bin/python benchmarks/bench_export.py --preset lponet_lite \\
        --data /data/300w --out benchmarks/results/export_lponet_lite.md

Quick check on a small untrained model (no parity, a few runs):

    .venv/bin/python benchmarks/bench_export.py \\
        --config '{"input_size": 64, "channels": 32, "hourglass_depth": 2}' \\
        --formats tflite-fp32,tflite-dynamic,onnx --runs 20
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: format key -> ExportSpec arguments. int8 uses uint8 I/O: what a camera frame is (its pose
#: head is float in every int8 file: lponet_tf/export/int8.py).
FORMATS = {
    "tflite-fp32": dict(format="tflite", quantize="none"),
    "tflite-fp16": dict(format="tflite", quantize="fp16"),
    "tflite-dynamic": dict(format="tflite", quantize="dynamic"),
    "tflite-int8": dict(format="tflite", quantize="int8", io_dtype="uint8"),
    "tflite-int8-posepath": dict(format="tflite", quantize="int8", io_dtype="uint8",
                                 keep_float=("pose_path",)),
    # the Android asset's kind: an int8 input, float outputs (the rotation unrounded)
    "tflite-int8-posepath-floatout": dict(format="tflite", quantize="int8", io_dtype="int8",
                                          keep_float=("pose_path",), float_outputs=True),
    "tflite-int16x8": dict(format="tflite", quantize="int16x8"),
    "tflite-qat": dict(format="tflite", quantize="qat", io_dtype="uint8"),
    "onnx": dict(format="onnx", quantize="none"),
}
DEFAULT_FORMATS = ",".join(FORMATS)
INT8_PEAK = ("dynamic", "int8", "int16x8", "qat")  # integer kernels: the int8 peak

# VmHWM (this process's own peak RSS), not getrusage's ru_maxrss: Linux carries
# ru_maxrss across fork + exec, so a child of this (TensorFlow-sized) process would report
# the parent's peak.
RSS_PROBE = """
import json, sys
import numpy as np
from lponet_tf.runtime import load_runner
from lponet_tf.heatmaps import decode_heatmaps
runner = load_runner(sys.argv[1], threads=1)
face = np.load(sys.argv[2])
decode_heatmaps(runner(face)["heatmaps"])
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"rss_mib": int(hwm) / 1024, "tensorflow": "tensorflow" in sys.modules}))
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timings_ms(fn, runs: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000.0 * np.asarray(times)


def median_ms(fn, runs: int, warmup: int) -> float:
    return float(np.median(timings_ms(fn, runs, warmup)))


def best_ms(fn, runs: int, warmup: int) -> float:
    """Fastest call: the peak is what the CPU can do when the neighbours let it."""
    return float(np.min(timings_ms(fn, runs, warmup)))


# -- the CPU's peak ------------------------------------------------------------------
def _onnx_matmul(m: int, k: int, n: int, int8: bool) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if int8:
        w = numpy_helper.from_array(rng.integers(-127, 127, (k, n), dtype=np.int8), "w")
        node = helper.make_node("MatMulInteger", ["x", "w"], ["y"])
        x = helper.make_tensor_value_info("x", TensorProto.UINT8, [m, k])
        y = helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])
    else:
        w = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w")
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])
    graph = helper.make_graph([node], "matmul", [x], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def _tflite_matmul(m: int, k: int, n: int, int8: bool) -> bytes:
    import tensorflow as tf

    dense = tf.keras.Sequential([tf.keras.Input((k,), batch_size=m),
                                 tf.keras.layers.Dense(n, use_bias=False)])
    converter = tf.lite.TFLiteConverter.from_keras_model(dense)
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.standard_normal((m, k)).astype(np.float32)] for _ in range(4))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def measure_peak(threads_list, runs: int, size=(256, 1024, 1024)) -> dict:
    """``{"fp32"|"int8": {threads: {"gmacs": best, "by": {runtime: gmacs}}}}``."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    m, k, n = size
    macs = m * k * n
    out = {}
    for dtype in ("fp32", "int8"):
        int8 = dtype == "int8"
        onnx_model, tfl_model = _onnx_matmul(m, k, n, int8), _tflite_matmul(m, k, n, int8)
        out[dtype] = {}
        for threads in threads_list:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
            sess = ort.InferenceSession(onnx_model, opts, providers=["CPUExecutionProvider"])
            x = (np.random.default_rng(1).integers(0, 255, (m, k)).astype(np.uint8) if int8
                 else np.random.default_rng(1).standard_normal((m, k)).astype(np.float32))
            ort_ms = best_ms(lambda: sess.run(None, {"x": x}), runs, 3)
            interp = Interpreter(model_content=tfl_model, num_threads=threads)
            interp.allocate_tensors()
            inp = interp.get_input_details()[0]
            interp.set_tensor(inp["index"], (x.astype(np.int16) - 128).astype(np.int8)
                              if int8 else x)
            tfl_ms = best_ms(interp.invoke, runs, 3)
            by = {"onnxruntime": macs / ort_ms / 1e6, "litert": macs / tfl_ms / 1e6}
            out[dtype][threads] = {"gmacs": max(by.values()), "by": by}
            log(f"peak {dtype} {threads} thread(s): "
                + ", ".join(f"{r} {v:.1f} GMAC/s" for r, v in by.items()))
    return out


# -- models ------------------------------------------------------------------------------
def load_models(args):
    """``[(name, keras model, preset or None)]`` from --preset / --model / --config."""
    from lponet_tf.presets import PRESETS, from_preset, get_preset

    models = []
    names = list(PRESETS) if "all" in args.preset else args.preset
    for name in names:
        weights = get_preset(name).has_weights
        if not weights:
            log(f"preset {name} has no bundled weights: random weights (latency only)")
        models.append((name, from_preset(name, load_weights=weights), name))
    for path in args.model:
        from lponet_tf.runtime.keras_runner import load_keras_model

        models.append((pathlib.Path(path).stem, load_keras_model(path), None))
    for text in args.config:
        import keras

        from lponet_tf.config import LPONetConfig
        from lponet_tf.model import LPONet

        keras.utils.set_random_seed(0)
        cfg = LPONetConfig.from_dict(json.loads(text))
        label = "config " + ",".join(f"{k}={v}" for k, v in json.loads(text).items())
        models.append((label, LPONet(cfg, include_intermediate=False), None))
    if not models:
        raise SystemExit("give at least one --preset, --model or --config")
    return models


def one_face(exporter, data) -> np.ndarray:
    size = exporter.input_size
    if data:
        return exporter.validation().images[:1]
    return np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)


def bench_model(name, model, preset, args, workdir: pathlib.Path, peak: dict) -> list:
    from lponet_tf.export.macs import count_macs
    from lponet_tf.export.pipeline import ExportSpec, ModelExporter
    from lponet_tf.runtime import load_runner

    macs = count_macs(model)["total"]
    rows = []
    qat = dict(steps=args.qat_steps, faces=args.qat_faces)
    with ModelExporter(model, data=args.data, calibration_faces=args.calibration_faces,
                       eval_faces=args.eval_faces, preset=preset, qat_options=qat) as ex:
        face = one_face(ex, args.data)
        face_path = workdir / f"{abs(hash(name))}_face.npy"
        np.save(face_path, face)
        for key in args.formats.split(","):
            spec = ExportSpec(**FORMATS[key])
            if spec.quantize in ("int8", "int16x8", "qat") and not args.data:
                log(f"{name} {key}: skipped (int8 calibration needs --data)")
                continue
            log(f"{name}: export {spec.label}")
            path = workdir / spec.filename(name.replace(" ", "_").replace("/", "-")[:60])
            record = ex.export(spec, path, parity=bool(args.data) and not args.no_parity)
            row = {"model": name, "format": key, "label": spec.label, "macs": macs,
                   "command": export_command(spec, preset, model_path(model, args, name),
                                             args, path),
                   "size_bytes": record["size_bytes"], "parity": record["parity"],
                   "export_seconds": record["seconds"], "ms": {}, "gmacs": {}, "of_peak": {}}
            for threads in args.threads:
                with load_runner(path, threads=threads) as runner:
                    row["ms"][threads] = median_ms(lambda: runner(face), args.runs, args.warmup)
                dtype = "int8" if spec.quantize in INT8_PEAK else "fp32"
                row["gmacs"][threads] = macs / row["ms"][threads] / 1e6
                row["of_peak"][threads] = row["gmacs"][threads] / peak[dtype][threads]["gmacs"]
            # Absolute: the probe runs in the repository, a relative --workdir is the caller's.
            probe = subprocess.run([sys.executable, "-c", RSS_PROBE, str(path.resolve()),
                                    str(face_path.resolve())],
                                   capture_output=True, text=True, cwd=REPO, timeout=300)
            if probe.returncode:
                raise RuntimeError(f"RSS probe failed: {probe.stderr[-1500:]}")
            row.update(json.loads(probe.stdout.strip().splitlines()[-1]))
            if row["tensorflow"]:
                raise RuntimeError("the RSS probe imported TensorFlow: runtime not lean")
            log(f"{name} {key}: " + ", ".join(f"{t} thr {row['ms'][t]:.2f} ms"
                                                for t in args.threads)
                + f", {row['rss_mib']:.0f} MiB RSS")
            rows.append(row)
    return rows


def model_path(model, args, name):
    """The .keras file a row's model came from (None for presets and configs)."""
    for path in args.model:
        if pathlib.Path(path).stem == name:
            return path
    return None


def export_command(spec, preset, path, args, output) -> str:
    """The ``lponet export`` line that writes this row's file and its parity report."""
    from lponet_tf.export.tflite import CALIBRATED_MODES

    if preset is None and path is None:
        return ""  # an untrained --config model has no file to export from
    cmd = ["lponet", "export"] + (["--preset", preset] if preset else ["--model", path])
    cmd += ["--format", spec.format, "--quantize", spec.quantize]
    if spec.io_dtype != "float32":
        cmd += ["--io-dtype", spec.io_dtype]
    if spec.float_outputs:
        cmd += ["--float-outputs"]
    for group in spec.keep_float:
        cmd += ["--keep-float", group]
    if args.data:
        cmd += ["--data", args.data]
        if spec.quantize in CALIBRATED_MODES:
            cmd += ["--calibration-faces", str(args.calibration_faces)]
        if args.eval_faces:
            cmd += ["--eval-faces", str(args.eval_faces)]
    if args.no_parity:
        cmd += ["--no-parity"]
    if spec.quantize == "qat":
        cmd += ["--qat-steps", str(args.qat_steps), "--qat-faces", str(args.qat_faces)]
    return shlex.join(cmd + ["--output", f"out/{pathlib.Path(output).name}"])


# -- output ------------------------------------------------------------------------------
def render(rows, peak, args, cpu: str, load=None) -> str:
    t = args.threads
    lines = [
        f"# Export benchmark ({datetime.date.today()})", "",
        f"CPU: {cpu}, {os.cpu_count()} cores visible (shared machine: medians of "
        f"{args.runs} calls after {args.warmup} warm-up, batch 1)."
        + (" Load average (1/5/15 min) at the start {}, at the end {}.".format(*load)
           if load else ""),
        "Measured peak (fastest of many calls, best of LiteRT / onnxruntime, {}x{}x{} "
        "matmul): ".format(*args.peak_size)
        + "; ".join(f"{d} {th} thr {peak[d][th]['gmacs']:.1f} GMAC/s"
                    for d in ("fp32", "int8") for th in t) + ".",
        "RSS: peak resident memory of a fresh process that loads the model and analyses one "
        "face (runner + heatmap decoding; TensorFlow not imported).", "",
    ]
    per = " / ".join(str(th) for th in t) + " thr"
    head = ["model", "format", "size MiB"] + [f"ms/face {th} thr" for th in t] + [
        "RSS MiB", f"GMAC/s ({per})", f"% of peak ({per})"]
    parity = args.data and not args.no_parity
    if parity:
        head += ["landmarks px (mean)", "pose ° (mean)", "mask agree", "ΔNME"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], r["label"], f"{r['size_bytes'] / 2**20:.2f}"]
        cells += [f"{r['ms'][th]:.2f}" for th in t]
        cells += [f"{r['rss_mib']:.0f}",
                  " / ".join(f"{r['gmacs'][th]:.1f}" for th in t),
                  " / ".join(f"{100 * r['of_peak'][th]:.0f}%" for th in t)]
        p = r.get("parity")
        if parity:
            cells += ([f"{p['landmark_px_mean']:.3f}", f"{p['pose_deg_mean']:.3f}",
                       f"{100 * p['mask_agreement']:.2f}%", f"{p['nme_delta']:+.3f}"]
                      if p else ["", "", "", ""])
        lines.append("| " + " | ".join(cells) + " |")
    macs = {r["model"]: r["macs"] for r in rows}
    lines += ["", "MACs per face: " + "; ".join(f"{m} {v / 1e9:.3f} G" for m, v in macs.items())
              + ".", "", "This table:", "", "```", "python " + shlex.join(sys.argv), "```"]
    commands = [f"{r['label']}: `{r['command']}`" for r in rows if r["command"]]
    if commands:
        lines += ["", "Each row's file and parity report alone:", ""]
        lines += [f"- {c}" for c in commands]
    return "\n".join(lines) + "\n"


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", action="append", default=[],
                    help="preset name (repeatable), or 'all' for every preset")
    ap.add_argument("--model", action="append", default=[], help=".keras file (repeatable)")
    ap.add_argument("--config", action="append", default=[],
                    help="LPONetConfig JSON, random weights (repeatable)")
    ap.add_argument("--formats", default=DEFAULT_FORMATS,
                    help=f"comma-separated from {', '.join(FORMATS)}")
    ap.add_argument("--data", help="face folder: int8 calibration, QAT and parity")
    ap.add_argument("--no-parity", action="store_true",
                    help="calibrate on --data but skip parity (untrained weights)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--calibration-faces", type=int, default=200)
    ap.add_argument("--eval-faces", type=int, default=None)
    ap.add_argument("--qat-steps", type=int, default=300)
    ap.add_argument("--qat-faces", type=int, default=400)
    ap.add_argument("--peak-size", type=int, nargs=3, default=[256, 1024, 1024],
                    metavar=("M", "K", "N"))
    ap.add_argument("--workdir", help="keep the exported files here")
    ap.add_argument("--out", help="write the Markdown table here (and .json beside it)")
    args = ap.parse_args(argv)
    unknown = set(args.formats.split(",")) - set(FORMATS)
    if unknown:
        ap.error(f"unknown formats {sorted(unknown)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="lponet_bench_export_"))
    workdir.mkdir(parents=True, exist_ok=True)
    # the machine is shared: the load beside the timings says how far to trust them
    load = [[round(v, 2) for v in os.getloadavg()]]
    peak = measure_peak(args.threads, max(20, args.runs // 2), tuple(args.peak_size))
    rows = []
    for name, model, preset in load_models(args):
        rows += bench_model(name, model, preset, args, workdir, peak)
    load.append([round(v, 2) for v in os.getloadavg()])
    text = render(rows, peak, args, cpu_name(), load)
    print(text)
    if args.out:
        out = pathlib.Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps(
            {"rows": rows, "peak": peak, "argv": sys.argv, "cpu": cpu_name(), "load_avg": load}, indent=2,
            default=str), encoding="utf-8")
        log(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
