"""COFW (Burgos-Artizzu et al., ICCV 2013), its occlusion masks and the COFW-68 labels.

Accepted layout (folder names matched case-insensitively)::

    root/
      COFW_train_color.mat    IsTr (1345 x 1 cell of images), phisTr (1345 x 87), bboxesTr (1345 x 4)
      COFW_test_color.mat     IsT  (507 x 1 cell),  phisT (507 x 87),  bboxesT (507 x 4)
      masks/ (or train_masks/, cofw_masks/)   mask_<i>.png   occlusion masks of train image i
      test_masks/                               mask_<i>.png   (same for the test images)
      cofw68/test_annotations/<i>_points.mat  COFW-68 re-annotation of test image i (optional)
      cofw68/cofw68_test_bboxes.mat

The grey-scale ``COFW_train.mat`` / ``COFW_test.mat`` are used when the colour files are
absent. The ``.mat`` files are MATLAB v7.3 (HDF5); :func:`lponet_tf.data.matfile.load_mat`
reads them. ``<i>`` is the 1-based index of the image inside its ``.mat`` file.

``phis`` rows are 29 x coordinates, 29 y coordinates and 29 occlusion flags (1 = occluded);
boxes are ``x, y, width, height``. The images live inside the ``.mat`` file, so the reader
writes them once as PNG to ``extract_dir`` (default ``root/images_<split>``) and the records
point there; images extracted earlier from the same ``.mat`` are reused (a stamp file,
``extracted_from.txt``, names the ``.mat`` they came from; another one's are extracted again).
The stamp is written before the first image, so only a folder the reader wrote is ever
changed: one holding ``NNNN.png`` files and no stamp (the user's own images) is refused.

Masks are binary PNGs, 0 = occluder or background, 255 = visible face (the C-CM semantics
LPONet uses). The paper edited some COFW masks to match C-CM (Section IV-A): beards from
not-face to face, see-through glasses lenses from face to not-face. Those edits cannot be
derived from the public labels: the masks have two values only (a beard is "not face" like
a hand or a scarf, a lens is "face" like the skin around it), COFW labels no beards or
glasses (29 points, per-point occlusion flags and a box), and the paper's edited masks are
not published. What the reader does instead: an edit map ``mask_edits/mask_<i>.png`` (or
``test_mask_edits/`` for the test images; 0 keep, 1 face, 2 not-face, see
:func:`lponet_tf.data.readers.masks.apply_mask_edits`) next to the masks is applied, the
edited mask written once to ``<extract_dir>/masks_edited_<split>/`` (default
``root/masks_edited_<split>/``) and used as the record's mask (``attributes["mask_edited"]``,
the original in ``attributes["mask_original"]``). COFW has no 68-point labels of its own: ``landmarks`` is the COFW-68 re-annotation
(Ghiasi and Fowlkes) for test images when ``cofw68/`` is present, else None; the original
29 points are always in ``attributes["landmarks_29"]`` (see
:mod:`lponet_tf.data.landmark_sets` for what they mark).
"""
from __future__ import annotations

import os
import pathlib
import re
from typing import Dict, List, Optional, Tuple

import numpy as np

from lponet_tf.data.matfile import load_mat
from lponet_tf.data.readers import _common
from lponet_tf.data.records import FaceRecord
from lponet_tf.errors import DataError

_MAT_NAMES = {"train": ("COFW_train_color.mat", "COFW_train.mat"),
              "test": ("COFW_test_color.mat", "COFW_test.mat")}
_KEYS = {"train": ("IsTr", "phisTr", "bboxesTr"), "test": ("IsT", "phisT", "bboxesT")}
_MASK_DIRS = {"train": ("masks", "train_masks", "masks_train", "cofw_masks", "mask"),
              "test": ("test_masks", "masks_test")}
_EDIT_DIRS = {"train": ("mask_edits", "train_mask_edits", "mask_edits_train"),
              "test": ("test_mask_edits", "mask_edits_test")}


