"""WFLW (Wu et al., CVPR 2018): ``list_98pt_rect_attr_{train,test}.txt`` + images.

Each line of the annotation file is 207 whitespace-separated fields::

    x0 y0 ... x97 y97   x_min y_min x_max y_max   pose expression illumination make-up occlusion blur   path

i.e. 196 landmark coordinates, the face box, six 0/1 attribute flags and the image path
relative to ``WFLW_images/``. Accepted layout (the official download)::

    root/
      WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt
      WFLW_images/<event>/<name>.jpg

The annotation file may also sit directly in ``root`` or anywhere below it (found by
name), and images are looked up in ``root/WFLW_images``, ``root`` and next to the
annotation file, in that order.

The 98 points are converted to iBUG-68 with :func:`lponet_tf.data.landmark_sets.wflw98_to_68`;
the original 98 are kept in ``attributes["landmarks_98"]``, the six flags in
``attributes`` under the names of :data:`ATTRIBUTE_NAMES`, and the box in ``FaceRecord.box``.
"""
from __future__ import annotations

import pathlib
from typing import List, Optional

import numpy as np

from lponet_tf.data.landmark_sets import wflw98_to_68
from lponet_tf.data.readers import _common
from lponet_tf.data.records import FaceRecord
from lponet_tf.errors import DataError
from lponet_tf.fileio import read_text_lines

#: The six attribute flags, in file order; they define WFLW's six test subsets.
ATTRIBUTE_NAMES = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
_N_COORDS = 196
_N_NUMBERS = _N_COORDS + 4 + len(ATTRIBUTE_NAMES)


def annotation_file(root: pathlib.Path, part: str) -> pathlib.Path:
    """The ``list_98pt_rect_attr_<part>.txt`` file for ``part`` in ("train", "test")."""
    name = f"list_98pt_rect_attr_{part}.txt"
    for candidate in (root / name,
                      root / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / name,
                      root / "list_98pt_rect_attr_train_test" / name):
        if candidate.is_file():
            return candidate
    found = [p for p in _common.files_with_suffix(root, ".txt") if p.name == name]
    if not found:
        raise DataError(root, f"WFLW annotation file {name} not found under the dataset root")
    return found[0]


def parse_line(text: str, path, line: int) -> tuple:
    """Parse one annotation line.

    Returns:
        ``(points98 (98, 2) float64, box (4,) float64, flags dict, relative image path)``.

    Raises:
        DataError: naming ``path`` and ``line`` when a field is missing or not a number.
    """
    fields = text.split()
    if len(fields) < _N_NUMBERS + 1:
        raise DataError(path, f"expected {_N_NUMBERS} numbers and an image path, "
                              f"got {len(fields)} fields", line)
    # float() alone also takes "6_11.28" and full-width digits: the shared pattern first
    bad = next((v for v in fields[:_N_NUMBERS] if not _common.is_number(v)), None)
    if bad is not None:
        raise DataError(path, f"not a number: {bad!r}", line)
    numbers = np.array([float(v) for v in fields[:_N_NUMBERS]], dtype=np.float64)
    if not np.all(np.isfinite(numbers)):
        raise DataError(path, "non-finite value", line)
    flags_raw = numbers[_N_COORDS + 4:]
    if not np.all(np.isin(flags_raw, (0.0, 1.0))):
        raise DataError(path, f"attribute flags must be 0 or 1, got {flags_raw.tolist()}", line)
    points = numbers[:_N_COORDS].reshape(98, 2)
    box = numbers[_N_COORDS:_N_COORDS + 4]
    flags = {name: int(v) for name, v in zip(ATTRIBUTE_NAMES, flags_raw)}
    # Paths do not contain spaces in WFLW, but joining keeps one that does intact.
    return points, box, flags, " ".join(fields[_N_NUMBERS:])


def read_wflw(root, split: Optional[str] = None) -> List[FaceRecord]:
    """Read WFLW as 68-point records.

    Args:
        root: dataset folder (see the module docstring).
        split: ``"train"``, ``"test"``, one of the six test subsets (``"pose"``,
            ``"expression"``, ``"illumination"``, ``"makeup"``, ``"occlusion"``,
            ``"blur"``: test faces whose flag is 1), or None for train + test.

    Returns:
        FaceRecords in file order, with ``landmarks`` (68 x 2, converted), ``box``,
        ``attributes`` = the six flags, ``split`` and ``landmarks_98``.

    Raises:
        DataError: missing root or annotation file, malformed line (file and line
            named; a box with no area included), missing image (file and line named).

    Example:
        >>> recs = read_wflw("/data/WFLW", split="occlusion")  # doctest: +SKIP
        >>> all(r.attributes["occlusion"] == 1 for r in recs)  # doctest: +SKIP
        True
    """
    root = _common.require_root("wflw", root)
    if split is None:
        parts, subset = ("train", "test"), None
    elif split in ("train", "test"):
        parts, subset = (split,), None
    elif split in ATTRIBUTE_NAMES:
        parts, subset = ("test",), split
    else:
        raise DataError(root, f"unknown wflw split {split!r}; expected train, test, "
                              f"one of {ATTRIBUTE_NAMES} or None")
    records = []
    for part in parts:
        path = annotation_file(root, part)
        image_dirs = [root / "WFLW_images", root, path.parent]
        lines = read_text_lines(path, "WFLW annotation file")
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            points, box, flags, rel = parse_line(text, path, number)
            _common.check_spread(points, path, number)
            _common.check_box(box, path, number)
            if subset is not None and not flags[subset]:
                continue
            image = next((d / rel for d in image_dirs if (d / rel).is_file()), None)
            if image is None:
                raise DataError(path, f"missing image {rel!r} (looked in "
                                      f"{', '.join(str(d) for d in image_dirs)})", number)
            records.append(FaceRecord(
                image_path=str(image), landmarks=wflw98_to_68(points), box=box,
                attributes={**flags, "split": part, "landmarks_98": points.astype(np.float32)},
                dataset="wflw",
            ))
    return records
