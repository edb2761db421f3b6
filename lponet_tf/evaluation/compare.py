"""Two evaluations of the same faces, compared face by face (``lponet compare``).

Two models scored on the same faces differ on each face, and most of that difference is the
faces, not the models: the 195 validation faces of the bundled preset give means that move by
a few hundredths of a point between runs of one recipe. Whether model B is better than model A
is a question about the **paired** differences ``b_i - a_i`` of each face ``i``: their mean,
and an interval for it from the percentile bootstrap (Efron and Tibshirani, *An Introduction
to the Bootstrap*, 1993, ch. 13) -- the faces resampled with replacement, the mean difference
taken each time, and the central ``confidence`` share of those means kept. The interval
assumes nothing about the shape of the errors (NME is skewed: a few failures carry much of
the mean). A model is called better on a figure only when the whole interval is on its side of
zero and at least :data:`MIN_FACES` faces were paired; otherwise the difference is "within
noise" (or the set is too small to tell).

Inputs are the per-face files the evaluation commands write: an ``lponet end-to-end --output``
JSON (every set with a ``per_face`` list: ``nme_end_to_end``, ``nme_true_box``; for pose sets
each run's ``*_error_ypr`` becomes ``*_pose_mae``, the mean of its three angle errors) or an
``lponet evaluate`` ``per_face.csv`` (or its folder): ``nme``, ``yaw_error``, ...,
``geodesic`` (radians), ``iou_not_face``, ``iou_visible`` (higher is better). Faces are
paired by set, image (the shortest tail of its path that tells the images of either file
apart: the file name, or ``trainset/image_0001.png`` where LFPW's train and test photos
share names) and, for an image with several faces, their order; a face with no value in one
file (not found end to end) is counted, not paired.

Example:
    >>> import numpy as np
    >>> a = np.array([3.0, 4.0, 2.5, 5.0, 3.5, 2.0, 4.5, 3.0, 2.8, 3.9])
    >>> row = compare_metric("300w_val", "nme_end_to_end", a, a - 0.2)
    >>> row.difference, row.verdict
    (-0.2, 'B better')
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import pathlib
from typing import Dict, List, Tuple

import numpy as np

from lponet_tf.errors import DataError, LPONetError

#: Fewest paired faces for which a verdict is given (the bootstrap of fewer is too coarse).
MIN_FACES = 10
#: Columns of ``per_face.csv`` that name a face rather than measure it.
CSV_KEY_COLUMNS = ("dataset", "image", "groups", "crop_source")
#: Resampled means drawn at a time (bounds the memory of large sets: faces x chunk indices).
_BOOTSTRAP_CELLS = 2_000_000

# {set name: {(image, occurrence): {metric: value or None}}}
Faces = Dict[str, Dict[Tuple[str, int], Dict[str, object]]]


class CompareError(LPONetError, ValueError):
    """The two files cannot be compared (no face in common) or an argument is invalid."""


def higher_is_better(metric: str) -> bool:
    """IoU figures grow with quality; every other figure here is an error."""
    return "iou" in metric


def paired_interval(diff, confidence: float = 0.95, resamples: int = 10_000,
                    seed: int = 0) -> Tuple[float, float]:
    """Percentile-bootstrap interval of the mean of paired differences.

    Args:
        diff: ``(n,)`` per-face differences ``b - a``.
        confidence: the interval's coverage, in (0, 1).
        resamples: bootstrap means drawn.
        seed: the resampling's seed (the same files give the same interval).

    Returns:
        ``(low, high)``.
    """
    diff = np.asarray(diff, np.float64)
    if diff.ndim != 1 or len(diff) == 0:
        raise CompareError(f"need a non-empty 1-D array of differences, got shape {diff.shape}")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, _BOOTSTRAP_CELLS // len(diff))
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        means[start:start + k] = diff[rng.integers(0, len(diff), (k, len(diff)))].mean(axis=1)
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


@dataclasses.dataclass(frozen=True)
class MetricComparison:
    """One figure of one set, A against B on the faces both have it for.

    Attributes:
        set, metric: where the figure comes from.
        faces: faces paired; only_a / only_b: faces with a value in one file only.
        mean_a, mean_b: the means over the paired faces (not the files' own summaries,
            which may count other faces).
        difference: ``mean_b - mean_a``; ci_low / ci_high: its interval.
        b_better, a_better: faces on which each model is better (ties in neither).
        higher_is_better: the figure's direction.
    """

    set: str
    metric: str
    faces: int
    only_a: int
    only_b: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    b_better: int
    a_better: int
    higher_is_better: bool

    @property
    def verdict(self) -> str:
        if self.faces < MIN_FACES:
            return "too few faces"
        # the interval of B's gain over A: the difference itself, or its negative for errors
        sign = 1.0 if self.higher_is_better else -1.0
        lo, hi = sorted((sign * self.ci_low, sign * self.ci_high))
        if lo > 0:
            return "B better"
        if hi < 0:
            return "A better"
        return "within noise"

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "verdict": self.verdict}


def compare_metric(set_name: str, metric: str, a, b, only_a: int = 0, only_b: int = 0,
                   confidence: float = 0.95, resamples: int = 10_000,
                   seed: int = 0) -> MetricComparison:
    """Compare one figure on paired faces (``a[i]`` and ``b[i]`` are the same face)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = b - a
    low, high = paired_interval(diff, confidence, resamples, seed)
    up = higher_is_better(metric)
    gain = diff if up else -diff
    return MetricComparison(
        set=set_name, metric=metric, faces=len(diff), only_a=only_a, only_b=only_b,
        mean_a=round(float(a.mean()), 4), mean_b=round(float(b.mean()), 4),
        difference=round(float(diff.mean()), 4), ci_low=round(low, 4), ci_high=round(high, 4),
        b_better=int((gain > 0).sum()), a_better=int((gain < 0).sum()), higher_is_better=up)


