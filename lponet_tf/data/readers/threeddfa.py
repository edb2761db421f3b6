"""300W-LP and AFLW2000-3D: the two datasets labelled by 3DDFA fitting (Zhu et al., CVPR 2016).

Both store one ``NAME.jpg`` + ``NAME.mat`` per face. The ``.mat`` holds ``Pose_Para``
(1 x 7: pitch, yaw, roll in radians, tx, ty, tz, scale), converted to the rotation label
by :func:`lponet_tf.geometry.pose_para_to_matrix`, and the landmarks:

* 300W-LP: ``pt2d`` (2 x 68). The download also has a ``landmarks/`` folder,
  ``landmarks/<SUBSET>/<NAME>_pts.mat`` with ``pts_2d`` and ``pts_3d`` (68 x 2 each: the
  2D-style contour and the projected 3D-style contour); ``landmarks="pts_2d"`` or
  ``"pts_3d"`` reads those instead, and they are the fallback when a ``.mat`` lacks
  ``pt2d``. Layout::

      root/{AFW,HELEN,IBUG,LFPW}/NAME.jpg + NAME.mat          (original + yaw-rotated views)
      root/{AFW,HELEN,IBUG,LFPW}_Flip/NAME.jpg + NAME.mat     (mirrored)
      root/landmarks/{AFW,HELEN,IBUG,LFPW}/NAME_pts.mat       (no _Flip folders)

  A flat folder of pairs (e.g. a few faces copied out of 300W-LP) works too. ``split`` picks
  a subset folder (``"afw"``, ``"helen_flip"``, ...; case-insensitive) or None for all but
  the ``_Flip`` folders: the paper's 61,225 faces are the un-mirrored ones (the mirrored
  copies double them to 122,450, and training flips again), so ``flips=True`` is needed to
  read the copies with the rest.
  ``attributes``: ``subset`` (from the file name prefix, e.g. ``"IBUG"``), ``flipped``,
  ``yaw``, ``pitch``, ``roll`` (degrees).

* AFLW2000-3D: ``pt3d_68`` (3 x 68); its first two rows are the 68 image landmarks
  (``pt2d`` there is the 21-point AFLW markup and is not used). Layout: a flat folder
  ``root/imageNNNNN.{jpg,mat}``. As in the paper (and Hopenet, FSA-Net, ...), faces with
  any Euler angle outside [-99, 99] degrees are dropped (31 of the 2000), unless
  ``max_angle_deg=None``. ``attributes``: ``yaw``, ``pitch``, ``roll`` (degrees) and
  ``landmarks_3d`` (the full 68 x 3 ``pt3d_68``).

Coordinates are used as stored (3DDFA works in MATLAB, so they are likely 1-based, like
300W's: docs/CONVENTIONS.md, "Coordinates").
"""
from __future__ import annotations

import math
import numbers
import pathlib
from typing import List, Optional

import numpy as np

from lponet_tf import geometry
from lponet_tf.data.matfile import load_mat
from lponet_tf.data.readers import _common
from lponet_tf.data.records import FaceRecord
from lponet_tf.errors import DataError

#: AFLW2000 faces with |yaw|, |pitch| or |roll| above this (degrees) are dropped.
AFLW2000_MAX_ANGLE_DEG = 99.0
_LANDMARK_SOURCES = ("pt2d", "pts_2d", "pts_3d")


def pose_from_mat(mat: dict, path) -> tuple:
    """``Pose_Para`` of a loaded 3DDFA ``.mat`` -> ``(R (3, 3), (yaw, pitch, roll) degrees)``."""
    pose_para = _common.mat_field(mat, path, "Pose_Para", size=3).reshape(-1)
    if not np.all(np.isfinite(pose_para[:3])):
        raise DataError(path, "'Pose_Para' has non-finite angles")
    return geometry.pose_para_to_matrix(pose_para[:3]), geometry.pose_para_to_euler(pose_para[:3])


