"""Fixture writers for the reader tests: small images and annotation files in each
dataset's exact format, for the formats with no real sample in ../shared/data."""
from __future__ import annotations

import pathlib

import cv2
import numpy as np

from lponet_tf import geometry
from lponet_tf.data.pseudo_pose import mean_face
from lponet_tf.data.pts import write_pts

#: Bytes of a valid 1x1 PNG (written once; tests only need an existing, decodable image).
PNG_1x1 = cv2.imencode(".png", np.full((1, 1, 3), 128, np.uint8))[1].tobytes()


def write_image(path, size=(1, 1)) -> pathlib.Path:
    """Write a grey ``(height, width)`` image; 1x1 PNG bytes when size is (1, 1)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tuple(size) == (1, 1) and path.suffix.lower() == ".png":
        path.write_bytes(PNG_1x1)
    else:
        assert cv2.imwrite(str(path), np.full((*size, 3), 128, np.uint8))
    return path


def face_points(seed: int = 0, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0,
                size: int = 256) -> np.ndarray:
    """68 plausible points: the mean face at a pose, weak-perspective, in a ``size`` image,
    with a seed-dependent sub-pixel offset so that files differ."""
    R = geometry.euler_to_matrix([yaw, pitch, roll])
    pts = (mean_face() @ R.T)[:, :2] * (0.4 * size / 90.0) + size / 2.0
    return pts + np.random.default_rng(seed).uniform(-0.5, 0.5, (1, 2))


def write_pair(folder, stem: str, points, ext: str = ".jpg") -> pathlib.Path:
    """``folder/stem.pts`` + ``folder/stem<ext>``; returns the .pts path."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / f"{stem}{ext}")
    write_pts(folder / f"{stem}.pts", points)
    return folder / f"{stem}.pts"
