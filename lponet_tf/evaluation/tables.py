"""The paper's result tables, filled from an evaluation, as Markdown and JSON.

Input is the ``datasets`` part of :func:`lponet_tf.evaluation.evaluate.evaluate_config`'s
result: ``{key: summary}`` where a summary of an evaluated dataset looks like::

    {"status": "evaluated", "faces": 689,
     "landmarks": {"all": {"nme": 3.39, "faces": 689, ...}, "common": {...}, ...},
     "pose": {"all": {"yaw": 2.83, "pitch": 4.56, "roll": 3.30, "mean": 3.56,
                      "geodesic": 0.093, "faces": 1969}},
     "occlusion": {"all": {"miou": 93.17, "faces": 500}},
     "variants": {"none": summary, "left": summary, ...}}   # AFLW2000-SO only

Each table keeps the paper's column layout (Tables 1, 2, 4, 5, 7, 8, 9); a cell whose
dataset or subset was not evaluated is ``None`` in JSON and "–" in Markdown. Every cell
carries the number of faces behind it. Markdown has one header row, so the paper's
two-level headers become "group · column" names.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

#: What Markdown shows for a cell without data.
MISSING = "–"

#: AFLW2000-SO variants in Table 9's row order ("none" is plain AFLW2000).
SO_VARIANTS = ("none", "left", "top", "right", "bottom", "middle")
#: WFLW test subsets in Table 4's column order (attribute names of the WFLW reader).
WFLW_SUBSETS = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
ANGLES = ("yaw", "pitch", "roll", "mean")


@dataclasses.dataclass
class Cell:
    """One number of a table.

    Attributes:
        value: the number, or None when there is no data for it.
        faces: faces behind it (None for derived cells without a single count).
        digits: decimals shown in Markdown.
        partial: True for a mean over fewer columns than the paper's (some missing).
    """

    value: Optional[float]
    faces: Optional[int] = None
    digits: int = 2
    partial: bool = False

    def text(self) -> str:
        if self.value is None:
            return MISSING
        return f"{self.value:.{self.digits}f}" + ("*" if self.partial else "")

    def to_json(self) -> dict:
        out = {"value": None if self.value is None else float(self.value), "faces": self.faces}
        if self.partial:
            out["partial"] = True
        return out


@dataclasses.dataclass
class Table:
    """A result table in the paper's layout.

    Attributes:
        key: ``"table1"``, ``"table2"``, ... or ``"summary"``.
        title: caption (names the paper's table).
        columns: header of each value column.
        rows: ``(row label, cells)``; one cell per column.
        first_column: header of the label column (``"Method"`` in most paper tables).
        notes: lines printed under the table.
    """

    key: str
    title: str
    columns: List[str]
    rows: List[Tuple[str, List[Cell]]]
    first_column: str = "Method"
    notes: List[str] = dataclasses.field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return any(c.value is not None for _, cells in self.rows for c in cells)

    def to_markdown(self) -> str:
        """The table as GitHub Markdown (header, rows, then the notes).

        Example:
            >>> t = Table("t", "T", ["A"], [("m", [Cell(1.234), ])])
            >>> print(t.to_markdown().splitlines()[2])
            | Method | A |
        """
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join([self.first_column, *self.columns]) + " |")
        lines.append("|" + "---|" + "---:|" * len(self.columns))
        for label, cells in self.rows:
            lines.append("| " + " | ".join([label, *(c.text() for c in cells)]) + " |")
        if any(c.partial for _, cells in self.rows for c in cells):
            lines.append("")
            lines.append("\\* mean over the evaluated columns only (others have no data).")
        if self.notes:
            lines.append("")
            lines.extend(self.notes)
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "first_column": self.first_column,
            "columns": list(self.columns),
            "rows": [{"label": label, "cells": [c.to_json() for c in cells]}
                     for label, cells in self.rows],
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------- look-ups
def _group(results: Mapping, key: str, task: str, group: str = "all") -> Optional[Mapping]:
    summary = results.get(key) or {}
    if summary.get("status") != "evaluated":
        return None
    return ((summary.get(task) or {}).get(group)) or None


def metric(results: Mapping, key: str, task: str, field: str, group: str = "all",
           digits: int = 2) -> Cell:
    """The cell for ``results[key][task][group][field]``, or an empty cell.

    Example:
        >>> r = {"300w": {"status": "evaluated", "landmarks": {"all": {"nme": 3.4, "faces": 9}}}}
        >>> metric(r, "300w", "landmarks", "nme").text(), metric(r, "wflw", "landmarks", "nme").text()
        ('3.40', '–')
    """
    g = _group(results, key, task, group)
    if g is None or g.get(field) is None:
        return Cell(None, None, digits)
    return Cell(float(g[field]), int(g.get("faces", 0)), digits)


def mean_cell(cells: Sequence[Cell], digits: int = 2) -> Cell:
    """Mean of the cells that have a value; partial when some have none.

    Example:
        >>> mean_cell([Cell(2.0, 5), Cell(4.0, 7)]).value, mean_cell([Cell(2.0), Cell(None)]).partial
        (3.0, True)
    """
    values = [c.value for c in cells if c.value is not None]
    if not values:
        return Cell(None, None, digits)
    return Cell(sum(values) / len(values), None, digits, partial=len(values) < len(cells))


def faces_note(pairs: Sequence[Tuple[str, Cell]]) -> str:
    """``"Faces: 300W test 689 · WFLW test –"``: the face count behind each data column.

    Example:
        >>> faces_note([("AFLW2K", Cell(3.5, 1969)), ("BIWI", Cell(None))])
        'Faces: AFLW2K 1969 · BIWI –'
    """
    return "Faces: " + " · ".join(
        f"{name} {MISSING if c.faces is None else c.faces}" for name, c in pairs)


def pose_cells(results: Mapping, key: str, variant: Optional[str] = None) -> List[Cell]:
    """Yaw, pitch, roll, mean MAE cells of one pose dataset (or of one SO variant)."""
    if variant is not None:
        summary = (results.get(key) or {})
        inner = (summary.get("variants") or {}) if summary.get("status") == "evaluated" else {}
        results, key = inner, variant
    return [metric(results, key, "pose", angle) for angle in ANGLES]


# ----------------------------------------------------------------------------- tables
def _split(results: Mapping, key: str) -> Optional[str]:
    return (results.get(key) or {}).get("split")


def _300w_test_nme(results: Mapping, key: str = "300w") -> Cell:
    """The paper's 300W test set: common + challenge (554 + 135 = 689 faces), whatever else
    the entry read (its training photos without ``split: full``). Mean NME is a mean over
    faces, so the two subsets' means weighted by their faces are the test set's; empty when
    either subset is missing (a ``split: challenge`` entry is not the full test set)."""
    common, challenge = (metric(results, key, "landmarks", "nme", group=g)
                         for g in ("common", "challenge"))
    if common.value is None or challenge.value is None:
        return Cell(None, None, 2)
    every = metric(results, key, "landmarks", "nme")
    faces = common.faces + challenge.faces
    if every.faces == faces:  # the entry is the test set: its own mean, unrounded
        return every
    return Cell((common.value * common.faces + challenge.value * challenge.faces) / faces, faces, 2)


def _300w_full(results: Mapping, key: str) -> Tuple[Cell, List[str]]:
    """Tables 5 and 8's "Full" and the note it needs: the test set (:func:`_300w_test_nme`);
    for an entry without the official subsets (a holdout of 300W training photos,
    ``300w_subset``) all its faces, said so under the table."""
    full = _300w_test_nme(results, key)
    has_subsets = any(_group(results, key, "landmarks", g) for g in ("common", "challenge"))
    if full.value is not None or has_subsets:
        note = [] if full.value is not None else [
            f"Full: `{key}` has only one of the common / challenge subsets "
            f"(split {_split(results, key)!r}): not the paper's test set, left empty."]
        return full, note
    every = metric(results, key, "landmarks", "nme")
    if every.value is None:
        return every, []
    return every, [f"Full: all {every.faces} faces of `{key}`, which has no common / challenge "
                   "subsets (not the paper's test set)."]


def _with_split(results: Mapping, key: str, wanted: str, cell: Cell,
                notes: List[str], what: str) -> Cell:
    """``cell`` when the entry read the paper's split ``wanted``; else an empty cell and a
    note (a mixed train + test entry must not pass for the test set)."""
    split = _split(results, key)
    if cell.value is None or split == wanted:
        return cell
    notes.append(f"{what}: `{key}` was read with split {split!r}, not the paper's "
                 f"{wanted!r}: left empty.")
    return Cell(None, None, cell.digits)


def table1(results: Mapping, label: str) -> Table:
    """Table 1: NME 300W / WFLW, MAE AFLW2K / BIWI, mIoU COFW / RealOcc-W, TME (Eq. 13).

    TME = (NME + MAE + (100 - mIoU)) / 3, each term the mean over the task's two test
    sets (this reproduces every TME of the paper's Table 1 from its other columns).
    """
    split_notes: List[str] = []
    nme = [_300w_test_nme(results),
           _with_split(results, "wflw", "test", metric(results, "wflw", "landmarks", "nme"),
                       split_notes, "WFLW test")]
    mae = [metric(results, "aflw2000", "pose", "mean"), metric(results, "biwi", "pose", "mean")]
    miou = [_with_split(results, "cofw", "train", metric(results, "cofw", "occlusion", "miou"),
                        split_notes, "COFW train"),
            metric(results, "realocc_wild", "occlusion", "miou")]
    terms = [mean_cell(nme), mean_cell(mae), mean_cell(miou)]
    if all(t.value is not None for t in terms):
        from lponet_tf.metrics import tme as total_mean_error  # imports Keras: only when needed

        tme = Cell(total_mean_error(*(t.value for t in terms)), None, 2,
                   partial=any(t.partial for t in terms))
    else:
        tme = Cell(None)
    columns = ["NME (%) 300W test", "NME (%) WFLW test", "MAE (°) AFLW2K", "MAE (°) BIWI",
               "mIoU (%) COFW train", "mIoU (%) RealOcc-W", "TME"]
    cells = [*nme, *mae, *miou, tme]
    notes = [faces_note(list(zip(["300W test", "WFLW test", "AFLW2K", "BIWI", "COFW train",
                                  "RealOcc-W"], cells)))]
    notes.append("TME (Eq. 13) = (NME + MAE + (100 - mIoU)) / 3, each the mean of its two "
                 "test sets; needs at least one set per task.")
    notes.extend(split_notes)
    return Table("table1", "Table 1 — landmark NME, head-pose MAE, occlusion mIoU and TME",
                 columns, [(label, cells)], notes=notes)


def table2(results: Mapping, label: str) -> Table:
    """Table 2: MAE in Euler angles (°) and geodesic distance (rad), AFLW2K / BIWI / mean."""
    mae = [metric(results, "aflw2000", "pose", "mean"), metric(results, "biwi", "pose", "mean")]
    geo = [metric(results, "aflw2000", "pose", "geodesic", digits=3),
           metric(results, "biwi", "pose", "geodesic", digits=3)]
    columns = ["MAE Euler (°) AFLW 2K", "MAE Euler (°) BIWI", "MAE Euler (°) Mean",
               "Geo. dist. (rad) AFLW 2K", "Geo. dist. (rad) BIWI", "Geo. dist. (rad) Mean"]
    cells = [*mae, mean_cell(mae), *geo, mean_cell(geo, digits=3)]
    notes = [faces_note([("AFLW 2K", mae[0]), ("BIWI", mae[1])])]
    return Table("table2", "Table 2 — head-pose error in Euler angles and geodesic distance",
                 columns, [(label, cells)], first_column="Pose Rep.", notes=notes)


def table4(results: Mapping, label: str) -> Table:
    """Table 4: NME (%) on the WFLW test set and its six attribute subsets."""
    columns = ["Test", "Pose", "Expression", "Illumination", "Make-up", "Occlusion", "Blur"]
    notes: List[str] = []
    cells = [_with_split(results, "wflw", "test", metric(results, "wflw", "landmarks", "nme"),
                         notes, "Test")]
    # the subsets are test faces with a flag: an entry of one subset fills its own column
    cells += [_with_split(results, "wflw", "test" if _split(results, "wflw") != g else g,
                          metric(results, "wflw", "landmarks", "nme", group=g), notes, column)
              for g, column in zip(WFLW_SUBSETS, columns[1:])]
    return Table("table4", "Table 4 — landmark NME (%) on WFLW", columns, [(label, cells)],
                 notes=[faces_note(list(zip(columns, cells))), *notes])


def _common_challenge_full(results: Mapping, key: str) -> Tuple[List[Cell], List[str]]:
    full, notes = _300w_full(results, key)
    return [metric(results, key, "landmarks", "nme", group="common"),
            metric(results, key, "landmarks", "nme", group="challenge"), full], notes


def table5(results: Mapping, label: str) -> Table:
    """Table 5: NME (%) on 300W common / challenge / full (common + challenge)."""
    columns = ["Common", "Challenge", "Full"]
    cells, notes = _common_challenge_full(results, "300w")
    return Table("table5", "Table 5 — landmark NME (%) on 300W", columns, [(label, cells)],
                 notes=[faces_note(list(zip(columns, cells))), *notes])


def table7(results: Mapping, label: str) -> Table:
    """Table 7: yaw / pitch / roll / mean MAE (°) on AFLW2000 and BIWI."""
    columns = [f"AFLW2000 {a.capitalize()}" for a in ANGLES] + [f"BIWI {a.capitalize()}" for a in ANGLES]
    cells = pose_cells(results, "aflw2000") + pose_cells(results, "biwi")
    notes = [faces_note([("AFLW2000", cells[3]), ("BIWI", cells[7])])]
    return Table("table7", "Table 7 — head-pose MAE (°) on AFLW2000 and BIWI", columns,
                 [(label, cells)], notes=notes)


def table8(results: Mapping, label: str) -> Table:
    """Table 8: NME (%) on Masked 300W common / challenge / full."""
    columns = ["Common", "Challenge", "Full"]
    cells, notes = _common_challenge_full(results, "masked_300w")
    return Table("table8", "Table 8 — landmark NME (%) on Masked 300W", columns,
                 [(label, cells)], notes=[faces_note(list(zip(columns, cells))), *notes])


def table9(results: Mapping, label: str) -> Table:
    """Table 9: MAE (°) on AFLW2000-SO by occluded part; "None" is plain AFLW2000.

    The "None" row is the SO entry's own un-occluded pass when it has one, else the
    ``aflw2000`` entry.
    """
    columns = [a.capitalize() for a in ANGLES]
    rows = []
    for variant in SO_VARIANTS:
        cells = pose_cells(results, "aflw2000_so", variant)
        if variant == "none" and all(c.value is None for c in cells):
            cells = pose_cells(results, "aflw2000")
        rows.append((variant.capitalize(), cells))
    notes = [faces_note([(name, cells[0]) for name, cells in rows]), f"Model: {label}."]
    return Table("table9", "Table 9 — head-pose MAE (°) on AFLW2000-SO by occluded part",
                 columns, rows, first_column="Occluded part", notes=notes)


def summary_table(results: Mapping) -> Table:
    """Every dataset of the config, evaluated or not, with its headline numbers."""
    columns = ["Faces", "NME (%)", "Yaw", "Pitch", "Roll", "MAE (°)", "Geo. (rad)", "mIoU (%)"]
    rows, notes = [], []
    for key, summary in results.items():
        if summary.get("status") != "evaluated":
            rows.append((key, [Cell(None) for _ in columns]))
            notes.append(f"- `{key}`: {summary.get('message', summary.get('status'))}")
            continue
        cells = [Cell(float(summary.get("faces", 0)), summary.get("faces"), 0),
                 metric(results, key, "landmarks", "nme"),
                 *pose_cells(results, key),
                 metric(results, key, "pose", "geodesic", digits=3),
                 metric(results, key, "occlusion", "miou")]
        rows.append((key, cells))
        variants = summary.get("variants") or {}
        for name in variants:
            sub = {name: variants[name]}
            rows.append((f"{key} / {name}",
                         [Cell(float(variants[name].get("faces", 0)), variants[name].get("faces"), 0),
                          Cell(None), *pose_cells(sub, name),
                          metric(sub, name, "pose", "geodesic", digits=3), Cell(None)]))
    return Table("summary", "All datasets of the config", columns, rows,
                 first_column="Dataset", notes=notes)


PAPER_TABLES = (table1, table2, table4, table5, table7, table8, table9)


def build_tables(results: Mapping, model_label: str, pose_label: str) -> List[Table]:
    """The paper's tables (1, 2, 4, 5, 7, 8, 9) and the per-dataset summary.

    Args:
        results: ``{key: dataset summary}``.
        model_label: row label for the evaluated model (e.g. the model file's name).
        pose_label: Table 2's row label (``"6DRotRep"`` or ``"3D Euler"``).

    Returns:
        Tables in paper order, then the summary.

    Example:
        >>> [t.key for t in build_tables({}, "m", "6DRotRep")][:3]
        ['table1', 'table2', 'table4']
    """
    tables = [f(results, pose_label if f is table2 else model_label) for f in PAPER_TABLES]
    return tables + [summary_table(results)]


def tables_to_json(tables: Sequence[Table]) -> Dict[str, dict]:
    """``{table.key: table.to_json()}``."""
    return {t.key: t.to_json() for t in tables}
