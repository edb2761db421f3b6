"""Evaluation: the paper's tables (1, 2, 4, 5, 7, 8, 9) and CED curves for any model file.

Command line: ``lponet evaluate --model M --config EVAL.yaml`` (:mod:`.cli`). In code::

    from lponet_tf.evaluation import load_eval_config, evaluate_config, write_report
    from lponet_tf.runtime import load_runner

    result = evaluate_config(load_runner("model.keras"), load_eval_config("eval.yaml"))
    write_report(result, "out/eval")

Modules: :mod:`.config` (eval YAML), :mod:`.protocol` (crop / map back, one face),
:mod:`.scores` (per-face scores and summaries), :mod:`.evaluate` (datasets and batches),
:mod:`.tables` (paper layouts), :mod:`.ced` (plots), :mod:`.report` (files);
:mod:`.end_to_end` (what a user of ``FaceAnalyzer`` gets: detector -> crop -> network, beside
the true box; ``lponet end-to-end``, :mod:`.end_to_end_cli`); :mod:`.compare` (two
evaluation files of the same faces, paired face by face; ``lponet compare``). The heavy ones (TensorFlow via
metrics) load on first use.
"""
from __future__ import annotations

import importlib

from lponet_tf.evaluation.config import EvalConfig, EvalEntry, load_eval_config, parse_eval_config

_LAZY = {
    "evaluate_config": "lponet_tf.evaluation.evaluate",
    "evaluate_records": "lponet_tf.evaluation.evaluate",
    "EvaluationResult": "lponet_tf.evaluation.evaluate",
    "RunnerInfo": "lponet_tf.evaluation.evaluate",
    "runner_info": "lponet_tf.evaluation.evaluate",
    "write_report": "lponet_tf.evaluation.report",
    "build_tables": "lponet_tf.evaluation.tables",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EvalConfig", "EvalEntry", "load_eval_config", "parse_eval_config", *_LAZY]
