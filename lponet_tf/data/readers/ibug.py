"""300W and Masked 300W: images with iBUG ``.pts`` files.

Two layouts are accepted.

**Official 300W layout** (as distributed by iBUG and as mmpose documents it; the folder
names are matched case-insensitively, and an ``images/`` level above them is allowed)::

    root/
      afw/                 337 faces   -> train
      helen/trainset/     2000 faces   -> train
      helen/testset/       330 faces   -> common
      lfpw/trainset/       811 faces   -> train
      lfpw/testset/        224 faces   -> common
      ibug/                135 faces   -> challenge

A two-level folder may also be one flattened name, ``helen_trainset/``, ``lfpw_testset/``
(``-`` or ``_``): copies of 300W are often laid out so, and the name says the subset as
plainly.

``split``: ``"train"`` (3148 = lfpw/trainset + helen/trainset + afw), ``"common"`` (554 =
lfpw/testset + helen/testset), ``"challenge"`` (135 = ibug), ``"full"`` or ``"test"`` (689 =
common + challenge), or None for all of them. The counts are those of the full download; a
partial copy reads whatever is there. Each record's ``attributes`` hold ``subset``
(``"train"``, ``"common"`` or ``"challenge"``) and ``source`` (``"afw"``, ``"helen"``,
``"lfpw"``, ``"ibug"``).

**Any folder of image + ``.pts`` pairs** (e.g. ``/data/300w/afw``, a Menpo
folder): every ``NAME.pts`` below ``root`` (recursively) with an image ``NAME.<ext>`` beside
it. With ``split=None`` this is what is read in every layout (faces inside the official
folders still get their ``subset``); a ``split`` needs the official layout.

Masked 300W (Zhu et al., ICCV 2021) is read the same way: it is the 300W test set with
synthetic masks drawn on the images and the original ``.pts`` kept. The assumed layout is
the official one restricted to the test folders (``lfpw/testset``, ``helen/testset``,
``ibug``), or any folder of pairs. Records carry ``attributes["masked"] = True``.
"""
from __future__ import annotations

import pathlib
from typing import Dict, List, Optional, Tuple

import numpy as np

from lponet_tf.data.pts import read_pts
from lponet_tf.data.readers import _common
from lponet_tf.data.records import FaceRecord
from lponet_tf.errors import DataError

# (source, sub-path, subset) of the official layout. The sub-path is matched
# case-insensitively, one level at a time.
_OFFICIAL_FOLDERS: Tuple[Tuple[str, Tuple[str, ...], str], ...] = (
    ("lfpw", ("lfpw", "trainset"), "train"),
    ("helen", ("helen", "trainset"), "train"),
    ("afw", ("afw",), "train"),
    ("lfpw", ("lfpw", "testset"), "common"),
    ("helen", ("helen", "testset"), "common"),
    ("ibug", ("ibug",), "challenge"),
)
#: The two-level folders also as one flattened name (``helen_trainset``, ``lfpw-testset``).
_OFFICIAL_FOLDERS += tuple((source, (f"{parts[0]}{sep}{parts[1]}",), subset)
                           for source, parts, subset in _OFFICIAL_FOLDERS if len(parts) == 2
                           for sep in ("_", "-"))

#: split name -> the subsets it contains.
SPLITS: Dict[str, Tuple[str, ...]] = {
    "train": ("train",),
    "common": ("common",),
    "challenge": ("challenge",),
    "full": ("common", "challenge"),
    "test": ("common", "challenge"),
}


def _resolve(parent: pathlib.Path, parts: Tuple[str, ...]) -> Optional[pathlib.Path]:
    folder = parent
    for part in parts:
        folder = _common.child_dir(folder, part)
        if folder is None:
            return None
    return folder


def official_layout(root: pathlib.Path) -> Optional[Dict[Tuple[str, str], List[pathlib.Path]]]:
    """Find the official 300W folders under ``root`` (or ``root/images``).

    Returns:
        ``{(source, subset): [folders]}`` for the folders present, or None when none of
        them exists (then ``root`` is read as a plain folder of pairs).
    """
    for base in (root, _common.child_dir(root, "images")):
        if base is None:
            continue
        found: Dict[Tuple[str, str], List[pathlib.Path]] = {}
        for source, parts, subset in _OFFICIAL_FOLDERS:
            folder = _resolve(base, parts)
            if folder is not None:
                found.setdefault((source, subset), []).append(folder)
        if found:
            return found
    return None


#: ``pts_origin`` values: 0 keeps the files' numbers (the default, what the bundled model
#: learned), 1 reads them as 1-based (iBUG's MATLAB convention) and subtracts 1.
PTS_ORIGINS = (0, 1)