def box_xywh_to_xyxy(box) -> np.ndarray:
    """``x, y, w, h`` -> ``x0, y0, x1, y1`` (float64)."""
    x, y, w, h = np.asarray(box, dtype=np.float64).reshape(4)
    return np.array([x, y, x + w, y + h])


def read_cofw68_points(path) -> Tuple[np.ndarray, np.ndarray]:
    """One COFW-68 ``<i>_points.mat``: ``Points`` (68 x 2) and ``Occ`` (1 x 68).

    Returns:
        ``(points (68, 2) float64, occluded (68,) bool)``.

    Raises:
        DataError: unreadable file, missing variable, wrong point count.

    Example:
        >>> pts, occ = read_cofw68_points("cofw68/test_annotations/1_points.mat")  # doctest: +SKIP
    """
    mat = load_mat(path, keys=["Points", "Occ"])
    points = _common.check_spread(
        _common.as_points(_common.mat_field(mat, path, "Points"), path, "Points"), path)
    occ = _common.mat_field(mat, path, "Occ").reshape(-1)
    if occ.size != 68:
        raise DataError(path, f"'Occ' should hold 68 flags, got {occ.size}")
    return points, occ.astype(bool)


def read_cofw68_boxes(path) -> np.ndarray:
    """``cofw68_test_bboxes.mat``: ``bboxes`` (N x 4, ``x, y, w, h``) -> (N, 4) ``x0, y0, x1, y1``."""
    mat = load_mat(path, keys=["bboxes"])
    boxes = _common.mat_field(mat, path, "bboxes")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DataError(path, f"'bboxes' should be N x 4, got shape {boxes.shape}")
    return np.stack([_common.check_box(box_xywh_to_xyxy(b), path, what=f"'bboxes' row {i}")
                     for i, b in enumerate(boxes, start=1)]) if len(boxes) else boxes


def read_cofw68(folder) -> Dict[int, Tuple[np.ndarray, np.ndarray]]:
    """All COFW-68 annotations of a folder holding ``test_annotations/``.

    Returns:
        ``{index (1-based): (points (68, 2), occluded (68,))}``.
    """
    folder = pathlib.Path(folder)
    ann = _common.child_dir(folder, "test_annotations")
    if ann is None:
        raise DataError(folder, "COFW-68 folder has no test_annotations/")
    out = {}
    for path in _common.files_with_suffix(ann, "_points.mat", recursive=False):
        match = re.fullmatch(r"(\d+)_points\.mat", path.name)
        if match:
            out[int(match.group(1))] = read_cofw68_points(path)
    return out


def _find_mat(root: pathlib.Path, part: str) -> pathlib.Path:
    names = {p.name.lower(): p for p in root.iterdir() if p.is_file()}
    for name in _MAT_NAMES[part]:
        if name.lower() in names:
            return names[name.lower()]
    raise DataError(root, f"COFW {part} file not found (expected {' or '.join(_MAT_NAMES[part])})")


def _has_mat(root: pathlib.Path, part: str) -> bool:
    try:
        _find_mat(root, part)
    except DataError:
        return False
    return True


def _find_mask(root: pathlib.Path, part: str, index: int, dirs=None) -> Optional[pathlib.Path]:
    folder = _common.child_dir(root, *(dirs or _MASK_DIRS[part]))
    if folder is None:
        return None
    for name in (f"mask_{index}.png", f"{index}.png"):
        if (folder / name).is_file():
            return folder / name
    return None


#: Written beside extracted images: which ``.mat`` they came from (a shared ``extract_dir``
#: must not pair one copy's labels with another copy's images).
SOURCE_STAMP = "extracted_from.txt"


#: Prefix of the stamp while an extraction is under way: the folder is the reader's (its
#: ``NNNN.png`` may be replaced), but its images are not all there yet.
_PENDING = "extracting: "


