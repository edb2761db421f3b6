"""Dataset readers: one entry point, :func:`read_dataset`, for every dataset of the paper.

Every reader returns a list of :class:`lponet_tf.data.records.FaceRecord` in the
coordinates of the original image files; a task the dataset does not label is None.

=============== ================================ ======= ==== ==== ===========================
name            module                           lmks    pose mask splits
=============== ================================ ======= ==== ==== ===========================
``300w_lp``     :mod:`.threeddfa`                68      yes  -    subset folder (afw, ...)
``aflw2000``    :mod:`.threeddfa`                68      yes  -    - (|angles| > 99 dropped)
``300w``        :mod:`.ibug`                     68      -    -    train/common/challenge/full
``masked_300w`` :mod:`.ibug`                     68      -    -    as 300w
``wflw``        :mod:`.wflw`                     98->68  -    -    train/test/6 test subsets
``cofw``        :mod:`.cofw`                     COFW-68 -    yes  train/test
``biwi``        :mod:`.biwi`                     -       yes  -    sequence list
``ccm``         :mod:`.masks`                    -       -    yes  sub-folder
``realocc_wild`` :mod:`.masks`                   -       -    yes  sub-folder
=============== ================================ ======= ==== ==== ===========================

No reader imports TensorFlow.
"""
from __future__ import annotations

import glob
import inspect
import pathlib
from typing import Callable, Dict, List, Optional

from lponet_tf.data.readers import _common
from lponet_tf.data.readers.biwi import read_biwi, split_sequences
from lponet_tf.data.readers.cofw import read_cofw
from lponet_tf.data.readers.ibug import read_300w, read_masked_300w
from lponet_tf.data.readers.masks import read_ccm, read_realocc_wild
from lponet_tf.data.readers.threeddfa import check_max_angle_deg, read_300w_lp, read_aflw2000
from lponet_tf.data.readers.wflw import read_wflw
from lponet_tf.data.records import FaceRecord

#: name -> reader ``(root, split=None, **options) -> list[FaceRecord]``.
READERS: Dict[str, Callable[..., List[FaceRecord]]] = {
    "300w_lp": read_300w_lp,
    "aflw2000": read_aflw2000,
    "300w": read_300w,
    "masked_300w": read_masked_300w,
    "wflw": read_wflw,
    "cofw": read_cofw,
    "biwi": read_biwi,
    "ccm": read_ccm,
    "realocc_wild": read_realocc_wild,
}


def list_datasets() -> List[str]:
    """Names :func:`read_dataset` accepts.

    Example:
        >>> "300w_lp" in list_datasets()
        True
    """
    return list(READERS)


def _static_splits() -> Dict[str, tuple]:
    """Readers whose split names do not depend on the data -> the names (None: no splits)."""
    from lponet_tf.data.readers.ibug import SPLITS as PTS_SPLITS
    from lponet_tf.data.readers.wflw import ATTRIBUTE_NAMES

    return {"300w": tuple(PTS_SPLITS), "masked_300w": tuple(PTS_SPLITS),
            "wflw": ("train", "test", *ATTRIBUTE_NAMES), "cofw": ("train", "test"),
            "aflw2000": ()}


def _folder_splits_missing(name: str, split: str, root: pathlib.Path) -> Optional[str]:
    """For readers whose splits are the data's own folders: what ``split`` names that
    ``root`` lacks (a message), or None. Only folder names are listed, no file is read."""
    if name in ("300w_lp", "ccm", "realocc_wild"):
        if _common.child_dir(root, split) is not None:
            return None
        folders = sorted(p.name for p in root.iterdir() if p.is_dir())
        return f"no sub-folder {split!r} in {root}; its folders: {folders or 'none'}"
    if name == "biwi":  # sequence folders sit at any depth (hpdb/NN, faces_0/NN)
        wanted = split_sequences(split)
        present = {s for s in wanted if any(p.is_dir() for p in root.rglob(glob.escape(s)))}
        if wanted <= present:
            return None
        return f"no sequence folder(s) {sorted(wanted - present)} in {root}"
    return None


