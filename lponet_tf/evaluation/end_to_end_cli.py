"""``lponet end-to-end``: the figures a user of ``FaceAnalyzer`` gets, beside the true box.

Example::

    lponet end-to-end --data 300w=/data/300w --holdout --masked out/masked300w --turns \\
        --pose-data aflw2000=/data/AFLW2000 --output out/e2e.json

prints one JSON line per set (and writes them all to ``--output``, with each face's figures,
``per_face``, which the printed lines leave out): ``300w_val`` (with
``--holdout``: the bundled preset's validation faces, the ones it never trained on; without
it every face of the folder, ``300w``), ``masked_300w_val`` (the same faces of a Masked-300W
folder, ``python -m lponet_tf.data.benchmark_sets masked-300w ...``), ``turns_300w_val`` and
``pose_aflw2000``. What each figure is: :mod:`lponet_tf.evaluation.end_to_end`. The model is
the bundled preset unless ``--model`` names a file; ``--flip-tta``, ``--refine-iou`` and
``--no-candidate-check`` set the analyzer's options of those names. Arguments and ``--output`` are checked before the model
loads; an existing ``--output`` is refused unless ``--overwrite``, and it is written
atomically.
"""
from __future__ import annotations

import argparse
import json
import pathlib

from lponet_tf.evaluation.end_to_end import EndToEndError