def _write_stamp(stamp_file: pathlib.Path, text: str) -> None:
    tmp = stamp_file.with_name(f".{SOURCE_STAMP}.tmp")
    tmp.write_text(text)
    os.replace(tmp, stamp_file)  # atomic


def _source_stamp(mat_path: pathlib.Path, n: int) -> str:
    """The ``.mat``'s name, size, image count and a hash of its first and last MiB."""
    import hashlib

    size = mat_path.stat().st_size
    digest = hashlib.sha1()
    with open(mat_path, "rb") as f:
        digest.update(f.read(1 << 20))
        f.seek(max(0, size - (1 << 20)))
        digest.update(f.read(1 << 20))
    return f"{mat_path.name} {size} bytes, {n} images, sha1 of ends {digest.hexdigest()}\n"


def _extract(images, out_dir: pathlib.Path, index: int, mat_path) -> pathlib.Path:
    """Write image ``index`` (1-based) of the cell array as PNG unless already there."""
    import cv2  # deferred: reading labels alone should not need OpenCV

    path = out_dir / f"{index:04d}.png"
    if path.is_file():
        return path
    image = np.asarray(images[index - 1])
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise DataError(mat_path, f"image {index} is not an 8-bit grey or RGB image "
                                  f"(dtype {image.dtype}, shape {image.shape})")
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    tmp = out_dir / f".{index:04d}.tmp.png"
    if not cv2.imwrite(str(tmp), np.ascontiguousarray(image)):
        raise DataError(path, "cannot write the extracted COFW image")
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return path


def _read_part(root: pathlib.Path, part: str, extract_dir) -> List[FaceRecord]:
    mat_path = _find_mat(root, part)
    images_key, phis_key, boxes_key = _KEYS[part]
    labels = load_mat(mat_path, keys=[phis_key, boxes_key])
    phis = _common.mat_field(labels, mat_path, phis_key)
    boxes = _common.mat_field(labels, mat_path, boxes_key)
    if phis.ndim != 2 or phis.shape[1] != 87:
        raise DataError(mat_path, f"'{phis_key}' should be N x 87 (29 x, 29 y, 29 occlusion), "
                                  f"got shape {phis.shape}")
    if boxes.shape != (len(phis), 4):
        raise DataError(mat_path, f"'{boxes_key}' should be {len(phis)} x 4, got shape {boxes.shape}")
    # before any image is extracted: a face is cropped from its box (COFW train has no landmarks)
    boxes_xyxy = [_common.check_box(box_xywh_to_xyxy(b), mat_path,
                                    what=f"'{boxes_key}' row {i} (x, y, width, height)")
                  for i, b in enumerate(boxes, start=1)]

    out_dir = pathlib.Path(extract_dir) / part if extract_dir is not None else root / f"images_{part}"
    n = len(phis)
    stamp = _source_stamp(mat_path, n)
    stamp_file = out_dir / SOURCE_STAMP
    stamped = stamp_file.read_text(errors="replace") if stamp_file.is_file() else None
    fresh = stamped == stamp
    names = [out_dir / f"{i:04d}.png" for i in range(1, n + 1)]
    if not fresh or not all(f.is_file() for f in names):
        if stamped is None and any(os.path.lexists(f) for f in names):
            # no stamp: not a folder this reader wrote; never delete or replace its files
            theirs = [f.name for f in names if os.path.lexists(f)]
            raise DataError(out_dir, f"holds images this reader did not write ({', '.join(theirs[:3])}"
                                     f"{', ...' if len(theirs) > 3 else ''}; no {SOURCE_STAMP}); "
                                     "choose an empty extract_dir")
        images = load_mat(mat_path, keys=[images_key]).get(images_key)
        if images is None:
            raise DataError(mat_path, f"missing variable '{images_key}'")
        images = np.asarray(images, dtype=object).reshape(-1)
        if len(images) != n:
            raise DataError(mat_path, f"'{images_key}' holds {len(images)} images but "
                                      f"'{phis_key}' {n} label rows")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(out_dir, f"cannot create the folder for extracted COFW images ({e}); "
                                     f"pass extract_dir=<writable folder>") from None
        pending = _PENDING + stamp
        if stamped not in (stamp, pending):
            if stamped is not None:  # ours, from another .mat: its images go (stamp kept till then)
                for f in names:
                    f.unlink(missing_ok=True)
            # stamped before the first image: an interrupted extraction is still ours
            _write_stamp(stamp_file, pending)
        paths = [_extract(images, out_dir, i, mat_path) for i in range(1, n + 1)]
        _write_stamp(stamp_file, stamp)  # complete: a half-done extraction reads as pending
    else:
        paths = names

    cofw68 = {}
    if part == "test":
        folder = _common.child_dir(root, "cofw68")
        if folder is None and _common.child_dir(root, "test_annotations") is not None:
            folder = root
        cofw68 = read_cofw68(folder) if folder is not None else {}

    records = []
    for i in range(1, n + 1):
        row = phis[i - 1]
        attributes = {
            "split": part, "index": i,
            "landmarks_29": np.stack([row[:29], row[29:58]], axis=1).astype(np.float32),
            "occluded_29": row[58:87].astype(bool),
        }
        landmarks = None
        if i in cofw68:
            landmarks, occluded = cofw68[i]
            attributes["occluded_68"] = occluded
        mask = _find_mask(root, part, i)
        edit = _find_mask(root, part, i, _EDIT_DIRS[part]) if mask is not None else None
        if edit is not None:
            from lponet_tf.data.readers.masks import write_edited_mask

            edited_dir = (pathlib.Path(extract_dir) if extract_dir is not None else root) / f"masks_edited_{part}"
            attributes.update(mask_edited=True, mask_original=str(mask))
            mask = write_edited_mask(mask, edit, edited_dir / f"mask_{i}.png")
        records.append(FaceRecord(
            image_path=str(paths[i - 1]), landmarks=landmarks, box=boxes_xyxy[i - 1],
            mask_path=None if mask is None else str(mask), attributes=attributes, dataset="cofw",
        ))
    return records