def _pairs(root: pathlib.Path) -> List[pathlib.Path]:
    """Every annotation ``.mat`` under root, skipping the ``landmarks/`` tree."""
    return [p for p in _common.files_with_suffix(root, ".mat", exclude_dirs=("landmarks",))
            if not p.name.lower().endswith("_pts.mat")]


def _euler_attributes(ypr) -> dict:
    return {"yaw": float(ypr[0]), "pitch": float(ypr[1]), "roll": float(ypr[2])}


# ------------------------------------------------------------------------------ 300W-LP
def _landmarks_from_folder(root: pathlib.Path, mat_path: pathlib.Path, subset: str,
                           flipped: bool, source: str) -> np.ndarray:
    """``pts_2d`` / ``pts_3d`` of ``landmarks/<SUBSET>/<NAME>_pts.mat`` for one face."""
    key = "pts_2d" if source == "pt2d" else source  # pt2d missing: its 2D-style twin
    why = "the .mat has no 'pt2d'; " if source == "pt2d" else ""
    if flipped:
        # landmarks/ only covers the un-mirrored views; the same name in a _Flip folder
        # is the mirror image, so its unmirrored points would be silently wrong.
        raise DataError(mat_path, f"{why}landmarks/ has no {key} for mirrored (_Flip) images")
    folder = _common.child_dir(root, "landmarks")
    sub = _common.child_dir(folder, subset) if folder is not None else None
    lm_path = (sub if sub is not None else root / "landmarks" / subset) / f"{mat_path.stem}_pts.mat"
    if not lm_path.is_file():
        raise DataError(mat_path, f"{why}landmark file {lm_path} not found")
    lm = load_mat(lm_path, keys=[key])
    return _common.as_points(_common.mat_field(lm, lm_path, key), lm_path, key)


def read_300w_lp(root, split: Optional[str] = None, landmarks: str = "pt2d",
                 flips: bool = False) -> List[FaceRecord]:
    """Read 300W-LP (see the module docstring).

    Args:
        root: the ``300W_LP`` folder, or any folder of ``NAME.jpg`` + ``NAME.mat``.
        split: a subset folder name (``"afw"``, ``"afw_flip"``, ``"helen"``, ...) or None.
        landmarks: ``"pt2d"`` (the ``.mat``'s own, default), ``"pts_2d"`` or ``"pts_3d"``
            (from ``landmarks/``).
        flips: with ``split=None``, also read the mirrored ``*_Flip`` folders (off: the
            paper's 61,225 faces; a ``_flip`` split is read whatever this says).

    Returns:
        FaceRecords with 68 ``landmarks`` and ``pose``.

    Raises:
        DataError: missing root, a ``.mat`` without its ``.jpg``, an unreadable ``.mat``,
            missing ``Pose_Para`` / landmarks, a landmark array that is not 68 points.

    Example:
        >>> recs = read_300w_lp("/data/300W_LP", split="ibug")  # doctest: +SKIP
        >>> recs[0].pose.shape, recs[0].landmarks.shape  # doctest: +SKIP
        ((3, 3), (68, 2))
    """
    root = _common.require_root("300w_lp", root)
    if landmarks not in _LANDMARK_SOURCES:
        raise ValueError(f"landmarks must be one of {_LANDMARK_SOURCES}, got {landmarks!r}")
    if split is not None:
        folder = _common.child_dir(root, split)
        if folder is None:
            raise DataError(root, f"300w_lp subset folder {split!r} not found")
        mats = _pairs(folder)
    else:
        mats = [m for m in _pairs(root)
                if flips or not any(part.lower().endswith("_flip")
                                    for part in m.relative_to(root).parts[:-1])]
    if not mats:
        raise DataError(root, "no 300w_lp NAME.jpg + NAME.mat pairs found"
                              + ("" if flips or split else " outside the _Flip folders "
                                 "(flips: true reads those)"))

    records = []
    for mat_path in mats:
        image = _common.require_image_next_to(mat_path)
        mat = load_mat(mat_path, keys=["pt2d", "Pose_Para"])
        R, ypr = pose_from_mat(mat, mat_path)
        subset = mat_path.stem.split("_", 1)[0].upper()
        flipped = mat_path.parent.name.lower().endswith("_flip")
        if landmarks == "pt2d" and "pt2d" in mat:
            points = _common.as_points(mat["pt2d"], mat_path, "pt2d")
        else:
            points = _landmarks_from_folder(root, mat_path, subset, flipped, landmarks)
        records.append(FaceRecord(
            image_path=str(image), landmarks=_common.check_spread(points, mat_path), pose=R,
            dataset="300w_lp",
            attributes={"subset": subset, "flipped": flipped, **_euler_attributes(ypr)},
        ))
    return records


