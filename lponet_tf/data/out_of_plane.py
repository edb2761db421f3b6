"""Synthetic out-of-plane head rotation of a training crop (a wider pose distribution).

300W's faces stay within about +-45 deg of yaw and little pitch, so a network trained on them
regresses large angles towards the mean. 300W-LP widened the pose range by fitting a dense
3D face model to each 300W face, rotating it and re-rendering the image. This module does the
sparse version of that with what the project already has, the 68 points, their pose label and
the 3D mean face (:func:`lponet_tf.data.pseudo_pose.mean_face`):

1. **Lift.** Under weak perspective a face at pose ``R`` is seen as ``s (R m)_xy + t``
   (module :mod:`lponet_tf.geometry`). ``s`` and ``t`` are fitted to the labelled points by
   least squares (the :data:`~lponet_tf.data.pseudo_pose.PNP_POINTS`, which leave out the
   jaw and lips); each landmark keeps its labelled ``(x, y)`` and takes the depth
   ``s (R m_i)_z`` of its mean-face point. Two rows of forehead points above the brows
   (head-frame offsets :data:`FOREHEAD_OFFSETS_MM`) extend the mesh over the forehead.
2. **Rotate.** ``dR = euler_to_matrix([yaw, pitch, 0])`` turns the lifted points about the
   head model's origin (the face's centroid, so the face stays where the crop put it):
   ``p' = dR (p - c) + c``; their ``(x, y)`` are the new landmarks and ``dR @ R`` the new
   pose (exact under weak perspective, as for :func:`~lponet_tf.geometry.rotate_in_plane`).
3. **Re-render.** A piecewise-affine warp of the crop over a Delaunay mesh of the moved
   points plus fixed anchors on the crop border (the background stays; the band between the
   face and the border stretches). The inner-lip points (60-67) are not mesh vertices -- they
   coincide with each other on a closed mouth and would make slivers -- their new positions
   are their old ones carried by the mesh, so image and labels agree exactly.

A rotation whose mesh folds (a triangle changes orientation: part of the face would turn
behind another, which a 2D warp cannot show) is retried at half the angles, then dropped;
:func:`rotate_face` reports the angles it applied. The mesh ignores hair, ears and the far
cheek's self-occlusion, so keep the angles moderate (the defaults of
:class:`~lponet_tf.data.augment.AugmentConfig`: +-20 deg pitch, +-15 deg yaw) and use it as an
augmentation, not as a renderer.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import cv2
import numpy as np

#: Landmarks that are not mesh vertices (inner lips): carried by the mesh instead.
CARRIED_POINTS = np.arange(60, 68)
#: Mesh vertices among the 68 points.
MESH_POINTS = np.setdiff1d(np.arange(68), CARRIED_POINTS)
#: Forehead rows: head-frame offsets (mm) from the ten brow points (y to the chin, z into
#: the head: up the forehead it curves back).
FOREHEAD_OFFSETS_MM = ((0.0, -25.0, 6.0), (0.0, -55.0, 18.0))
#: Forehead points closer than this share of the crop side to its border are left out.
FOREHEAD_MARGIN = 0.08
#: Fixed anchors per crop side (corners included once).
BORDER_ANCHORS = 5
#: Tries: the drawn angles, then halved once; a fold after that drops the rotation.
TRIES = 2
#: Most area (a share of the face triangles' area) a turn may hide; more and the turn is
#: halved, then dropped.
MAX_HIDDEN = 0.1
#: A destination triangle smaller than this (px^2, signed) counts as folded.
MIN_AREA = 1e-3


@dataclasses.dataclass
class RotatedFace:
    """A crop after :func:`rotate_face`.

    Attributes:
        image: the re-rendered crop (same shape and dtype as the input).
        landmarks: ``(68, 2)`` float32 landmarks in the crop.
        pose: ``(3, 3)`` float32 pose label.
        angles: ``(yaw, pitch)`` degrees actually applied (``(0, 0)``: nothing changed).
        maps: ``(map_x, map_y)`` for ``cv2.remap`` of any other image aligned with the crop
            (a mask label), or None when nothing changed.
    """

    image: np.ndarray
    landmarks: np.ndarray
    pose: np.ndarray
    angles: Tuple[float, float]
    maps: Optional[Tuple[np.ndarray, np.ndarray]]


def lift_points(landmarks: np.ndarray, pose: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depths for the 68 points and the forehead rows (step 1 of the module doc).

    Args:
        landmarks: ``(68, 2)`` points in the crop.
        pose: ``(3, 3)`` head-to-camera rotation of the face.

    Returns:
        ``(points (68 + 20, 3), centre (3,), scale)``: landmarks then forehead points as
        ``(x, y, depth)`` in crop pixels, the head model's origin ``(tx, ty, 0)`` and ``s``.

    Example:
        >>> from lponet_tf.data.pseudo_pose import mean_face
        >>> m = mean_face()
        >>> pts, c, s = lift_points(0.5 * m[:, :2] + 64, np.eye(3))
        >>> round(s, 6), c.round(6).tolist(), bool(np.allclose(pts[:68, 2], 0.5 * m[:, 2]))
        (0.5, [64.0, 64.0, 0.0], True)
    """
    from lponet_tf.data.pseudo_pose import PNP_POINTS, mean_face

    lm = np.asarray(landmarks, np.float64)
    rm = mean_face() @ np.asarray(pose, np.float64).T  # (68, 3): R m_i
    # Least squares for s and t in  lm ~ s (R m)_xy + t  over the rigid points.
    a = rm[PNP_POINTS, :2] - rm[PNP_POINTS, :2].mean(0)
    b = lm[PNP_POINTS] - lm[PNP_POINTS].mean(0)
    scale = float((a * b).sum() / max((a * a).sum(), 1e-12))
    t = lm[PNP_POINTS].mean(0) - scale * rm[PNP_POINTS, :2].mean(0)
    points = np.concatenate([lm, scale * rm[:, 2:]], axis=1)
    brows = points[17:27]
    rows = [brows + scale * (np.asarray(pose, np.float64) @ np.asarray(d)) for d in FOREHEAD_OFFSETS_MM]
    return np.concatenate([points] + rows), np.array([t[0], t[1], 0.0]), scale