def _record(pts_path: pathlib.Path, dataset: str, attributes: dict,
            pts_origin: int = 0) -> FaceRecord:
    landmarks = read_pts(pts_path, expected_points=68) - float(pts_origin)
    landmarks = _common.check_spread(landmarks.astype(np.float32), pts_path)
    image = _common.require_image_next_to(pts_path)
    return FaceRecord(
        image_path=str(image), landmarks=landmarks,
        attributes={**attributes, "annotation_path": str(pts_path)}, dataset=dataset,
    )


def _official_labels(pts_path: pathlib.Path, layout) -> dict:
    for (source, subset), folders in layout.items():
        if any(folder in pts_path.parents for folder in folders):
            return {"subset": subset, "source": source}
    return {}


def read_pts_dataset(root, split: Optional[str] = None, *, dataset: str = "300w",
                     extra_attributes: Optional[dict] = None,
                     pts_origin: int = 0) -> List[FaceRecord]:
    """Read 300W-style data (see the module docstring for layouts and splits).

    Args:
        root: dataset folder.
        split: ``"train"``, ``"common"``, ``"challenge"``, ``"full"``/``"test"`` or None
            (official layout); must be None for a plain folder of pairs.
        dataset: name stored in ``FaceRecord.dataset``.
        extra_attributes: added to every record's attributes.
        pts_origin: 0: the coordinates as stored (the project's convention; the bundled
            model was trained so); 1: the files are 1-based (the iBUG / MATLAB convention
            of 300W, which menpo follows) and 1 is subtracted, putting them on 0-based pixel
            centres -- for mixing 300W with a 0-based set, or comparing with tools that
            subtract it (docs/CONVENTIONS.md, "Coordinates").

    Returns:
        FaceRecords with 68 landmarks, no pose, no mask, no box; sorted by path within
        each folder.

    Raises:
        DataError: missing root, a ``.pts`` without its image, a malformed ``.pts`` or one
            with other than 68 points, an unknown split, or a split asked of a plain folder.

    Example:
        >>> recs = read_pts_dataset("/data/300W", split="challenge")  # doctest: +SKIP
        >>> len(recs), recs[0].attributes["subset"]  # doctest: +SKIP
        (135, 'challenge')
    """
    root = _common.require_root(dataset, root)
    if isinstance(pts_origin, bool) or pts_origin not in PTS_ORIGINS:
        raise DataError(root, f"pts_origin must be 0 (as stored) or 1 (1-based files), "
                              f"got {pts_origin!r}")
    extra = dict(extra_attributes or {})
    if split is not None and split not in SPLITS:
        raise DataError(root, f"unknown {dataset} split {split!r}; expected one of {sorted(SPLITS)}")
    layout = official_layout(root) or {}
    if split is None:
        # Everything below root, whatever the layout; faces inside the official folders
        # are labelled with their subset.
        records = [_record(p, dataset, {**extra, **_official_labels(p, layout)}, pts_origin)
                   for p in _common.files_with_suffix(root, ".pts")]
    else:
        if not layout:
            raise DataError(
                root, f"split {split!r} needs the official 300W layout (afw/, helen/, ibug/, "
                      f"lfpw/), but this is a plain folder of image + .pts pairs")
        official = [f for folders in layout.values() for f in folders]
        stray = [p for p in _common.files_with_suffix(root, ".pts")
                 if not any(f in p.parents for f in official)]
        if stray:  # a split could not say where they belong: not silently left out
            where = sorted({str(p.parent.relative_to(root)) for p in stray})
            raise DataError(root, f"split {split!r}: {len(stray)} faces are in none of the "
                                  f"official 300W folders ({', '.join(where[:3])}"
                                  f"{', ...' if len(where) > 3 else ''}), so no split can "
                                  "place them; read without a split, or move them")
        records = []
        for (source, subset), folders in layout.items():
            if subset in SPLITS[split]:
                for folder in folders:
                    records.extend(
                        _record(p, dataset, {**extra, "subset": subset, "source": source},
                                pts_origin)
                        for p in _common.files_with_suffix(folder, ".pts"))
    if not records:
        raise DataError(root, f"no {dataset} faces (.pts files) found" +
                        ("" if split is None else f" for split {split!r}"))
    return records


def read_300w(root, split: Optional[str] = None, pts_origin: int = 0) -> List[FaceRecord]:
    """300W (``.pts``). See :func:`read_pts_dataset`."""
    return read_pts_dataset(root, split, dataset="300w", pts_origin=pts_origin)


def read_masked_300w(root, split: Optional[str] = None, pts_origin: int = 0) -> List[FaceRecord]:
    """Masked 300W: the 300W test layout with masked images. See :func:`read_pts_dataset`."""
    return read_pts_dataset(root, split, dataset="masked_300w", extra_attributes={"masked": True},
                            pts_origin=pts_origin)
