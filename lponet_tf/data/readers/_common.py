"""Helpers every reader shares: root checks, image look-up, point-array checks."""
from __future__ import annotations

import os
import pathlib
import re
from typing import Iterable, List, Optional

import numpy as np

from lponet_tf.errors import DataError

#: Image extensions a reader looks for next to an annotation file (lower case; the upper
#: case variants are tried too). ``.ppm`` occurs in the iBUG/Menpo distributions.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff")

#: A number as text annotation files write it: decimal, optional sign and exponent, ASCII
#: only, or nan / inf (which the readers refuse separately, with their own message).
#: ``float()`` alone also takes ``"1_0"`` (10) and full-width digits (``"１"``), which no
#: annotation tool writes: a file holding them is corrupt, not a face.
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)",
                    re.IGNORECASE | re.ASCII)


def is_number(text: str) -> bool:
    """Whether ``text`` is one :data:`NUMBER` (what ``float()`` may then read).

    Example:
        >>> is_number("-1.5e3"), is_number("6_11.28"), is_number("\uff18")
        (True, False, False)
    """
    return NUMBER.fullmatch(text) is not None


def require_root(dataset: str, root) -> pathlib.Path:
    """Return ``root`` as a Path, or raise a DataError naming the dataset and path.

    Example:
        >>> require_root("300w", "/nonexistent")  # doctest: +SKIP
        DataError: /nonexistent: 300w dataset root not found (expected a folder)
    """
    path = pathlib.Path(os.fspath(root)).expanduser()
    if not path.is_dir():
        raise DataError(path, f"{dataset} dataset root not found (expected a folder)")
    return path


def child_dir(parent: pathlib.Path, *names: str) -> Optional[pathlib.Path]:
    """First existing sub-folder of ``parent`` whose name matches one of ``names``,
    ignoring case (distributions differ: ``LFPW`` vs ``lfpw``, ``trainset`` vs ``TrainSet``)."""
    if not parent.is_dir():
        return None
    wanted = [n.lower() for n in names]
    entries = {p.name.lower(): p for p in sorted(parent.iterdir()) if p.is_dir()}
    for name in wanted:
        if name in entries:
            return entries[name]
    return None


def image_next_to(stem_path: pathlib.Path) -> Optional[pathlib.Path]:
    """The image file sharing ``stem_path``'s folder and stem, or None.

    Args:
        stem_path: a path whose suffix is ignored, e.g. ``afw/134212_1.pts``.

    Raises:
        DataError: two images share the stem (``a.jpg`` and ``a.png``): which one the
            labels belong to is not known.
    """
    base = stem_path.with_suffix("")
    found: List[pathlib.Path] = []
    for ext in IMAGE_EXTENSIONS:
        for candidate in (base.with_name(base.name + ext), base.with_name(base.name + ext.upper())):
            # a case-insensitive file system finds a.jpg as a.JPG too: one file, not two
            if candidate.is_file() and not any(os.path.samefile(candidate, f) for f in found):
                found.append(candidate)
    if len(found) > 1:
        raise DataError(found[0], f"ambiguous image: {', '.join(f.name for f in found)} share "
                                  f"the stem of {stem_path.name}; keep one")
    return found[0] if found else None


def require_image_next_to(annotation: pathlib.Path) -> pathlib.Path:
    """Like :func:`image_next_to`, but a missing image is a DataError naming the
    annotation file."""
    image = image_next_to(annotation)
    if image is None:
        raise DataError(
            annotation,
            f"missing image: no {annotation.stem}{{{','.join(IMAGE_EXTENSIONS)}}} next to it",
        )
    return image


