"""The ``lponet`` command: ``train``, ``evaluate``, ``export``, ``predict``.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args)``;
they are imported only when chosen, so ``lponet --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

SUBCOMMANDS = {
    "train": ("lponet_tf.training.cli", "train LPONet from a YAML config"),
    "evaluate": ("lponet_tf.evaluation.cli", "print the paper's tables for a model"),
    "export": ("lponet_tf.export.cli", "export to TFLite / ONNX with a parity report"),
    "predict": ("lponet_tf.inference.cli", "annotate images, folders or videos"),
}


def _parser(selected=None) -> argparse.ArgumentParser:
    from lponet_tf.version import __version__

    parser = argparse.ArgumentParser(
        prog="lponet", description="LPONet: landmarks, head pose and visible-face mask."
    )
    parser.add_argument("--version", action="version", version=f"lponet-tf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    selected = next((a for a in argv if a in SUBCOMMANDS), None)
    parser = _parser(selected)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from lponet_tf.errors import LPONetError

    try:
        return int(importlib.import_module(SUBCOMMANDS[args.command][0]).run(args) or 0)
    except (LPONetError, OSError) as exc:  # typed errors; OSError: a full disk, a lost mount
        print(f"lponet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
