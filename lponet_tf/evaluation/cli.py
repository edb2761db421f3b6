"""``lponet evaluate``: the paper's tables for a ``.keras``, ``.tflite`` or ``.onnx`` model.

Example::

    lponet evaluate --model runs/stage2_300w/model.keras \\
        --config paper \\
        --data-root 300w=/data/300W --data-root aflw2000=/data/AFLW2000 --output out/eval

writes ``out/eval/results.md`` (printed too), ``results.json``, ``per_face.csv`` and the
``ced_*.png`` curves. Datasets of the config that are not present are listed as "not
present at PATH" (``--strict`` makes that an error; so is a config none of whose datasets
is present).

Before the model loads, the outputs are checked: none may be an input (the model, the
config), and existing ones (``results.*``, ``per_face.csv``, ``ced_*.png``: an earlier
run's) are refused unless ``--overwrite`` is given. The files are written under temporary
names inside the folder and renamed when the evaluation has finished, so a failed run
leaves the folder as it was.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import pathlib
import sys

#: The report files of every run (plus one ``ced_<set>.png`` per set unless ``--no-plots``).
REPORT_FILES = ("results.md", "results.json", "per_face.csv")


def _preset_model(name: str) -> pathlib.Path:
    """A preset's bundled ``.tflite`` (what ``FaceAnalyzer.create()`` runs)."""
    from lponet_tf.evaluation.config import EvalConfigError
    from lponet_tf.presets import get_preset

    path = get_preset(name).bundled_tflite()
    if path is None:
        raise EvalConfigError(f"--preset {name}: no up-to-date bundled .tflite to evaluate; "
                              "export the model (lponet export) and pass it as --model")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="model file: .keras, .tflite or .onnx")
    which.add_argument("--preset", help="a preset's bundled model (lponet_lite: the shipped "
                                        ".tflite), wherever lponet-tf is installed")
    parser.add_argument("--config", required=True,
                        help="eval config: a shipped name (paper, 300w_subset, 300w_subset_masked, "
                             "samples) or a YAML path")
    parser.add_argument("--output", dest="out", default=None,
                        help="output folder (default: eval_<model name> in the current folder)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the report files of an earlier run in --output")
    parser.add_argument("--backend", default="auto", choices=("auto", "keras", "tflite", "onnx"),
                        help="inference backend (default: from the file extension)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the runtime")
    parser.add_argument("--data-root", action="append", default=[], metavar="KEY=PATH",
                        help="root of a dataset of the config, e.g. --data-root 300w=/data/300W "
                             "(repeatable)")
    parser.add_argument("--only", action="append", default=[], metavar="KEY",
                        help="evaluate only this dataset of the config (repeatable)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most this many faces per dataset (a quick smoke run)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="faces per inference call (default: the config's)")
    parser.add_argument("--label", default=None, help="row label in the tables (default: model name)")
    parser.add_argument("--strict", action="store_true",
                        help="fail when a dataset of the config is not present")
    parser.add_argument("--decode", default=None, choices=("dark", "top2"),
                        help="heatmap decoding: dark (sub-pixel, the default, as FaceAnalyzer) "
                             "or top2 (the paper's rule, as its tables)")
    parser.add_argument("--flip-tta", action="store_true",
                        help="flip test-time augmentation: average each face with its mirror "
                             "image (lponet_tf.inference.flip_tta)")
    parser.add_argument("--flip-label-x-offset", type=float, default=None, metavar="PX",
                        help="with --flip-tta: the model's label x offset in input pixels "
                             "(default: the bundled preset's measured value for its own file, "
                             "else 0; docs/inference.md)")
    parser.add_argument("--no-plots", action="store_true", help="skip the CED PNGs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", action="store_true", help="do not print the Markdown report")


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the report; returns the exit status (0)."""
    from lponet_tf.evaluation.config import EvalConfigError, load_eval_config, parse_data_roots
    from lponet_tf.evaluation.evaluate import (
        DatasetNotPresent, evaluate_config, preflight_config, runner_info,
    )
    from lponet_tf.evaluation.report import write_report
    from lponet_tf.fileio import Staging, check_outputs
    from lponet_tf.runtime import load_runner

    config = load_eval_config(args.config, parse_data_roots(args.data_root),
                              limit=args.limit, only=args.only or None)
    for flag, value in (("--batch-size", args.batch_size), ("--threads", args.threads)):
        if value is not None and value < 1:
            raise EvalConfigError(f"{flag} must be >= 1, got {value}")
    if args.flip_label_x_offset is not None and not args.flip_tta:
        raise EvalConfigError("--flip-label-x-offset is a setting of --flip-tta; give both")
    if args.flip_label_x_offset is not None and not math.isfinite(args.flip_label_x_offset):
        raise EvalConfigError(f"--flip-label-x-offset must be a finite number of pixels, "
                              f"got {args.flip_label_x_offset}")
    if args.batch_size is not None:
        config.batch_size = args.batch_size
    if not args.no_plots and importlib.util.find_spec("matplotlib") is None:
        # Before the faces are scored: the plots come last.
        raise EvalConfigError("the CED plots need matplotlib (pip install 'lponet-tf[plot]'); "
                              "or pass --no-plots")
    model = pathlib.Path(args.model) if args.model else _preset_model(args.preset)
    out = pathlib.Path(args.out) if args.out else pathlib.Path(f"eval_{model.stem}")
    inputs = [model, args.config, *(e.root for e in config.entries if e.present)]
    earlier = [out / name for name in REPORT_FILES]
    if not args.no_plots and out.is_dir():
        earlier += sorted(out.glob("ced_*.png"))
    check_outputs(earlier, inputs=inputs, overwrite=args.overwrite)
    missing = [f"{e.key} at {e.root}" for e in config.entries if not e.present]
    # Before loading the model: a typo in a root should not cost a model load. Without
    # --strict a missing dataset is skipped, but a run with none would score nothing.
    if missing and (args.strict or len(missing) == len(config.entries)):
        raise DatasetNotPresent(f"dataset(s) not present: {'; '.join(missing)} "
                                f"(give each one's folder: --data-root KEY=PATH)")
    faces = preflight_config(config)  # the data's files, before the model loads

    def log(line: str) -> None:
        print(f"lponet evaluate: {line}", file=sys.stderr)

    with Staging(replace=args.overwrite) as stage:  # untouched unless the evaluation finishes
        stage.prepare(out)
        runner = load_runner(str(model), backend=args.backend, threads=args.threads)
        if args.flip_tta:
            from lponet_tf.inference.flip_tta import FlipTTARunner, default_label_x_offset

            offset = args.flip_label_x_offset
            runner = FlipTTARunner(runner, label_x_offset=default_label_x_offset(model)
                                   if offset is None else offset)
        # the tables' row label tells a flip-TTA run from a plain one
        label = args.label or (f"{model.name} + flip TTA" if args.flip_tta else model.name)
        info = runner_info(runner, label=label, decode_rule=args.decode)
        result = evaluate_config(runner, config, info, strict=args.strict,
                                 progress=not args.no_progress, log=log, faces=faces)
        staged = stage.path(out / REPORT_FILES[0]).parent
        paths = write_report(result, staged, model_path=str(model), enlarge=config.enlarge,
                             plots=not args.no_plots)
        finals = [out / f.name for f in sorted(staged.iterdir())]
        check_outputs(finals, inputs=inputs, overwrite=args.overwrite)
        for final in finals:
            stage.path(final)
        stage.commit()
    paths = {key: out / path.name if key != "ced" else out for key, path in paths.items()}
    if not args.quiet:
        print(paths["markdown"].read_text(encoding="utf-8"))
    log(f"wrote {paths['markdown']}, {paths['json']}, {paths['per_face']}")
    return 0
