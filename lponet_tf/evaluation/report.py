"""Write an evaluation to disk: ``results.md``, ``results.json``, ``per_face.csv``, CED PNGs.

``results.json`` holds every number of every table with the count of faces behind it,
the per-dataset summaries (all groups, all metrics), the model and protocol description,
and the list of datasets that were not present.
"""
from __future__ import annotations

import datetime
import json
import math
import pathlib
from typing import Dict, List, Optional

from lponet_tf.config import DEFAULT_ENLARGE
from lponet_tf.evaluation import ced
from lponet_tf.evaluation.evaluate import EvaluationResult
from lponet_tf.evaluation.scores import write_per_face_csv
from lponet_tf.evaluation.tables import Table, build_tables, tables_to_json

#: The protocol in words (docs/evaluation.md has the details).
PROTOCOL = {
    "crop": "ground-truth landmark box (else the dataset box, else a detector box, else the "
            "whole image), enlarged by `enlarge` of its size per side, made square, resized "
            "to the model input (paper Section IV-A)",
    "landmarks": "heatmaps decoded by the rule in model.decode (dark: DARK sub-pixel, the "
                 "default; top2: the paper's top-2 score-weighted), mapped to image pixels "
                 "through the crop's inverse; NME (Eq. 10) in % of the inter-ocular distance (outer eye "
                 "corners 36 and 45) of the ground truth",
    "pose": "MAE (Eq. 11) in degrees per yaw, pitch, roll against the label's angles (a "
            "predicted rotation decomposed on the label's Euler branch, differences wrapped "
            "into (-180, 180]) and their mean; geodesic distance in radians (Table 2)",
    "occlusion": "mIoU (Eq. 12) in % of not-face and visible face between the argmax of the "
                 "occlusion scores resampled onto the ground-truth mask and the mask, over the "
                 "pixels inside the crop square",
    "ced": "per-face NME, AUC and failure rate at 10 % NME",
}


def pose_label(pose: str) -> str:
    """Table 2 row label of a pose head, in the paper's words."""
    return {"6d": "6DRotRep", "euler": "3D Euler"}.get(pose, pose)


def markdown(result: EvaluationResult, tables: List[Table], model_path: Optional[str] = None,
             plots: Optional[List[pathlib.Path]] = None, enlarge: Optional[float] = None) -> str:
    """The Markdown report: header, the paper's tables, the summary, the CED plots."""
    info = result.info
    lines = ["# LPONet evaluation", ""]
    flip = ("" if info.flip_tta is None else
            f", flip test-time augmentation (label x offset {info.flip_tta:g} px)")
    lines.append(f"- Model: `{model_path or info.label}` ({info.backend or 'runner'}, "
                 f"input {info.input_size} px, pose head {info.pose}, heatmap decoding "
                 f"{info.decode.decode}{flip})")
    if result.config_path:
        lines.append(f"- Config: `{result.config_path}`")
    evaluated = [k for k, v in result.datasets.items() if v.get("status") == "evaluated"]
    missing = [k for k, v in result.datasets.items() if v.get("status") != "evaluated"]
    lines.append(f"- Evaluated: {', '.join(evaluated) or 'none'}"
                 + (f"; not present: {', '.join(missing)}" if missing else ""))
    margin = DEFAULT_ENLARGE if enlarge is None else enlarge
    lines.append(f"- Protocol: crop from the GT landmark box + {100 * margin:g} % per side; predictions "
                 "mapped back to the image; NME inter-ocular (%), MAE (°), mIoU (%) in the "
                 "crop region (see docs/evaluation.md). \"–\": no data.")
    lines.append("")
    for table in tables:
        lines.append(table.to_markdown())
        lines.append("")
    if plots:
        lines.append("### CED curves")
        lines.append("")
        lines.extend(f"![{p.stem}]({p.name})" for p in plots)
        lines.append("")
    return "\n".join(lines)


def to_json(result: EvaluationResult, tables: List[Table], model_path: Optional[str] = None,
            plots: Optional[List[pathlib.Path]] = None, enlarge: Optional[float] = None) -> dict:
    """The JSON document (see the module docstring)."""
    from lponet_tf.version import __version__

    info = result.info
    return {
        "lponet_tf_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {"path": model_path, "label": info.label, "backend": info.backend,
                  "input_size": info.input_size, "pose": info.pose,
                  "decode": info.decode.decode,
                  "flip_tta": None if info.flip_tta is None else {"label_x_offset": info.flip_tta}},
        "config": result.config_path,
        "protocol": {**PROTOCOL, "enlarge": enlarge},
        "datasets": result.datasets,
        "tables": tables_to_json(tables),
        "ced_plots": [p.name for p in plots or []],
    }


def finite_or_none(value):
    """JSON-safe copy: NaN / inf floats (a diverged model) become None (null).

    Example:
        >>> finite_or_none({"a": [1.0, float("nan")]})
        {'a': [1.0, None]}
    """
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(result: EvaluationResult, out_dir, model_path: Optional[str] = None,
                 enlarge: Optional[float] = None, plots: bool = True) -> Dict[str, pathlib.Path]:
    """Write ``results.md``, ``results.json``, ``per_face.csv`` and ``ced_*.png``.

    Args:
        result: from :func:`lponet_tf.evaluation.evaluate.evaluate_config`.
        out_dir: output folder (created).
        model_path: the model file, for the header.
        enlarge: the crop margin used, for the JSON protocol block.
        plots: write the CED PNGs.

    Returns:
        ``{"markdown", "json", "per_face"}`` paths, plus ``"ced"`` -> folder when plots
        were written.

    Example:
        >>> paths = write_report(result, "out/eval")  # doctest: +SKIP
        >>> paths["markdown"].read_text().startswith("# LPONet evaluation")  # doctest: +SKIP
        True
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = build_tables(result.datasets, result.info.label, pose_label(result.info.pose))
    written = ced.plot_all(result.scores, out) if plots else []
    paths = {"markdown": out / "results.md", "json": out / "results.json",
             "per_face": out / "per_face.csv"}
    paths["markdown"].write_text(markdown(result, tables, model_path, written, enlarge),
                                 encoding="utf-8")
    doc = to_json(result, tables, model_path, written, enlarge)
    paths["json"].write_text(json.dumps(finite_or_none(doc), indent=2, allow_nan=False), encoding="utf-8")
    write_per_face_csv(paths["per_face"], result.scores)
    if written:
        paths["ced"] = out
    return paths