def check_split(name: str, split: Optional[str], root=None) -> None:
    """Refuse a split the reader of ``name`` cannot read, before any file is read.

    Readers with fixed split names (300w, masked_300w, wflw, cofw, aflw2000) are checked
    by name. Readers whose splits are folders or sequences of the data (300W-LP subsets,
    BIWI sequences, mask datasets' sub-folders) are checked against ``root``'s folders when
    ``root`` is an existing folder, else when they read.

    Args:
        name: a dataset name of :func:`list_datasets`.
        split: the split, or None (always accepted).
        root: the dataset folder, or None.

    Raises:
        ValueError: naming the split and the ones the reader takes.

    Example:
        >>> check_split("300w", "common")
        >>> check_split("cofw", "val")
        Traceback (most recent call last):
        ...
        ValueError: dataset 'cofw' has no split 'val'; its splits: ['train', 'test']
    """
    if split is None:
        return
    key = str(name).lower().replace("-", "_")
    known = _static_splits().get(key)
    if known is not None and split not in known:
        raise ValueError(f"dataset {name!r} has no split {split!r}; "
                         f"its splits: {list(known) if known else 'none'}")
    if known is None and root is not None and pathlib.Path(root).is_dir():
        missing = _folder_splits_missing(key, split, pathlib.Path(root))
        if missing:
            raise ValueError(f"dataset {name!r} split {split!r}: {missing}")


#: Option value checks run by :func:`reader_for` (each raises ValueError), so that a bad
#: value in an eval or training config fails when the config loads, not after reading.
_OPTION_CHECKS: Dict[str, Callable] = {"max_angle_deg": check_max_angle_deg}


def reader_for(name: str, options: Optional[dict] = None) -> Callable[..., List[FaceRecord]]:
    """The reader of dataset ``name``, checked to accept ``options`` (before any reading).

    Raises:
        ValueError: an unknown dataset name, an option its reader does not take (the
            message lists the ones it takes), or an option value it refuses
            (``max_angle_deg`` not None or a finite number > 0).

    Example:
        >>> reader_for("aflw2000", {"max_angle_deg": None}).__name__
        'read_aflw2000'
    """
    key = str(name).lower().replace("-", "_")
    if key not in READERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {list_datasets()}")
    reader = READERS[key]
    takes = [p for p in inspect.signature(reader).parameters if p not in ("root", "split")]
    unknown = sorted(set(options or {}) - set(takes))
    if unknown:
        raise ValueError(f"dataset {name!r} takes no option(s) {unknown}; "
                         f"its options: {takes or 'none'}")
    for option, value in (options or {}).items():  # values too, not only names
        if option in _OPTION_CHECKS:
            _OPTION_CHECKS[option](value)
    return reader


def read_dataset(name: str, root, split: Optional[str] = None, **options) -> List[FaceRecord]:
    """Read a dataset as FaceRecords.

    Args:
        name: one of :func:`list_datasets` (case-insensitive, ``-`` accepted for ``_``).
        root: the dataset's folder as downloaded (each reader's module docstring lists
            the layouts it accepts).
        split: dataset-specific split name (see the table in this module), or None.
        **options: reader-specific keywords, e.g. ``landmarks="pts_3d"`` for 300W-LP,
            ``max_angle_deg=None`` for AFLW2000, ``extract_dir=...`` for COFW.

    Returns:
        list of FaceRecords, ``record.dataset == name``.

    Raises:
        ValueError: unknown dataset name, or an option (name or value) its reader refuses,
            before any file is read.
        DataError: missing root, or bad data (the error names the file, and line).

    Example:
        >>> recs = read_dataset("300w", "/data/300w/afw")  # doctest: +SKIP
        >>> recs[0].landmarks.shape  # doctest: +SKIP
        (68, 2)
    """
    return reader_for(name, options)(root, split, **options)


__all__ = ["READERS", "read_dataset", "reader_for", "check_split", "list_datasets"]
