"""C-CM and RealOcc-Wild (Voo et al., CVPRW 2022): images with binary visible-face masks.

Neither ships landmarks, pose or boxes; a record holds the image and its mask only (the
paper crops these faces with a face detector). Masks are binary PNGs: non-zero = visible
face, zero = occluder, hair or background.

The public downloads are not available here to check, so the reader accepts the layouts
such image + mask sets come in (folder names matched case-insensitively):

1. Parallel folders: ``root/<images>/NAME.<ext>`` + ``root/<masks>/NAME.png``, where
   ``<images>`` is one of ``img, imgs, image, images, rgb`` and ``<masks>`` one of
   ``mask, masks, label, labels, annotation, annotations, seg, segmentation``. Numeric
   stems are matched by value, so ``00012.png`` pairs with ``12.jpg`` (CelebAMask-HQ
   numbers images ``0.jpg`` .. ``29999.jpg`` and pads mask names).
2. One folder of pairs: ``NAME.<ext>`` + ``NAME_mask.png`` (or ``NAME_seg.png``,
   ``NAME_label.png``).

``split`` selects a sub-folder first (``root/<split>/`` holding one of the layouts above,
e.g. ``train``, ``val``, ``test``); None reads ``root`` itself, or, when ``root`` has no
layout of its own, every sub-folder that has one.

Mask edits (:func:`apply_mask_edits`, :func:`write_edited_mask`): the paper relabels some
COFW masks to the C-CM definition of "face" (a beard becomes face, a see-through glasses
lens becomes not-face). A binary mask cannot tell a beard from a hand or a lens from skin,
so such edits come as an *edit map* beside the mask: a grey PNG of the mask's size,
``0`` = keep, ``1`` = set to face, ``2`` = set to not-face (:mod:`lponet_tf.data.readers.cofw`
looks for them in ``mask_edits/``).
"""
from __future__ import annotations

import os
import pathlib
from typing import Dict, List, Optional

import numpy as np

from lponet_tf.data.readers import _common
from lponet_tf.data.records import FaceRecord
from lponet_tf.errors import DataError

IMAGE_DIRS = ("img", "imgs", "image", "images", "rgb")
#: Edit map values (:func:`apply_mask_edits`).
EDIT_KEEP, EDIT_FACE, EDIT_NOT_FACE = 0, 1, 2
MASK_DIRS = ("mask", "masks", "label", "labels", "annotation", "annotations", "seg", "segmentation")
MASK_SUFFIXES = ("_mask", "_seg", "_label")


def _key(stem: str) -> str:
    # Numeric stems compare by value ("00012" == "12"); others as written.
    return str(int(stem)) if stem.isascii() and stem.isdigit() else stem


def _keyed(files, key_of) -> Dict[str, pathlib.Path]:
    """``{key: file}``, refusing two files of one key (12.jpg and 012.jpg, a.jpg and a.png)."""
    out: Dict[str, pathlib.Path] = {}
    for path in files:
        key = key_of(path)
        if key in out:
            raise DataError(path, f"{out[key].name} and {path.name} are the same face's file "
                                  "here (names compare by number, extensions ignored); keep one")
        out[key] = path
    return out


def _images_in(folder: pathlib.Path, skip_mask_suffixes: bool) -> List[pathlib.Path]:
    images = [p for p in sorted(folder.iterdir())
              if p.is_file() and p.suffix.lower() in _common.IMAGE_EXTENSIONS]
    if skip_mask_suffixes:
        images = [p for p in images if not p.stem.lower().endswith(MASK_SUFFIXES)]
    return images


def _pairs_parallel(image_dir: pathlib.Path, mask_dir: pathlib.Path) -> Dict[pathlib.Path, pathlib.Path]:
    def mask_key(mask):
        stem = mask.stem
        for suffix in MASK_SUFFIXES:  # tolerate NAME_mask.png inside the mask folder too
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
        return _key(stem)

    masks = _keyed(_images_in(mask_dir, skip_mask_suffixes=False), mask_key)
    images = _keyed(_images_in(image_dir, skip_mask_suffixes=False), lambda p: _key(p.stem))
    for key, mask in masks.items():
        if key not in images:
            raise DataError(mask, f"missing image: no image named {mask.stem} in {image_dir}")
    pairs = {}
    for key, image in images.items():
        if key not in masks:
            raise DataError(image, f"image has no mask in {mask_dir}")
        pairs[image] = masks[key]
    return pairs