def files_with_suffix(folder: pathlib.Path, suffix: str, recursive: bool = True,
                      exclude_dirs: Iterable[str] = ()) -> List[pathlib.Path]:
    """Sorted files under ``folder`` ending in ``suffix`` (case-insensitive), skipping
    sub-folders named in ``exclude_dirs`` (case-insensitive)."""
    suffix = suffix.lower()
    excluded = {d.lower() for d in exclude_dirs}
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d.lower() not in excluded)
        found.extend(pathlib.Path(dirpath, f) for f in filenames if f.lower().endswith(suffix))
        if not recursive:
            break
    by_stem = {}
    for path in found:  # a.pts and a.PTS would be two faces of one image
        twin = by_stem.setdefault(str(path)[:-len(suffix)].lower(), path)
        if twin != path:
            raise DataError(path, f"{twin.name} and {path.name} label the same image; keep one")
    return sorted(found)


def check_spread(points: np.ndarray, path, line: Optional[int] = None) -> np.ndarray:
    """``points`` back, or a DataError when they cannot be a face.

    All points in one place (a tool's "no face" placeholder of zeros) or the outer eye
    corners of a 68-point face on top of each other leave no face box to crop and an
    inter-ocular distance of 0, which the NME (Eq. 10) divides by: the evaluation would
    report an infinite error, and training would crop nothing.
    """
    p = np.asarray(points, np.float64)
    extent = p.max(axis=0) - p.min(axis=0)
    if np.any(extent < 1e-3):
        raise DataError(path, "the landmarks have no extent (all on one point or one line: a "
                              "placeholder, not a face)", line)
    if len(p) == 68 and np.linalg.norm(p[36] - p[45]) < 1e-3:
        raise DataError(path, "the outer eye corners (points 37 and 46) coincide: no "
                              "inter-ocular distance", line)
    return points


def check_box(box, path, line: Optional[int] = None, what: str = "box") -> np.ndarray:
    """``box`` (``x0, y0, x1, y1``) back, or a DataError when it has no area (``x1 <= x0``
    or ``y1 <= y0``: inverted, or width / height 0 or less) or a non-finite value: a face
    cropped from it would fail later, naming no file.

    Example:
        >>> check_box([10, 20, 50, 60], "a.txt").tolist()
        [10.0, 20.0, 50.0, 60.0]
    """
    b = np.asarray(box, np.float64).reshape(4)
    if not np.all(np.isfinite(b)) or b[2] <= b[0] or b[3] <= b[1]:
        raise DataError(path, f"{what} has no area or is not finite: x0, y0, x1, y1 = "
                              f"{[float(v) for v in b]} (needs x1 > x0 and y1 > y0)", line)
    return b


def as_points(array, path, key: str, count: int = 68) -> np.ndarray:
    """Coerce a MATLAB point matrix to ``(count, 2)``.

    Accepts ``2 x N`` / ``3 x N`` (coordinates in rows, as 3DDFA stores them) and
    ``N x 2`` / ``N x 3`` (points in rows, as the ``landmarks/`` files and COFW-68 do);
    a third coordinate (depth) is dropped.

    Raises:
        DataError: naming ``path`` and ``key`` when the array holds a different number of
            points or is not a 2-D numeric matrix.
    """
    a = np.asarray(array)
    if a.dtype == object or a.ndim != 2:
        raise DataError(path, f"'{key}' is not a 2-D numeric matrix (shape {a.shape})")
    if a.shape[0] in (2, 3) and a.shape[1] == count:
        pts = a[:2].T
    elif a.shape[1] in (2, 3) and a.shape[0] == count:
        pts = a[:, :2]
    else:
        raise DataError(path, f"'{key}' should hold {count} points, got shape {a.shape}")
    pts = pts.astype(np.float64)
    if not np.all(np.isfinite(pts)):
        raise DataError(path, f"'{key}' has non-finite coordinates")
    return pts


def mat_field(mat: dict, path, key: str, size: Optional[int] = None) -> np.ndarray:
    """``mat[key]`` as a float array, or a DataError naming the file and the key.

    Args:
        size: when given, the number of elements the field must hold at least.
    """
    if key not in mat:
        raise DataError(path, f"missing variable '{key}'")
    try:
        value = np.asarray(mat[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(path, f"'{key}' is not numeric") from None
    if size is not None and value.size < size:
        raise DataError(path, f"'{key}' should have at least {size} values, got {value.size}")
    return value