def border_anchors(size: int) -> np.ndarray:
    """``(4 (n - 1), 2)`` fixed points on the border of an ``size``-px crop."""
    s = np.linspace(0.0, size - 1.0, BORDER_ANCHORS)
    lo, hi = np.zeros_like(s), np.full_like(s, size - 1.0)
    sides = [np.stack(p, 1) for p in ((s, lo), (hi, s), (s[::-1], hi), (lo, s[::-1]))]
    return np.concatenate([side[:-1] for side in sides])


def _signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    p0, p1, p2 = (points[triangles[:, k]] for k in range(3))
    d1, d2 = p1 - p0, p2 - p0
    return 0.5 * (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])


def _affines(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(T, 2, 3)`` affines mapping each ``src`` triangle onto its ``dst`` triangle.

    ``cv2.getAffineTransform`` per triangle, solved for all at once: the Python loop over
    triangles held the GIL for a sixth of a sample's time. Like it, the vertices are read
    as float32 and a degenerate ``src`` triangle gets the zero map (never applied: only
    triangles with area are painted).
    """
    tri_src = src[triangles].astype(np.float32).astype(np.float64)  # (T, 3, 2)
    tri_dst = dst[triangles].astype(np.float32).astype(np.float64)
    # [x y 1] rows: the affine's transpose solves rows @ X = dst.
    rows = np.concatenate([tri_src, np.ones(tri_src.shape[:2] + (1,))], axis=2)
    solvable = np.abs(np.linalg.det(rows)) > 1e-9
    out = np.zeros((len(triangles), 3, 2))
    if solvable.any():
        out[solvable] = np.linalg.solve(rows[solvable], tri_dst[solvable])
    return out.transpose(0, 2, 1)


def _apply(affines: np.ndarray, which: np.ndarray, points: np.ndarray) -> np.ndarray:
    a = affines[which]
    return np.einsum("nij,nj->ni", a[:, :, :2], points) + a[:, :, 2]


def mesh_warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray, triangles: np.ndarray,
              depth: Optional[np.ndarray] = None):
    """Piecewise-affine warp of ``image`` moving ``src`` mesh vertices to ``dst``.

    Triangles are painted far to near (mean vertex ``depth``, larger = farther), so a part
    of the face that turns in front of another covers it, as in a renderer; triangles whose
    orientation flips (now facing away) are not painted.

    Args:
        image: ``(S, S[, C])`` crop.
        src, dst: ``(N, 2)`` vertices before and after.
        triangles: ``(T, 3)`` vertex indices (a triangulation of ``src``).
        depth: ``(N,)`` vertex depths after the move, or None (paint in index order).

    Returns:
        ``(warped image, (map_x, map_y))``; pixels that no painted triangle covers sample
        themselves.
    """
    h, w = image.shape[:2]
    owner = np.full((h, w), -1, np.int32)
    facing = front_facing(src, dst, triangles)
    order = np.arange(len(triangles)) if depth is None else np.argsort(-depth[triangles].mean(1), kind="stable")
    for k in order[facing[order]]:
        # Fixed-point vertices (4 fractional bits) so thin triangles keep their pixels.
        cv2.fillConvexPoly(owner, np.round(dst[triangles[k]] * 16).astype(np.int32), int(k), cv2.LINE_8, 4)
    back = _affines(dst, src, triangles)
    ys, xs = np.mgrid[0:h, 0:w]
    grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    inside = owner.ravel() >= 0
    mapped = grid.copy()
    mapped[inside] = _apply(back, owner.ravel()[inside], grid[inside])
    map_x = mapped[:, 0].reshape(h, w).astype(np.float32)
    map_y = mapped[:, 1].reshape(h, w).astype(np.float32)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return warped, (map_x, map_y)


def front_facing(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: the triangle keeps its orientation (and a non-degenerate area)."""
    a0, a1 = _signed_areas(src, triangles), _signed_areas(dst, triangles)
    return (np.sign(a0) == np.sign(a1)) & (np.abs(a1) > MIN_AREA)


def rotate_face(image: np.ndarray, landmarks: np.ndarray, pose: np.ndarray, yaw_deg: float,
                pitch_deg: float, max_hidden: float = MAX_HIDDEN) -> RotatedFace:
    """Turn the face of a crop out of plane by ``yaw_deg`` / ``pitch_deg`` (module doc).

    Args:
        image: ``(S, S[, C])`` crop.
        landmarks: ``(68, 2)`` iBUG points in the crop.
        pose: ``(3, 3)`` pose label of the face.
        yaw_deg, pitch_deg: the turn, in the signs of :mod:`lponet_tf.geometry` (yaw > 0:
            the face turns to the image left; pitch > 0: it looks up).
        max_hidden: most of the face's mesh area (a share) the turn may hide before it is
            halved, then dropped (:data:`MAX_HIDDEN`).

    Returns:
        :class:`RotatedFace` (``angles`` may be halved or ``(0, 0)`` when the mesh folds).

    Raises:
        ValueError: when the landmarks are not 68 points.

    Example:
        >>> from lponet_tf.data.pseudo_pose import mean_face
        >>> from lponet_tf.geometry import matrix_to_euler
        >>> crop = np.zeros((128, 128, 3), np.uint8)
        >>> out = rotate_face(crop, 0.6 * mean_face()[:, :2] + 64, np.eye(3), 0.0, 15.0)
        >>> out.angles, (matrix_to_euler(out.pose).round(3) + 0.0).tolist()
        ((0.0, 15.0), [0.0, 15.0, 0.0])
    """
    from scipy.spatial import Delaunay

    from lponet_tf import geometry

    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"out-of-plane rotation needs 68 landmarks, got shape {lm.shape}")
    size = image.shape[0]
    lifted, centre, _ = lift_points(lm, pose)

    def turned(angles):
        d_r = geometry.euler_to_matrix([angles[0], angles[1], 0.0])
        return d_r, (lifted - centre) @ d_r.T + centre

    # Forehead points near the border would make slivers with the fixed anchors: keep those
    # well inside the crop before and after the full turn (halving keeps them inside).
    lo, hi = FOREHEAD_MARGIN * size, (1.0 - FOREHEAD_MARGIN) * size
    full = turned((float(yaw_deg), float(pitch_deg)))[1]
    forehead = np.arange(68, len(lifted))
    inside = np.all((lifted[forehead, :2] > lo) & (lifted[forehead, :2] < hi)
                    & (full[forehead, :2] > lo) & (full[forehead, :2] < hi), axis=1)
    keep = np.concatenate([MESH_POINTS, forehead[inside]])
    anchors = border_anchors(size)
    src = np.concatenate([lifted[keep, :2], anchors])
    mesh = Delaunay(src)
    triangles = mesh.simplices
    src_area = _signed_areas(src, triangles)
    face = np.arange(len(keep))  # mesh vertices that are on the face (not anchors)
    on_face = np.isin(triangles, face).all(1)
    for attempt in range(TRIES):
        k = 0.5 ** attempt
        angles = (float(yaw_deg) * k, float(pitch_deg) * k)
        d_r, moved = turned(angles)
        dst = np.concatenate([moved[keep, :2], anchors])
        hidden = ~front_facing(src, dst, triangles)
        # What turns away (parts of the face, slivers of background beside the contour)
        # is covered by what turns in front of it, up to a share of the face's area.
        if np.abs(src_area[hidden]).sum() <= max_hidden * np.abs(src_area[on_face]).sum():
            break
    else:
        return RotatedFace(image, lm.astype(np.float32), np.asarray(pose, np.float32), (0.0, 0.0), None)

    depth = np.concatenate([moved[keep, 2], np.full(len(anchors), np.inf)])
    warped, maps = mesh_warp(image, src, dst, triangles, depth)
    new = moved[:68, :2].copy()
    # Inner lips ride on the mesh: the triangle of src that holds each, mapped forward.
    which = mesh.find_simplex(lm[CARRIED_POINTS])
    ok = (which >= 0) & ~hidden[np.maximum(which, 0)]
    forward = _affines(src, dst, triangles)
    new[CARRIED_POINTS[ok]] = _apply(forward, which[ok], lm[CARRIED_POINTS[ok]])
    new_pose = d_r @ np.asarray(pose, np.float64)
    return RotatedFace(warped, new.astype(np.float32), new_pose.astype(np.float32), angles, maps)


def remap_like(image: np.ndarray, maps: Optional[Tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Apply a :class:`RotatedFace`'s ``maps`` to another crop-aligned image (a mask)."""
    if maps is None:
        return image
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