def _pairs_side_by_side(folder: pathlib.Path) -> Dict[pathlib.Path, pathlib.Path]:
    files = [p for p in sorted(folder.iterdir()) if p.is_file()]
    mask_files = [p for p in files if p.suffix.lower() == ".png" and p.stem.lower().endswith(MASK_SUFFIXES)]
    pairs = {}
    for mask in mask_files:
        stem = mask.stem[: -len(next(s for s in MASK_SUFFIXES if mask.stem.lower().endswith(s)))]
        image = _common.image_next_to(mask.with_name(stem))
        if image is None:
            raise DataError(mask, f"missing image: no {stem}.<ext> next to this mask")
        pairs[image] = mask
    if pairs:
        for image in _images_in(folder, skip_mask_suffixes=True):
            if image not in pairs:
                raise DataError(image, "image has no NAME_mask.png beside it")
    return pairs


def _pairs(folder: pathlib.Path) -> Optional[Dict[pathlib.Path, pathlib.Path]]:
    """Image -> mask pairs of one folder, or None when it holds neither layout."""
    for names in (IMAGE_DIRS, MASK_DIRS):
        present = [p.name for p in sorted(folder.iterdir()) if p.is_dir() and p.name.lower() in names]
        if len(present) > 1:
            raise DataError(folder, f"ambiguous layout: folders {present} could each hold the "
                                    "images (or masks); keep one, or read each with its own root")
    image_dir = _common.child_dir(folder, *IMAGE_DIRS)
    mask_dir = _common.child_dir(folder, *MASK_DIRS)
    if image_dir is not None and mask_dir is not None:
        return _pairs_parallel(image_dir, mask_dir)
    side = _pairs_side_by_side(folder)
    return side or None


def read_mask_dataset(root, split: Optional[str] = None, *, dataset: str) -> List[FaceRecord]:
    """Read an image + binary-mask dataset (see the module docstring for layouts).

    Args:
        root: dataset folder.
        split: name of a sub-folder of ``root`` to read, or None.
        dataset: name stored in ``FaceRecord.dataset`` (``"ccm"``, ``"realocc_wild"``).

    Returns:
        FaceRecords with ``image_path`` and ``mask_path`` only (``attributes["split"]``
        names the sub-folder a record came from, when there is one).

    Raises:
        DataError: missing root or split folder, no recognised layout, a mask without its
            image or an image without its mask.

    Example:
        >>> recs = read_mask_dataset("/data/RealOcc-Wild", dataset="realocc_wild")  # doctest: +SKIP
        >>> recs[0].has_mask, recs[0].has_landmarks  # doctest: +SKIP
        (True, False)
    """
    root = _common.require_root(dataset, root)
    if split is not None:
        folder = _common.child_dir(root, split)
        if folder is None:
            raise DataError(root, f"{dataset} split folder {split!r} not found")
        groups = [(split, folder)]
    else:
        groups = [(None, root)]
        subs = [(sub.name, sub) for sub in sorted(root.iterdir()) if sub.is_dir()]
        if _pairs(root) is None:
            groups = subs
        elif not _common.child_dir(root, *IMAGE_DIRS):  # pairs beside sub-folders
            nested = [name for name, sub in subs if _pairs(sub)]
            if nested:
                raise DataError(root, f"holds image + mask pairs and sub-folders with more "
                                      f"({nested}); read them with split=<sub-folder>, or move "
                                      "the pairs into a sub-folder of their own")
    records = []
    for name, folder in groups:
        pairs = _pairs(folder)
        if pairs is None:
            if split is not None:
                raise DataError(folder, f"no {dataset} image + mask layout found "
                                        f"(expected images/ + masks/ or NAME + NAME_mask.png)")
            continue
        attributes = {} if name is None else {"split": name}
        records.extend(
            FaceRecord(image_path=str(image), mask_path=str(mask), attributes=dict(attributes),
                       dataset=dataset)
            for image, mask in sorted(pairs.items()))
    if not records:
        raise DataError(root, f"no {dataset} image + mask pairs found (expected images/ + masks/ "
                              f"folders or NAME.<ext> + NAME_mask.png)")
    return records