def _keyed(rows) -> Dict[Tuple[str, int], Dict[str, object]]:
    """``[(image, {metric: value})]`` -> ``{(image, occurrence): metrics}``."""
    out: Dict[Tuple[str, int], Dict[str, object]] = {}
    seen: Dict[str, int] = {}
    for image, figures in rows:
        k = seen.get(image, 0)
        seen[image] = k + 1
        out[(image, k)] = figures
    return out


def _paired_keys(faces_a: dict, faces_b: dict) -> Tuple[dict, dict]:
    """Both sides keyed by the shortest tail of their image paths that tells every image of
    either file apart: the two files may come from machines with other data roots (so not
    whole paths), and 300W's LFPW train and test photos share their names (so not names)."""
    images = {image for faces in (faces_a, faces_b) for image, _ in faces}
    parts = {image: pathlib.PurePath(image.replace("\\", "/")).parts for image in images}
    depth = 1
    while depth < max((len(p) for p in parts.values()), default=1):
        if all(len({parts[i][-depth:] for i, _ in faces}) == len({i for i, _ in faces})
               for faces in (faces_a, faces_b)):
            break
        depth += 1

    def tail(image):
        return "/".join(parts[image][-depth:])

    return ({(tail(i), k): v for (i, k), v in faces_a.items()},
            {(tail(i), k): v for (i, k), v in faces_b.items()})


