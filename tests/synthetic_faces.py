"""Synthetic faces for data tests that need no real data: a 68-point iBUG-ordered template,
a drawn face image to go with it, and helpers that write records (or a 300W folder) to disk."""
from __future__ import annotations

import pathlib
from typing import Optional

import cv2
import numpy as np

from lponet_tf.data.records import FaceRecord
from lponet_tf.geometry import euler_to_matrix


def template_68(cx: float = 0.0, cy: float = 0.0, size: float = 1.0, roll_deg: float = 0.0) -> np.ndarray:
    """A left-right symmetric 68-point face in iBUG order (jaw, brows, nose, eyes, mouth).

    ``size`` is the jaw width; the face is upright for ``roll_deg = 0`` and
    ``point[FLIP_68]`` mirrored about the vertical axis equals the template.
    """
    pts = []
    t = np.linspace(np.pi, 0.0, 17)  # jaw from the image-left ear, under the chin, to the right
    pts += [(0.5 * np.cos(a), 0.1 + 0.55 * np.sin(a)) for a in t]
    for side in (-1, 1):  # brows: image-left brow 17..21 from outside in, then 22..26
        xs = np.linspace(0.38, 0.08, 5) if side < 0 else np.linspace(0.08, 0.38, 5)
        pts += [(side * x, -0.28 - 0.05 * np.sin(np.pi * (x - 0.08) / 0.3)) for x in xs]
    pts += [(0.0, -0.18 + 0.1 * i) for i in range(4)]  # nose bridge 27..30
    pts += [(x, 0.17 - 0.02 * (1 - abs(x) / 0.1)) for x in np.linspace(-0.1, 0.1, 5)]  # 31..35
    for side in (-1, 1):  # eyes 36..41 and 42..47
        c = side * 0.2
        outer, inner = (c - 0.09, c + 0.09) if side < 0 else (c + 0.09, c - 0.09)
        first, last = (outer, inner) if side < 0 else (inner, outer)
        top = [(c - 0.03, -0.14), (c + 0.03, -0.14)]
        bottom = [(c + 0.03, -0.08), (c - 0.03, -0.08)]
        pts += [(first, -0.11), top[0], top[1], (last, -0.11), bottom[0], bottom[1]]
    ang = np.linspace(np.pi, 0.0, 7)  # outer lip 48..54 (top), 55..59 (bottom)
    pts += [(0.2 * np.cos(a), 0.32 - 0.06 * np.sin(a)) for a in ang]
    pts += [(0.2 * np.cos(a), 0.32 + 0.07 * np.sin(a)) for a in np.linspace(np.pi, 0.0, 7)[1:-1][::-1]]
    pts += [(0.12 * np.cos(a), 0.32 - 0.02 * np.sin(a)) for a in np.linspace(np.pi, 0.0, 5)]  # 60..64
    pts += [(0.12 * np.cos(a), 0.32 + 0.02 * np.sin(a)) for a in np.linspace(np.pi, 0.0, 5)[1:-1][::-1]]
    p = np.array(pts, np.float64) * size
    r = np.deg2rad(roll_deg)
    rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    return (p @ rot.T + [cx, cy]).astype(np.float32)


def draw_face(shape=(200, 220), landmarks: Optional[np.ndarray] = None, seed: int = 0) -> np.ndarray:
    """An RGB image of a face-like drawing on a noisy background, for the given landmarks."""
    rng = np.random.default_rng(seed)
    h, w = shape
    img = rng.integers(40, 90, (h, w, 3), dtype=np.uint8)
    lm = np.round(landmarks).astype(np.int32)
    hull = cv2.convexHull(lm)
    cv2.fillConvexPoly(img, hull, (205, 160, 130))
    for a, b in ((36, 42), (42, 48)):
        cv2.fillPoly(img, [lm[a:b]], (30, 30, 40))
    cv2.fillPoly(img, [lm[48:60]], (170, 60, 70))
    cv2.polylines(img, [lm[17:22], lm[22:27], lm[27:31]], False, (80, 50, 40), 2)
    return img


def write_face(folder: pathlib.Path, name: str, seed: int = 0, shape=(200, 220), mask: bool = False,
               pose: Optional[np.ndarray] = None) -> FaceRecord:
    """Write ``name.png`` (and ``name_mask.png``) with a synthetic face; return its record."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lm = template_68(shape[1] / 2 + rng.uniform(-10, 10), shape[0] / 2 + rng.uniform(-10, 10),
                     size=min(shape) * rng.uniform(0.45, 0.6), roll_deg=rng.uniform(-15, 15))
    img = draw_face(shape, lm, seed)
    path = folder / f"{name}.png"
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    mask_path = None
    if mask:
        m = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(m, cv2.convexHull(np.round(lm).astype(np.int32)), 255)
        m = cv2.dilate(m, np.ones((5, 5), np.uint8))
        mask_path = folder / f"{name}_mask.png"
        cv2.imwrite(str(mask_path), m)
    return FaceRecord(str(path), landmarks=lm, pose=pose, mask_path=mask_path, dataset="synthetic")


def write_300w_folder(folder: pathlib.Path, n: int, shape=(120, 120)) -> pathlib.Path:
    """``n`` synthetic faces in 300W format (``face_000.png`` + ``face_000.pts``, ...), face
    ``i`` drawn with seed ``i``; returns ``folder``.

    Example:
        >>> root = write_300w_folder(tmp_path / "w300", 6)  # doctest: +SKIP
    """
    from lponet_tf.data.pts import write_pts

    for i in range(n):
        record = write_face(folder, f"face_{i:03d}", seed=i, shape=shape)
        write_pts(folder / f"face_{i:03d}.pts", record.landmarks)
    return folder


def labelled_faces(folder: pathlib.Path, n: int, seed: int, pose: bool, mask: bool):
    """``n`` upright-ish synthetic faces (roll within +-25 degrees) on 120 x 120 photos, with
    landmarks, and a roll-only pose label and / or a convex-hull mask label on request."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        roll = float(rng.uniform(-25, 25))
        lm = template_68(60 + rng.uniform(-6, 6), 60 + rng.uniform(-6, 6),
                         size=rng.uniform(55, 70), roll_deg=roll)
        img = draw_face((120, 120), lm, seed * 1000 + i)
        path = folder / f"f{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        mask_path = None
        if mask:
            m = np.zeros((120, 120), np.uint8)
            cv2.fillConvexPoly(m, cv2.convexHull(np.round(lm).astype(np.int32)), 255)
            mask_path = folder / f"f{i}_mask.png"
            cv2.imwrite(str(mask_path), m)
        out.append(FaceRecord(str(path), landmarks=lm,
                              pose=euler_to_matrix([0.0, 0.0, roll]) if pose else None,
                              mask_path=mask_path, dataset="synthetic"))
    return out


def png_header_only(width: int, height: int) -> bytes:
    """A 100-byte grey PNG whose header declares ``width`` x ``height`` pixels, with one
    tiny compressed row of data: a decompression bomb's header, cheap to write."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
