#!/usr/bin/env python
"""End-to-end landmark and pose figures on the bundled preset's validation faces.

    python scripts/evaluate_end_to_end.py --data 300w=/data/300w [--model M.tflite]
        [--masked out/masked300w] [--pose-data aflw2000=/data/AFLW2000] [--flip-tta]
        [--turns] [--output out/e2e.json]

is ``lponet end-to-end --holdout ...`` (:mod:`lponet_tf.evaluation.end_to_end_cli`; what each
figure is: :mod:`lponet_tf.evaluation.end_to_end`): the preset's validation holdout (15% of
the 300W photos, seed 0, never trained on) of ``--data`` and ``--masked``.
"""
from __future__ import annotations

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lponet_tf.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["end-to-end", "--holdout", *sys.argv[1:]]))
