"""Cumulative error distribution (CED) plots of per-face NME, one PNG per landmark test set.

Each curve is one group of faces (``all`` and, where the dataset has them, the 300W
common / challenge subsets or the WFLW attribute subsets); its legend gives the face count,
the mean NME, the AUC up to 10 % NME and the failure rate (NME > 10 %), the numbers of
:func:`lponet_tf.metrics.ced_curve`.
"""
from __future__ import annotations

import pathlib
import re
from typing import Dict, List

from lponet_tf import metrics
from lponet_tf.evaluation.scores import CED_MAX_NME, DatasetScores


def legend_label(group: str, values) -> str:
    """``"all (n=689): NME 3.39%, AUC@10 0.661, FR@10 0.4%"``.

    Example:
        >>> legend_label("all", [1.0, 2.0, 30.0])
        'all (n=3): NME 11.00%, AUC@10 0.567, FR@10 33.3%'
    """
    ced = metrics.ced_curve(values, CED_MAX_NME)
    mean = float(sum(values) / len(values))
    return (f"{group} (n={len(values)}): NME {mean:.2f}%, AUC@{CED_MAX_NME:g} {ced.auc:.3f}, "
            f"FR@{CED_MAX_NME:g} {100.0 * ced.failure_rate:.1f}%")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "dataset"


def plot_ced(scores: DatasetScores, path, title: str) -> bool:
    """Write one CED plot; returns False (and writes nothing) when no face has landmarks.

    Args:
        scores: the set's per-face scores.
        path: output PNG.
        title: plot title (the dataset name).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)  # headless; a GUI backend chosen by the user stays
    import matplotlib.pyplot as plt

    curves = [(g, scores.nme_values(g)) for g in scores.groups()]
    every = len(scores.nme_values("all"))
    # a group of every face (all 300W training photos, say) is the "all" curve drawn twice
    curves = [(g, v) for g, v in curves if len(v) and (g == "all" or len(v) < every)]
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    try:
        for group, values in curves:
            ced = metrics.ced_curve(values, CED_MAX_NME)
            ax.step(ced.thresholds, 100.0 * ced.fractions, where="post",
                    label=legend_label(group, values))
        ax.set_xlim(0.0, CED_MAX_NME)
        ax.set_ylim(0.0, 100.0)
        ax.set_xlabel("NME (%, inter-ocular)")
        ax.set_ylabel("faces with NME ≤ x (%)")
        ax.set_title(f"CED — {title}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return True


def plot_all(scores: Dict[str, DatasetScores], out_dir) -> List[pathlib.Path]:
    """A ``ced_<name>.png`` per set with landmarks; returns the files written."""
    out_dir = pathlib.Path(out_dir)
    written = []
    for name, ds in scores.items():
        path = out_dir / f"ced_{_safe(name)}.png"
        if plot_ced(ds, path, name):
            written.append(path)
    return written
