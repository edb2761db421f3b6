"""BIWI Kinect Head Pose (Fanelli et al., IJCV 2013): ``frame_NNNNN_rgb.png`` + ``frame_NNNNN_pose.txt``.

Layout (the official ``hpdb`` download; any depth of folders works, every
``*_pose.txt`` below ``root`` is read)::

    root/01/frame_00003_rgb.png
    root/01/frame_00003_pose.txt
    ...
    root/24/...

A pose file holds the head rotation, three rows of three numbers, then the head centre
translation in millimetres, one row of three numbers (blank lines ignored)::

    0.983 -0.0202 0.181
    0.0187 0.999 0.0102
    -0.181 -0.00664 0.983

    47.4 22.6 868.2

**Axis convention.** The axis change is the identity: the file's matrix is the label.
BIWI's matrix maps the head model into the depth camera; the translation's z is the
positive distance to the head (~0.8-1.2 m), so z points forward as in
:mod:`lponet_tf.geometry`, and the usual cross-dataset protocol (Hopenet, FSA-Net,
6DRepNet: ``pitch = atan2(M21, M22)``, ``yaw = -atan2(-M20, hypot(M21, M22))``,
``roll = -atan2(M10, M00)`` of ``M = R^T``, under which models trained on 300W-LP score
~4-5 degrees on BIWI) gives Euler angles that
:func:`lponet_tf.geometry.euler_to_matrix` turns back into exactly ``R``
(tests/test_readers_biwi.py checks it). So BIWI's camera and head frames are this
project's (x right, y down, z forward; a frontal upright face at ``R = I``). The RGB
camera's small rotation relative to the depth camera (``rgb.cal``) is ignored, as in
those protocols.

Records have ``pose`` only (no landmarks, box or mask; the paper crops BIWI faces with a
face detector); ``attributes`` hold ``sequence`` (the folder name), ``translation_mm``
and the Euler angles ``yaw``, ``pitch``, ``roll`` in degrees.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from lponet_tf import geometry
from lponet_tf.data.readers import _common
from lponet_tf.data.records import FaceRecord
from lponet_tf.errors import DataError
from lponet_tf.fileio import read_text_lines

# A rotation read from a text file with ~6 significant digits: orthonormal to ~1e-5. A
# looser tolerance still catches a wrong file (a translation row read as rotation).
_ORTHONORMAL_TOL = 1e-3


def read_biwi_pose(path) -> tuple:
    """Parse one ``frame_NNNNN_pose.txt``.

    Returns:
        ``(R (3, 3) float64 in the project convention, translation (3,) float64 mm)``.

    Raises:
        DataError: naming the file (and line) when a row is not three numbers, rows are
            missing or extra, or the matrix is not a rotation.

    Example:
        >>> R, t = read_biwi_pose("hpdb/01/frame_00003_pose.txt")  # doctest: +SKIP
    """
    lines = read_text_lines(path, "BIWI pose file")
    rows = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        fields = text.split()
        if len(fields) != 3:
            raise DataError(path, f"expected 3 numbers, got {len(fields)}: {text.strip()!r}", number)
        if not all(_common.is_number(v) for v in fields):  # float() also takes "1_0", "１"
            raise DataError(path, f"not a number in {text.strip()!r}", number)
        rows.append([float(v) for v in fields])
        if len(rows) > 4:
            raise DataError(path, "more than 4 rows (3 rotation + 1 translation)", number)
    if len(rows) != 4:
        raise DataError(path, f"expected 4 rows (3 rotation + 1 translation), got {len(rows)}")
    values = np.asarray(rows, dtype=np.float64)
    R, t = values[:3], values[3]
    if not np.all(np.isfinite(values)):
        raise DataError(path, "non-finite value")
    if np.abs(R @ R.T - np.eye(3)).max() > _ORTHONORMAL_TOL or np.linalg.det(R) < 0:
        raise DataError(path, "the 3x3 block is not a rotation matrix")
    return R, t


def split_sequences(split: str) -> set:
    """The sequence folder names of a BIWI ``split`` (``"01,02, 05"`` -> ``{"01", "02", "05"}``)."""
    return {s.strip() for s in split.split(",") if s.strip()}


def read_biwi(root, split: Optional[str] = None) -> List[FaceRecord]:
    """Read BIWI frames with their head pose.

    Args:
        root: the ``hpdb`` folder (or any folder above the sequence folders).
        split: None for every sequence, or a comma-separated list of sequence folder
            names (e.g. ``"01,02,05"``), for subject-wise train/test splits.

    Returns:
        FaceRecords with ``pose`` and ``attributes`` (see the module docstring).

    Raises:
        DataError: missing root, no pose files, a pose file without its
            ``frame_NNNNN_rgb.png``, a malformed pose file, an unknown sequence.

    Example:
        >>> recs = read_biwi("/data/BIWI/hpdb")  # doctest: +SKIP
        >>> recs[0].pose.shape  # doctest: +SKIP
        (3, 3)
    """
    root = _common.require_root("biwi", root)
    files = [p for p in _common.files_with_suffix(root, "_pose.txt")]
    if split is not None:
        wanted = split_sequences(split)
        present = {p.parent.name for p in files}
        if wanted - present:
            raise DataError(root, f"biwi sequences not found: {sorted(wanted - present)}")
        files = [p for p in files if p.parent.name in wanted]
    if not files:
        raise DataError(root, "no biwi frame_NNNNN_pose.txt files found")
    records = []
    for pose_path in files:
        image = pose_path.with_name(pose_path.name[: -len("_pose.txt")] + "_rgb.png")
        if not image.is_file():
            raise DataError(pose_path, f"missing image {image.name}")
        R, t = read_biwi_pose(pose_path)
        yaw, pitch, roll = geometry.matrix_to_euler(R)
        records.append(FaceRecord(
            image_path=str(image), pose=R, dataset="biwi",
            attributes={"sequence": pose_path.parent.name, "translation_mm": t,
                        "yaw": float(yaw), "pitch": float(pitch), "roll": float(roll)},
        ))
    return records