def read_ccm(root, split: Optional[str] = None) -> List[FaceRecord]:
    """C-CM (CelebAMask-HQ with binary face masks). See :func:`read_mask_dataset`."""
    return read_mask_dataset(root, split, dataset="ccm")


def read_realocc_wild(root, split: Optional[str] = None) -> List[FaceRecord]:
    """RealOcc-Wild (270 occluded faces with masks). See :func:`read_mask_dataset`."""
    return read_mask_dataset(root, split, dataset="realocc_wild")


def apply_mask_edits(mask: np.ndarray, edits: np.ndarray, path="edit map") -> np.ndarray:
    """Relabel a binary visible-face mask with an edit map (module docstring).

    Args:
        mask: ``(H, W)`` mask, non-zero = visible face (e.g. 0/255).
        edits: ``(H, W)`` integer edit map: 0 keep, 1 face, 2 not-face.
        path: the edit map's name, for errors.

    Returns:
        ``(H, W)`` uint8 mask, 255 = face, 0 = not face.

    Raises:
        DataError: the edit map has another size than the mask or a value other than 0, 1, 2.

    Example:
        >>> m = np.array([[0, 255, 255]], np.uint8)
        >>> apply_mask_edits(m, np.array([[1, 2, 0]], np.uint8)).tolist()
        [[255, 0, 255]]
    """
    mask, edits = np.asarray(mask), np.asarray(edits)
    if edits.shape != mask.shape:
        raise DataError(path, f"edit map is {edits.shape[1::-1]} px but its mask is {mask.shape[1::-1]} px")
    bad = ~np.isin(edits, (EDIT_KEEP, EDIT_FACE, EDIT_NOT_FACE))
    if bad.any():
        raise DataError(path, f"edit map values must be 0 (keep), 1 (face) or 2 (not face); "
                              f"found {sorted(np.unique(edits[bad]).tolist())[:5]}")
    out = np.where(mask > 0, 255, 0).astype(np.uint8)
    out[edits == EDIT_FACE] = 255
    out[edits == EDIT_NOT_FACE] = 0
    return out


def _read_bytes(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read the file ({exc.strerror or exc})") from None


def write_edited_mask(mask_path, edit_path, out_path) -> pathlib.Path:
    """Write ``mask_path`` relabelled by ``edit_path`` to ``out_path`` (atomically).

    An existing ``out_path`` newer than both inputs is reused; the inputs are never
    written to.

    Returns:
        ``out_path``.

    Raises:
        DataError: unreadable, undecodable or too large inputs (more than
            :data:`lponet_tf.codec.image.MAX_PIXELS`), a bad edit map, an unwritable output.
    """
    import cv2

    mask_path, edit_path, out_path = (pathlib.Path(p) for p in (mask_path, edit_path, out_path))
    if out_path.resolve() in (mask_path.resolve(), edit_path.resolve()):
        raise DataError(out_path, "the edited mask would overwrite one of its inputs")
    if out_path.is_file() and out_path.stat().st_mtime_ns >= max(
            mask_path.stat().st_mtime_ns, edit_path.stat().st_mtime_ns):
        return out_path
    from lponet_tf.data.sample import decode_mask_pixels  # the masks' one decoder

    mask = decode_mask_pixels(_read_bytes(mask_path), mask_path, cv2.IMREAD_GRAYSCALE)
    edits = decode_mask_pixels(_read_bytes(edit_path), edit_path, cv2.IMREAD_UNCHANGED)
    if edits.ndim != 2:
        raise DataError(edit_path, "cannot read the edit map (expected a single-channel PNG)")
    edited = apply_mask_edits(mask, edits, edit_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(out_path.parent, f"cannot create the folder for edited masks ({exc})") from None
    tmp = out_path.with_name(f".{out_path.stem}.tmp.png")
    if not cv2.imwrite(str(tmp), edited):
        raise DataError(out_path, "cannot write the edited mask")
    os.replace(tmp, out_path)  # atomic: a concurrent reader never sees half a file
    return out_path