def _number(value, path, where):
    """A JSON figure: a finite number, or None (no value for this face)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(path, f"{where}: expected a number or null, got {value!r}")
    return float(value)


def _json_face(row, path, where) -> Tuple[str, Dict[str, object]]:
    if not isinstance(row, dict) or not isinstance(row.get("image"), str):
        raise DataError(path, f"{where}: a face must be an object with an \"image\" name")
    figures: Dict[str, object] = {}
    for key, value in row.items():
        if key in ("image", "found") or key.startswith("reference"):
            continue
        if key.endswith("_error_ypr"):  # a pose run: the face's mean of its 3 angle errors
            if not (isinstance(value, list) and len(value) == 3):
                raise DataError(path, f"{where}.{key}: expected [yaw, pitch, roll] errors")
            angles = [_number(v, path, f"{where}.{key}") for v in value]
            figures[key[:-len("_error_ypr")] + "_pose_mae"] = (
                None if None in angles else float(np.mean(angles)))
        elif isinstance(value, (int, float)) or value is None:
            figures[key] = _number(value, path, f"{where}.{key}")
    return row["image"], figures


def _read_json(path: pathlib.Path) -> Faces:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not JSON: {exc.msg}", line=exc.lineno) from None
    except UnicodeDecodeError:
        raise DataError(path, "not a UTF-8 text file (an lponet end-to-end JSON?)") from None
    if not isinstance(doc, dict):
        raise DataError(path, "expected an lponet end-to-end figures file (a JSON object)")
    sets: Faces = {}
    for name, figures in doc.items():
        if isinstance(figures, dict) and "per_face" in figures:
            faces = figures["per_face"]
            if not isinstance(faces, list):
                raise DataError(path, f"{name}.per_face: expected a list of faces")
            sets[name] = _keyed([_json_face(row, path, f"{name}.per_face[{i}]")
                                 for i, row in enumerate(faces)])
    return sets


def _read_csv(path: pathlib.Path) -> Faces:
    sets: Dict[str, list] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header or "dataset" not in header or "image" not in header:
                raise DataError(path, "expected lponet evaluate's per_face.csv header "
                                      "(dataset, image, ...)", line=1)
            metrics = [c for c in header if c not in CSV_KEY_COLUMNS]
            for row in reader:
                line = reader.line_num
                if len(row) != len(header):
                    raise DataError(path, f"{len(row)} fields, the header has {len(header)}",
                                    line=line)
                cells = dict(zip(header, row))
                figures: Dict[str, object] = {}
                for m in metrics:
                    try:
                        figures[m] = float(cells[m]) if cells[m] != "" else None
                    except ValueError:
                        raise DataError(path, f"{m} = {cells[m]!r} is not a number",
                                        line=line) from None
                    if figures[m] is not None and not math.isfinite(figures[m]):
                        raise DataError(path, f"{m} = {cells[m]!r} is not finite", line=line)
                sets.setdefault(cells["dataset"], []).append((cells["image"], figures))
    except UnicodeDecodeError:
        raise DataError(path, "not a UTF-8 text file (lponet evaluate's per_face.csv?)") from None
    return {name: _keyed(rows) for name, rows in sets.items()}


def read_per_face(path) -> Faces:
    """The per-face figures of an evaluation file, by set and face.

    Args:
        path: an ``lponet end-to-end --output`` JSON, an ``lponet evaluate`` ``per_face.csv``
            or the folder holding it.

    Returns:
        ``{set: {(image as the file names it, occurrence): {figure: value or None}}}``
        (``per_face.csv`` gives the image's path, the end-to-end JSON its file name).

    Raises:
        DataError: the file is missing, not one of those formats, malformed (naming the
            line or the face), or holds no per-face figures.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "per_face.csv"
    if not path.is_file():
        raise DataError(path, "no such file (an lponet end-to-end JSON or lponet evaluate's "
                              "per_face.csv / its folder)")
    sets = _read_json(path) if path.suffix.lower() == ".json" else _read_csv(path)
    if not any(sets.values()):
        raise DataError(path, "holds no per-face figures (an lponet end-to-end --output file "
                              "or lponet evaluate's per_face.csv)")
    return sets


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Every figure two evaluation files share, A against B.

    Attributes:
        a, b: the files.
        rows: one :class:`MetricComparison` per set and figure with paired faces.
        unpaired: ``{set: (faces only in A, faces only in B)}`` for sets in both files.
        sets_only_a, sets_only_b: sets one file has and the other lacks.
        confidence: the intervals' coverage.
    """

    a: str
    b: str
    rows: List[MetricComparison]
    unpaired: Dict[str, Tuple[int, int]]
    sets_only_a: List[str]
    sets_only_b: List[str]
    confidence: float

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "confidence": self.confidence,
                "min_faces": MIN_FACES, "rows": [r.as_dict() for r in self.rows],
                "unpaired": {k: list(v) for k, v in self.unpaired.items()},
                "sets_only_a": self.sets_only_a, "sets_only_b": self.sets_only_b}


def check_settings(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise CompareError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 100:
        raise CompareError(f"resamples must be >= 100, got {resamples}")


def compare_files(a, b, confidence: float = 0.95, resamples: int = 10_000,
                  seed: int = 0) -> Comparison:
    """Compare two evaluation files of the same faces, figure by figure.

    Args:
        a, b: per-face files (:func:`read_per_face`); B is the candidate, A the reference.
        confidence: coverage of each paired-bootstrap interval.
        resamples: bootstrap means per figure.
        seed: resampling seed.

    Returns:
        A :class:`Comparison`; each row's ``verdict`` says which is better or "within noise".

    Raises:
        CompareError: the files share no face (not the same faces), or a bad setting.
        DataError: a file cannot be read (see :func:`read_per_face`).

    Example::

        comparison = compare_files("out/e2e_bundled.json", "out/e2e_candidate.json")
        print(format_markdown(comparison))
    """
    check_settings(confidence, resamples)
    fa, fb = read_per_face(a), read_per_face(b)
    rows: List[MetricComparison] = []
    unpaired: Dict[str, Tuple[int, int]] = {}
    for name in (n for n in fa if n in fb):
        faces_a, faces_b = _paired_keys(fa[name], fb[name])
        common = [k for k in faces_a if k in faces_b]
        unpaired[name] = (len(faces_a) - len(common), len(faces_b) - len(common))
        metrics = dict.fromkeys(m for k in common for m in faces_a[k] if m in faces_b[k])
        for metric in metrics:
            pairs = [(faces_a[k].get(metric), faces_b[k].get(metric)) for k in common]
            both = [(x, y) for x, y in pairs if x is not None and y is not None]
            if not both:
                continue
            x, y = np.array(both, np.float64).T
            only_a = sum(1 for p, q in pairs if p is not None and q is None)
            only_b = sum(1 for p, q in pairs if p is None and q is not None)
            rows.append(compare_metric(name, metric, x, y, only_a, only_b,
                                       confidence, resamples, seed))
    if not rows:
        raise CompareError(f"{a} and {b} share no scored face: they were not run on the same "
                           f"sets and faces (sets: {sorted(fa)} against {sorted(fb)})")
    return Comparison(a=os.fspath(a), b=os.fspath(b), rows=rows, unpaired=unpaired,
                      sets_only_a=[n for n in fa if n not in fb],
                      sets_only_b=[n for n in fb if n not in fa], confidence=confidence)


def format_markdown(comparison: Comparison) -> str:
    """The comparison as a Markdown table, with the files and what was not paired."""
    pct = f"{100 * comparison.confidence:g}%"
    lines = [f"A: {comparison.a}", f"B: {comparison.b}", "",
             f"| set | figure | faces | A | B | B − A | {pct} interval | faces B / A better | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in comparison.rows:
        arrow = "↑" if r.higher_is_better else "↓"
        lines.append(f"| {r.set} | {r.metric} {arrow} | {r.faces} | {r.mean_a:.3f} | "
                     f"{r.mean_b:.3f} | {r.difference:+.3f} | [{r.ci_low:+.3f}, {r.ci_high:+.3f}] | "
                     f"{r.b_better} / {r.a_better} | {r.verdict} |")
    lines.append("")
    lines.append(f"↓ lower is better, ↑ higher. A verdict needs {MIN_FACES} paired faces and the "
                 "whole interval on one side of 0 (paired bootstrap over faces).")
    for r in comparison.rows:
        if r.only_a or r.only_b:
            lines.append(f"{r.set} {r.metric}: {r.only_a} faces scored in A only, "
                         f"{r.only_b} in B only (e.g. found end to end by one model).")
    for name, (only_a, only_b) in comparison.unpaired.items():
        if only_a or only_b:
            lines.append(f"{name}: {only_a} faces in A only, {only_b} in B only (not paired).")
    for label, names in (("A", comparison.sets_only_a), ("B", comparison.sets_only_b)):
        if names:
            lines.append(f"sets only in {label}: {', '.join(names)}")
    return "\n".join(lines) + "\n"