# ------------------------------------------------------------------------------ AFLW2000
def check_max_angle_deg(value) -> Optional[float]:
    """``max_angle_deg`` as a float, or None: a finite number of degrees > 0, or None.

    Raises:
        ValueError: anything else (a quoted YAML number, 0 or less would drop every face,
            nan would keep every face).

    Example:
        >>> check_max_angle_deg(99)
        99.0
        >>> check_max_angle_deg("99")
        Traceback (most recent call last):
        ...
        ValueError: max_angle_deg must be None or a finite number of degrees > 0, got '99'
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"max_angle_deg must be None or a finite number of degrees > 0, "
                         f"got {value!r}")
    return float(value)


def read_aflw2000(root, split: Optional[str] = None,
                  max_angle_deg: Optional[float] = AFLW2000_MAX_ANGLE_DEG) -> List[FaceRecord]:
    """Read AFLW2000-3D (see the module docstring).

    Args:
        root: the ``AFLW2000`` folder.
        split: must be None (AFLW2000 is one test set).
        max_angle_deg: drop faces with any Euler angle beyond it (paper: 99); None keeps all.

    Returns:
        FaceRecords with 68 ``landmarks`` (from ``pt3d_68``) and ``pose``.

    Raises:
        DataError: missing root, a split, a ``max_angle_deg`` that is not None or a finite
            number > 0 (before any file is read), a ``.mat`` without its ``.jpg``, an unreadable
            ``.mat``, missing or malformed ``pt3d_68`` / ``Pose_Para``, one face's file name
            twice under the root (a copy of the set inside it).

    Example:
        >>> recs = read_aflw2000("/data/AFLW2000")  # doctest: +SKIP
        >>> len(recs)  # doctest: +SKIP
        1969
    """
    root = _common.require_root("aflw2000", root)
    if split is not None:
        raise DataError(root, f"aflw2000 has no splits, got {split!r}")
    try:
        max_angle_deg = check_max_angle_deg(max_angle_deg)
    except ValueError as exc:
        raise DataError(root, str(exc)) from None
    mats = _pairs(root)
    if not mats:
        raise DataError(root, "no aflw2000 imageNNNNN.jpg + .mat pairs found")
    seen = {}
    for mat_path in mats:  # one flat set: a face twice is a copy inside the root
        other = seen.setdefault(mat_path.name.lower(), mat_path)
        if other != mat_path:
            raise DataError(mat_path, f"the same face as {other}: AFLW2000 is one set of "
                                      "distinct faces; is a copy of it (an AFLW2000-SO part?) "
                                      "inside this folder?")
    records = []
    for mat_path in mats:
        image = _common.require_image_next_to(mat_path)
        mat = load_mat(mat_path, keys=["pt3d_68", "Pose_Para"])
        R, ypr = pose_from_mat(mat, mat_path)
        if max_angle_deg is not None and np.any(np.abs(ypr) > max_angle_deg):
            continue
        pt3d = _common.mat_field(mat, mat_path, "pt3d_68")
        if pt3d.shape != (3, 68):
            raise DataError(mat_path, f"'pt3d_68' should be 3 x 68, got shape {pt3d.shape}")
        records.append(FaceRecord(
            image_path=str(image), pose=R,
            landmarks=_common.check_spread(_common.as_points(pt3d, mat_path, "pt3d_68"), mat_path),
            dataset="aflw2000",
            attributes={**_euler_attributes(ypr), "landmarks_3d": pt3d.T.astype(np.float32)},
        ))
    return records
