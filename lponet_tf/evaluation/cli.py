"""``lponet evaluate``: the paper's tables for a ``.keras``, ``.tflite`` or ``.onnx`` model.

Example::

    lponet evaluate --model runs/stage2_300w/model.keras \\
        --config training/configs/eval/paper.yaml \\
        --data-root 300w=/data/300W --data-root aflw2000=/data/AFLW2000 --out out/eval

writes ``out/eval/results.md`` (printed too), ``results.json``, ``per_face.csv`` and the
``ced_*.png`` curves. Datasets of the config that are not present are listed as "not
present at PATH" (``--strict`` makes that an error).
"""
from __future__ import annotations

import argparse
import pathlib
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file: .keras, .tflite or .onnx")
    parser.add_argument("--config", required=True,
                        help="eval YAML listing the test sets (training/configs/eval/*.yaml)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: eval_<model name> in the current folder)")
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
    parser.add_argument("--no-plots", action="store_true", help="skip the CED PNGs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", action="store_true", help="do not print the Markdown report")


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the report; returns the exit status (0)."""
    from lponet_tf.evaluation.config import load_eval_config, parse_data_roots
    from lponet_tf.evaluation.evaluate import DatasetNotPresent, evaluate_config, runner_info
    from lponet_tf.evaluation.report import write_report
    from lponet_tf.runtime import load_runner

    config = load_eval_config(args.config, parse_data_roots(args.data_root),
                              limit=args.limit, only=args.only or None)
    if args.batch_size:
        config.batch_size = int(args.batch_size)
    missing = [f"{e.key} at {e.root}" for e in config.entries if not e.present]
    if args.strict and missing:
        # Before loading the model: a typo in a root should not cost a model load.
        raise DatasetNotPresent(f"dataset(s) not present: {'; '.join(missing)}")
    model = pathlib.Path(args.model)
    runner = load_runner(str(model), backend=args.backend, threads=args.threads)
    info = runner_info(runner, label=args.label or model.name)
    out = pathlib.Path(args.out) if args.out else pathlib.Path(f"eval_{model.stem}")

    def log(line: str) -> None:
        print(f"lponet evaluate: {line}", file=sys.stderr)

    result = evaluate_config(runner, config, info, strict=args.strict,
                             progress=not args.no_progress, log=log)
    paths = write_report(result, out, model_path=str(model), enlarge=config.enlarge,
                         plots=not args.no_plots)
    if not args.quiet:
        print(paths["markdown"].read_text(encoding="utf-8"))
    log(f"wrote {paths['markdown']}, {paths['json']}, {paths['per_face']}")
    return 0
