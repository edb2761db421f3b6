#!/usr/bin/env python
"""Regenerate ``lponet_tf/assets/mean_face_68.npy``, the 3D mean face of the pose pseudo-labels.

Usage::

    .venv/bin/python scripts/derive_mean_face.py AFLW2000_DIR_OR_MAT [...] --out PATH [--overwrite]

To replace the packaged file, name it: ``--out lponet_tf/assets/mean_face_68.npy --overwrite``
(every pose pseudo-label, and so the bundled model's pose, was made with that file).

Input: AFLW2000-3D faces (``imageNNNNN.mat``; the bundled mean face was derived from four).

Derivation, per ``imageNNNNN.mat``:

1. ``pt3d_68`` (3 x 68) is in image coordinates: x right, y down (3DDFA already flipped
   y), and 3DDFA's depth, which points towards the viewer. Negating the depth puts the
   points in the camera frame of :mod:`lponet_tf.geometry` (x right, y down, z forward).
2. Centre the points and undo the face's own pose and scale:
   ``m = R^T p / s`` with ``R = geometry.pose_para_to_matrix(Pose_Para)`` and ``s =
   Pose_Para[6]``. ``m`` is then in the geometry head frame, in 3DDFA's model units
   (Basel Face Model micrometres); dividing by 1000 gives millimetres.
3. Average the samples (they agree to ~2.6 mm RMS per point), average the result with
   its mirror image (x -> -x and the iBUG mirror permutation) so that the face is
   symmetric about x = 0, and centre it on the 68-point centroid.

300W-LP ``.mat`` files have only ``pt2d`` (no depth), so they cannot contribute.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import List, Sequence, Tuple

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lponet_tf import geometry  # noqa: E402
from lponet_tf.data.augment import FLIP_68  # noqa: E402
from lponet_tf.data.matfile import load_mat  # noqa: E402
from lponet_tf.data.pseudo_pose import MEAN_FACE_PATH  # noqa: E402
from lponet_tf.fileio import OutputError, atomic_write_via, check_outputs, check_writable  # noqa: E402

#: 3DDFA's model unit (Basel Face Model: micrometres) per millimetre.
MODEL_UNITS_PER_MM = 1000.0


def head_frame_shape(mat_path) -> np.ndarray:
    """One AFLW2000 face's 68 points in the head frame, millimetres, centred: (68, 3)."""
    mat = load_mat(mat_path, keys=["pt3d_68", "Pose_Para"])
    points = np.asarray(mat["pt3d_68"], dtype=np.float64) * np.array([[1.0], [1.0], [-1.0]])
    pose_para = np.asarray(mat["Pose_Para"], dtype=np.float64).reshape(-1)
    R = geometry.pose_para_to_matrix(pose_para[:3])
    centred = points - points.mean(axis=1, keepdims=True)
    return (R.T @ centred / pose_para[6] / MODEL_UNITS_PER_MM).T


def derive_mean_face(mat_paths: Sequence) -> Tuple[np.ndarray, np.ndarray]:
    """Mean face from AFLW2000-3D ``.mat`` files.

    Args:
        mat_paths: ``imageNNNNN.mat`` files with ``pt3d_68`` and ``Pose_Para``.

    Returns:
        ``(mean (68, 3) float32 mm, per-sample RMS distance to the unsymmetrised mean in mm)``.

    Example:
        >>> face, rms = derive_mean_face(sorted(pathlib.Path("/data/AFLW2000").glob("*.mat")))  # doctest: +SKIP
    """
    if not mat_paths:
        raise ValueError("no AFLW2000 .mat files given")
    shapes = np.stack([head_frame_shape(p) for p in mat_paths])
    mean = shapes.mean(axis=0)
    rms = np.sqrt(((shapes - mean) ** 2).sum(axis=2).mean(axis=1))
    mirrored = mean[FLIP_68] * np.array([-1.0, 1.0, 1.0])
    symmetric = (mean + mirrored) / 2.0
    symmetric -= symmetric.mean(axis=0)
    return symmetric.astype(np.float32), rms


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", type=pathlib.Path,
                        help="AFLW2000-3D folders or .mat files")
    parser.add_argument("--out", type=pathlib.Path, required=True,
                        help=f".npy to write (the packaged one: {MEAN_FACE_PATH})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    if args.out.suffix != ".npy":  # np.save would add it and write another file
        parser.exit(2, f"derive_mean_face: --out {args.out}: give a .npy path\n")
    try:
        check_outputs([args.out], inputs=args.inputs, overwrite=args.overwrite, what="mean face")
        check_writable(args.out)
    except OutputError as exc:
        parser.exit(2, f"derive_mean_face: {exc}\n")
    mats = []
    for item in args.inputs:
        mats.extend(sorted(item.glob("*.mat")) if item.is_dir() else [item])
    face, rms = derive_mean_face(mats)
    for path, r in zip(mats, rms):
        print(f"{path.name}: RMS {r:.2f} mm from the mean")
    atomic_write_via(args.out, lambda tmp: np.save(tmp, face))
    iod = np.linalg.norm(face[36] - face[45])
    print(f"wrote {args.out}: {len(mats)} faces, outer eye corners {iod:.1f} mm apart")
    return 0


if __name__ == "__main__":
    sys.exit(main())