def _print_summary(name: str, figures: dict) -> None:
    """One line per set; the per-face lists go to ``--output`` only."""
    print(name, json.dumps({k: v for k, v in figures.items() if k != "per_face"}), flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="300w=PATH",
                        help="a 300W-format folder of faces (the 300w= prefix is optional)")
    parser.add_argument("--holdout", action="store_true",
                        help="only the bundled preset's validation faces of --data and --masked "
                             "(15%% of the photos, seed 0: the ones it never trained on)")
    parser.add_argument("--masked", default=None,
                        help="a Masked-300W folder of the same faces (optional)")
    parser.add_argument("--pose-data", action="append", default=[], metavar="READER=PATH",
                        help="a set with pose labels (e.g. aflw2000=PATH): pose MAE against "
                             "them, end to end and on the true box (repeatable)")
    parser.add_argument("--model", default=None, help="model file (default: the bundled preset)")
    parser.add_argument("--flip-tta", action="store_true", help="flip test-time augmentation")
    parser.add_argument("--refine-iou", type=float, default=None,
                        help="FaceAnalyzerOptions.refine_iou (default: the library's)")
    parser.add_argument("--no-candidate-check", action="store_true",
                        help="FaceAnalyzerOptions.candidate_check=False (default: on)")
    parser.add_argument("--turns", action="store_true",
                        help="also the slopes on synthetic head turns, and the yaw read on "
                             "faces turned away from the camera past 45 degrees")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the runtime")
    parser.add_argument("--limit", type=int, default=None, help="first N faces of each set")
    parser.add_argument("--output", default=None, help="also write the figures to this JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def _pose_sets(items) -> dict:
    sets = {}
    for item in items:
        reader, sep, path = item.partition("=")
        if not sep or not reader or not path:
            raise EndToEndError(f"--pose-data takes READER=PATH, got {item!r}")
        sets[reader] = path
    return sets


def _data_folder(value: str) -> str:
    """``300w=PATH`` or ``PATH`` -> PATH; another reader's prefix is refused."""
    reader, sep, path = value.partition("=")
    if not sep or "/" in reader or "\\" in reader:  # no prefix (a path may hold "=")
        return value
    if reader != "300w":
        raise EndToEndError(f"--data takes a 300W-format folder (300w=PATH or PATH), got {value!r}")
    return path


def _check(args):
    """Everything that can be refused before the model loads: the --data folder, the pose
    sets by reader."""
    from lponet_tf.fileio import check_outputs, check_writable

    data = _data_folder(args.data)
    for flag, path in (("--data", data), ("--masked", args.masked)):
        if path is not None and not pathlib.Path(path).is_dir():
            raise EndToEndError(f"{flag} {path}: not a folder")
    pose_sets = _pose_sets(args.pose_data)
    from lponet_tf.data.readers import reader_for

    for reader, path in pose_sets.items():
        try:
            reader_for(reader)
        except ValueError as exc:
            raise EndToEndError(f"--pose-data {reader}={path}: {exc}") from None
        if not pathlib.Path(path).is_dir():
            raise EndToEndError(f"--pose-data {reader}={path}: not a folder")
    if args.limit is not None and args.limit < 1:
        raise EndToEndError(f"--limit must be >= 1, got {args.limit}")
    if args.threads < 1:
        raise EndToEndError(f"--threads must be >= 1, got {args.threads}")
    if args.refine_iou is not None and not 0.0 < args.refine_iou <= 1.0:
        raise EndToEndError(f"--refine-iou must be in (0, 1], got {args.refine_iou}")
    if args.output:
        check_outputs([args.output], inputs=[args.model, data, args.masked, *pose_sets.values()],
                      overwrite=args.overwrite,
                      what="figures file")
        check_writable(args.output)
    return data, pose_sets


def run(args) -> int:
    data, pose_sets = _check(args)
    from lponet_tf.data import read_dataset
    from lponet_tf.evaluation.end_to_end import (
        PRESET_HOLDOUT, evaluate_pose_set, evaluate_set, evaluate_turns,
    )
    from lponet_tf.fileio import atomic_write_via
    from lponet_tf.inference.analyzer import FaceAnalyzer
    from lponet_tf.training.datasets import holdout_split

    def faces(reader, path):
        records = read_dataset(reader, path)
        return holdout_split(records, **PRESET_HOLDOUT) if args.holdout else records

    suffix = "_val" if args.holdout else ""
    sets = {"300w" + suffix: faces("300w", data)}
    if args.masked:
        sets["masked_300w" + suffix] = faces("masked_300w", args.masked)
    for name, records in sets.items():
        if not records:
            raise EndToEndError(f"{name}: no faces in the preset's holdout of that folder "
                                "(it holds 15% of the photos); leave out --holdout")
    posed = {}  # read before the model loads: a set with nothing to score is refused first
    for reader, path in pose_sets.items():
        posed[reader] = [r for r in read_dataset(reader, path)
                         if r.pose is not None and r.landmarks is not None]
        if not posed[reader]:
            raise EndToEndError(f"--pose-data {reader}={path}: no face with both a pose label "
                                "and landmarks (the true-box runs crop on the landmarks)")
    from lponet_tf.data.sample import check_records

    for records in (*sets.values(), *posed.values()):  # the files, before the model loads
        check_records(records[: args.limit] if args.limit else records)
    extra = {} if args.refine_iou is None else {"refine_iou": args.refine_iou}
    analyzer = FaceAnalyzer.create(model=args.model, threads=args.threads,
                                   flip_tta=args.flip_tta,
                                   candidate_check=not args.no_candidate_check, **extra)
    result = {"model": args.model or "bundled preset", "flip_tta": args.flip_tta,
              "holdout": PRESET_HOLDOUT if args.holdout else None,
              "decode": getattr(getattr(analyzer, "decode_settings", None), "decode", "top2"),
              "detector": type(analyzer.detector).__name__,
              "refine_iou": analyzer.options.refine_iou,
              "candidate_check": analyzer.options.candidate_check}
    for name, records in sets.items():
        result[name] = evaluate_set(analyzer, records, args.limit)
        _print_summary(name, result[name])
    if args.turns:
        name = "turns_300w" + suffix
        result[name] = evaluate_turns(analyzer, sets["300w" + suffix], args.limit)
        _print_summary(name, result[name])
    for reader in pose_sets:
        name = f"pose_{reader}"
        result[name] = evaluate_pose_set(analyzer, posed[reader], args.limit)
        _print_summary(name, result[name])
    if args.output:
        text = json.dumps(result, indent=1) + "\n"
        atomic_write_via(args.output, lambda tmp: pathlib.Path(tmp).write_text(text),
                         args.overwrite)
    return 0
