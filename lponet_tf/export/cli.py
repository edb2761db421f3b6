"""``lponet export``: write a TFLite / ONNX model plus its parity report.

Examples::

    lponet export --preset lponet_lite --format tflite --quantize int8 \\
        --data /data/300w --output out/lponet_lite_int8.tflite
    lponet export --model run/model.keras --format onnx --output out/model.onnx \\
        --data /data/300w
    lponet export --model run/model.keras --quantize qat --compare-ptq --analyze-layers \\
        --data /data/300w --output out/model_qat.tflite

The same code runs as ``python -m lponet_tf.export`` and ``python export/export.py``.
Each run writes ``OUTPUT`` and ``OUTPUT-without-suffix.report.{md,json}``.

Every argument is checked before the (slow) conversion: the output suffix matches
``--format``, the output folders are writable, ``--data`` / ``--eval-data`` hold labelled
faces, and no output is an input or (without ``--overwrite``) an existing file. The files
are written under temporary names and renamed only once the whole run succeeded, so a
failure leaves no output and no temporary file behind.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shlex
import sys
from typing import Dict

from lponet_tf.export.errors import ExportError
from lponet_tf.export.pipeline import FORMATS, QUANTIZE_MODES, ExportSpec, parse_keep_float
from lponet_tf.metadata import IO_DTYPES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lponet export`` (also used by ``python -m lponet_tf.export``)."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="trained .keras LPONet")
    src.add_argument("--preset", help="bundled preset name (e.g. lponet_lite)")
    parser.add_argument("--format", choices=FORMATS, default="tflite")
    parser.add_argument("--quantize", choices=QUANTIZE_MODES, default="none",
                        help="TFLite: none (fp32), fp16, dynamic (int8 weights), int8 "
                             "(full integer, calibrated on --data), int16x8 (16-bit "
                             "activations, 8-bit weights; precise but slow on CPU), qat "
                             "(quantisation-aware training on --data, then int8)")
    parser.add_argument("--output", required=True,
                        help="file to write: NAME.tflite for --format tflite, NAME.onnx for onnx")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that already exist (an input never is)")
    parser.add_argument("--io-dtype", choices=IO_DTYPES, default="float32",
                        help="int8/qat: type of the input and output tensors")
    parser.add_argument("--float-outputs", action="store_true",
                        help="int8 with --io-dtype int8/uint8: integer input, float32 outputs "
                             "(the rotation output skips int8 rounding; docs/export.md)")
    parser.add_argument("--keep-float", action="append", default=[], metavar="GROUPS",
                        help="int8: node groups left in float (gram_schmidt, pose, "
                             "pose_path, heads, auto, or a regex); qat: Keras layer-name "
                             "regexes. Repeatable or comma-separated")
    parser.add_argument("--data", help="face folder (image + .pts), e.g. /data/300w: "
                                       "calibration / QAT use its training part, parity its "
                                       "validation part (the training configs' hold-out)")
    parser.add_argument("--eval-data", help="face folder for parity (default: --data)")
    parser.add_argument("--calibration-faces", type=int, default=200)
    parser.add_argument("--eval-faces", type=int, default=None,
                        help="validation faces for parity (default: all)")
    parser.add_argument("--compare-ptq", action="store_true",
                        help="with --quantize qat: also export post-training int8 "
                             "(OUTPUT stem + _ptq) and report both")
    parser.add_argument("--analyze-layers", action="store_true",
                        help="int8/qat: add the per-layer int8 error table to the report")
    parser.add_argument("--no-parity", action="store_true", help="skip the parity check")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when an int8/qat export misses a parity target")
    parser.add_argument("--report", help="report path without suffix (default: OUTPUT "
                                         "without its suffix)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 13)")
    qat = parser.add_argument_group("quantisation-aware training (--quantize qat)")
    qat.add_argument("--qat-steps", type=int, default=300)
    qat.add_argument("--qat-batch-size", type=int, default=8)
    qat.add_argument("--qat-lr", type=float, default=1e-5)
    qat.add_argument("--qat-faces", type=int, default=400)
    qat.add_argument("--qat-calibration-steps", type=int, default=50)
    qat.add_argument("--qat-target", choices=("teacher", "labels"), default="teacher")


def command_line(args) -> str:
    """The ``lponet export`` command that reproduces ``args``."""
    parts = ["lponet", "export"]
    for action in _parser()._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value = getattr(args, action.dest, None)
        if value in (None, False, []) or value == action.default:
            continue
        flag = action.option_strings[0]
        if value is True:
            parts.append(flag)
        elif isinstance(value, list):
            for v in value:
                parts += [flag, str(v)]
        else:
            parts += [flag, str(value)]
    return shlex.join(parts)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lponet export", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def _load_model(args):
    if args.preset:
        from lponet_tf.presets import from_preset

        return from_preset(args.preset), args.preset
    from lponet_tf.runtime.keras_runner import load_keras_model

    return load_keras_model(args.model), None


def _ptq_path(output: str) -> str:
    stem, ext = os.path.splitext(output)
    return f"{stem}_ptq{ext}"


def output_paths(args) -> Dict[str, str]:
    """Every file a run writes: ``model``, ``ptq`` (with ``--compare-ptq``), ``report_md``,
    ``report_json``."""
    base = args.report or os.path.splitext(args.output)[0]
    paths = {"model": args.output}
    if args.compare_ptq and args.quantize == "qat":
        paths["ptq"] = _ptq_path(args.output)
    paths["report_md"], paths["report_json"] = f"{base}.report.md", f"{base}.report.json"
    return paths


def validate(args, spec: ExportSpec) -> bool:
    """Check every argument before any conversion; returns whether parity is measured.

    Raises:
        ExportError: a bad option value or a suffix that contradicts ``--format``.
        DataError: ``--data`` / ``--eval-data`` missing or without labelled faces.
        OutputError: an output that is an input, exists (without ``--overwrite``), or
            lies in a folder that cannot be written (:mod:`lponet_tf.fileio`).
    """
    from lponet_tf.export.onnx import MIN_OPSET
    from lponet_tf.export.pipeline import check_face_folder
    from lponet_tf.export.tflite import CALIBRATED_MODES
    from lponet_tf.fileio import check_outputs

    suffix = "." + spec.format
    if pathlib.Path(args.output).suffix.lower() != suffix:
        raise ExportError(f"--output {args.output}: --format {spec.format} writes a "
                          f"{suffix} file; name the output NAME{suffix}")
    if args.compare_ptq and args.quantize != "qat":
        raise ExportError("--compare-ptq needs --quantize qat")
    for name, value, low in (("--calibration-faces", args.calibration_faces, 1),
                             ("--eval-faces", args.eval_faces, 1),
                             ("--opset", args.opset, MIN_OPSET),
                             ("--qat-steps", args.qat_steps, 1),
                             ("--qat-batch-size", args.qat_batch_size, 1),
                             ("--qat-faces", args.qat_faces, 1),
                             ("--qat-calibration-steps", args.qat_calibration_steps, 0)):
        if value is not None and value < low:
            raise ExportError(f"{name} must be >= {low}, got {value}")
    if not args.qat_lr > 0:
        raise ExportError(f"--qat-lr must be > 0, got {args.qat_lr}")
    if args.model and not os.path.isfile(args.model):
        from lponet_tf.errors import ModelFileError

        raise ModelFileError(args.model, "no such model file (--model)")
    calibrated = spec.quantize in CALIBRATED_MODES + ("qat",)
    if calibrated and not args.data:
        raise ExportError(f"--quantize {spec.quantize} calibrates on real faces: give a "
                          "face folder with --data")
    parity = not args.no_parity and bool(args.data or args.eval_data)
    needs = {}  # folder -> the hold-out parts the run reads from it
    if calibrated:
        needs.setdefault(args.data, []).append("train")
    if parity:
        needs.setdefault(args.eval_data or args.data, []).append("val")
    for root, parts in needs.items():
        check_face_folder(root, parts)
    check_outputs(output_paths(args).values(), inputs=[args.model, *needs], overwrite=args.overwrite)
    return parity


def _progress(line: str) -> None:
    print(f"lponet export: {line}", file=sys.stderr, flush=True)


def _export(args, spec: ExportSpec, parity: bool, stage) -> dict:
    """Convert (and check) every export into ``stage``; returns the report."""
    from lponet_tf.export.parity import targets_for
    from lponet_tf.export.pipeline import ModelExporter
    from lponet_tf.metadata import ModelMetadata

    outputs = output_paths(args)
    source = args.model or f"preset {args.preset}"
    model, preset = _load_model(args)
    qat_options = dict(steps=args.qat_steps, batch_size=args.qat_batch_size,
                       learning_rate=args.qat_lr, faces=args.qat_faces,
                       calibration_steps=args.qat_calibration_steps, target=args.qat_target)
    with ModelExporter(model, data=args.data, eval_data=args.eval_data,
                       calibration_faces=args.calibration_faces, eval_faces=args.eval_faces,
                       preset=preset, qat_options=qat_options, opset=args.opset) as exporter:
        if args.quantize == "qat" and args.model:
            exporter.model_path = args.model  # the QAT worker reads the file directly
        jobs = [(spec, outputs["model"])]
        if "ptq" in outputs:
            jobs.append((ExportSpec("tflite", "int8", args.io_dtype), outputs["ptq"]))
        records = []
        for job, final in jobs:
            _progress(f"converting {source} to {job.label}"
                      + (", then checking parity" if parity else "") + " ...")
            record = exporter.export(job, stage.path(final), parity=parity)
            records.append(dict(record, path=final))  # the staged name is temporary
        report = {
            "model": source,
            "metadata": ModelMetadata.from_model(exporter.model, preset=exporter.preset).to_dict(),
            "exports": records,
            "eval_data": args.eval_data or args.data,
            "eval_faces": len(exporter.validation()) if parity else None,
            "calibration_faces": exporter.calibrated_faces,  # None: nothing calibrated
            "targets": targets_for(exporter.input_size),
            "command": command_line(args),
        }
        if args.analyze_layers and args.quantize in ("int8", "int16x8", "qat"):
            _progress("measuring the per-layer int8 error ...")
            report["layer_errors"] = exporter.layer_errors()
    return report


def run(args) -> int:
    """Run ``lponet export`` with parsed ``args``; returns the exit status."""
    from lponet_tf.export.report import parity_table, write_report
    from lponet_tf.fileio import Staging

    spec = ExportSpec(args.format, args.quantize, args.io_dtype, parse_keep_float(args.keep_float),
                      float_outputs=args.float_outputs)
    parity = validate(args, spec)
    outputs = output_paths(args)
    with Staging(replace=args.overwrite) as stage:  # nothing visible unless the whole run succeeds
        for path in outputs.values():  # creates the folders; refuses unwritable ones now
            stage.prepare(pathlib.Path(path).parent)
        report = _export(args, spec, parity, stage)
        staged_md = stage.path(outputs["report_md"])
        stage.path(outputs["report_json"])
        write_report(staged_md.parent / staged_md.name[:-len(".report.md")], report)
        stage.commit()
    records = report["exports"]
    print("\n".join(parity_table(records)))
    print(f"wrote {', '.join(outputs.values())}")
    if not parity:
        print("parity not checked (give --data FACE_FOLDER)", file=sys.stderr)
    missed = [r["label"] for r in records
              if r["parity"] and r["quantize"] in ("int8", "int16x8", "qat")
              and not all(r["parity"]["checks"].values())]
    if missed and args.strict:
        print(f"parity targets missed: {missed}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    """``python -m lponet_tf.export`` entry point."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    from lponet_tf.errors import LPONetError

    try:
        return run(args)
    except (LPONetError, OSError) as exc:  # ExportError, DataError, OutputError, a full disk
        print(f"lponet export: error: {exc}", file=sys.stderr)
        return 2
