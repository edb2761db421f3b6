"""``lponet compare``: is model B better than model A on the same faces?

Example::

    lponet end-to-end --data 300w=/data/300w --holdout --model a.tflite --output out/a.json
    lponet end-to-end --data 300w=/data/300w --holdout --model b.tflite --output out/b.json
    lponet compare out/a.json out/b.json

prints, for every set and figure the two files share, the means on the paired faces, B − A
with its paired-bootstrap interval, on how many faces each is better, and a verdict ("B
better", "A better", "within noise", "too few faces"): :mod:`lponet_tf.evaluation.compare`.
It reads ``lponet end-to-end --output`` files and ``lponet evaluate``'s ``per_face.csv`` (or
its folder); ``--output`` also writes the rows as JSON (refused if it exists unless
``--overwrite``; written atomically). Nothing here loads a model or TensorFlow.
"""
from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="reference: an lponet end-to-end JSON or lponet evaluate's "
                                  "per_face.csv (or its folder)")
    parser.add_argument("b", help="candidate, a file of the same kind on the same faces")
    parser.add_argument("--confidence", type=float, default=0.95,
                        help="coverage of the intervals (default 0.95)")
    parser.add_argument("--resamples", type=int, default=10_000,
                        help="bootstrap resamples per figure (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="resampling seed")
    parser.add_argument("--output", default=None, help="also write the comparison as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def run(args) -> int:
    from lponet_tf.evaluation.compare import check_settings, compare_files, format_markdown
    from lponet_tf.fileio import atomic_write_via, check_outputs, check_writable

    check_settings(args.confidence, args.resamples)
    if args.output:
        check_outputs([args.output], inputs=[args.a, args.b], overwrite=args.overwrite,
                      what="comparison file")
        check_writable(args.output)
    comparison = compare_files(args.a, args.b, args.confidence, args.resamples, args.seed)
    print(format_markdown(comparison), end="")
    if args.output:
        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(comparison.as_dict(), fh, indent=1)
        atomic_write_via(args.output, write, args.overwrite)
    return 0