def read_cofw(root, split: Optional[str] = None, extract_dir=None) -> List[FaceRecord]:
    """Read COFW (see the module docstring for the layout).

    Args:
        root: dataset folder.
        split: ``"train"``, ``"test"`` or None for both (or the one present).
        extract_dir: where the images inside the ``.mat`` files are written as PNG
            (``<extract_dir>/<split>/NNNN.png``); default ``root/images_<split>``.

    Returns:
        FaceRecords with ``box``, ``mask_path`` where a mask exists, ``landmarks`` from
        COFW-68 where present, and ``attributes`` ``split``, ``index``, ``landmarks_29``,
        ``occluded_29`` (and ``occluded_68``).

    Raises:
        DataError: missing root or ``.mat``, unreadable ``.mat``, label arrays of the wrong
            shape, a box with no area or a non-finite value (naming its row), images that
            are not 8-bit, an unwritable extraction folder, or one holding ``NNNN.png``
            files this reader did not write (no ``extracted_from.txt``: never replaced).

    Example:
        >>> recs = read_cofw("/data/COFW", split="train")  # doctest: +SKIP
        >>> sum(r.has_mask for r in recs)  # doctest: +SKIP
        500
    """
    root = _common.require_root("cofw", root)
    if split not in (None, "train", "test"):
        raise DataError(root, f"unknown cofw split {split!r}; expected train, test or None")
    if split is None:
        # Both halves when both are there; a copy with only one of them reads that one.
        parts = tuple(p for p in ("train", "test") if _has_mat(root, p)) or ("train", "test")
    else:
        parts = (split,)
    records: List[FaceRecord] = []
    for part in parts:
        records.extend(_read_part(root, part, extract_dir))
    return records
