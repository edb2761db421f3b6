"""``lponet train``: train LPONet from a YAML config (same code as ``training/train.py``)."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", required=True, action="append",
        help="a shipped config name (stage1, stage2_300w, stage2_wflw, preset_lite, quickstart, "
        "ablation/NAME) or a YAML path; repeat to lay a variant over a stage, "
        "e.g. --config stage1 --config ablation/fpf_full",
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.steps=200 (repeatable)",
    )
    parser.add_argument(
        "--data-root", action="append", default=[], metavar="NAME=PATH",
        help="root of a dataset named in the config, e.g. --data-root 300w_lp=/data/300W_LP",
    )
    parser.add_argument("--output", dest="output_dir",
                        help="output folder (overrides the config's output_dir)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace run files that have no resumable state (backup/) in the "
                             "output folder; a folder with one is that run's, continued with "
                             "the config it was started with (delete its backup/ to start "
                             "over)")
    parser.add_argument(
        "--epochs-limit", type=int, default=None,
        help="stop after this many epochs in this call; run again to continue",
    )
    parser.add_argument(
        "--time-limit", type=float, default=None, metavar="SECONDS",
        help="stop after the first epoch that ends this many seconds into this call; run "
        "again to continue",
    )


def run(args: argparse.Namespace) -> int:
    from lponet_tf.training.config import ConfigError, load_config, parse_data_roots

    roots = parse_data_roots(args.data_root)
    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    # Checked before TensorFlow is even imported: a typo costs a second, not a minute.
    config = load_config(args.config, overrides, roots)
    if args.epochs_limit is not None and args.epochs_limit < 1:
        raise ConfigError(f"--epochs-limit must be >= 1, got {args.epochs_limit}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise ConfigError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    from lponet_tf.training.trainer import train

    result = train(config, epochs_limit=args.epochs_limit, time_limit=args.time_limit,
                   overwrite=args.overwrite)
    where = (f"inference model: {result.model_path}" if result.chief
             else f"worker files under {result.output_dir}/.worker-*; the chief writes the model")
    print(f"trained {result.steps} steps; {where}")
    if result.chief and result.best_epoch is not None:
        print(f"best {config['train']['best_monitor']} {result.best_value:.6g} at epoch {result.best_epoch} "
              f"(0-based, as in training_log.csv): {result.output_dir / 'best.keras'}")
    return 0
