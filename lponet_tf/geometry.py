"""Head-pose geometry: the project's ONE rotation convention, in numpy.

Every rotation matrix in lponet-tf (pose labels, the 6D head's output, metrics,
augmentation) follows the convention written here. The functions take and return numpy
arrays and accept leading batch dimensions; :mod:`lponet_tf.geometry_ops` holds the
``keras.ops`` versions of the three that run on tensors of any Keras backend (the
Gram-Schmidt layer, the geodesic loss / metric, the Euler metric), tested against these.

Convention
----------
*Camera frame* (OpenCV): ``x`` points to the image right (columns), ``y`` to the image
bottom (rows), ``z`` forward along the optical axis, away from the camera into the
scene. It is right-handed, so the weak-perspective projection of a camera-frame point is
simply its ``(x, y)``, in image orientation.

*Head frame*: the axes a frontal, upright face has when ``R = I``: ``x`` towards the
subject's left ear (image right), ``y`` towards the chin (image down), ``z`` from the
face into the head (the face looks along ``-z``, at the camera).

*Matrix*: ``R`` maps head coordinates to camera coordinates, ``p_cam = R @ p_head``; its
columns are the head axes written in the camera frame. A head model ``m`` (3, K) is seen
at pose ``R`` as ``s * (R @ m)[:2] + t`` (weak perspective).

*Euler angles* ``(yaw, pitch, roll)`` in degrees, the numbers of 300W-LP / AFLW2000
``Pose_Para = [pitch, yaw, roll, tx, ty, tz, scale]`` (radians there)::

    R = Rx(-pitch) @ Ry(yaw) @ Rz(roll)

with the right-handed elementary rotations ``Rx(a) = [[1,0,0],[0,c,-s],[0,s,c]]``,
``Ry(a) = [[c,0,s],[0,1,0],[-s,0,c]]``, ``Rz(a) = [[c,-s,0],[s,c,0],[0,0,1]]``. Seen in
the image:

- ``yaw > 0``: the face turns towards the image LEFT (the subject turns to their right);
- ``pitch > 0``: the face looks UP (chin up);
- ``roll > 0``: the head turns CLOCKWISE as displayed (top of the head to the image right).

This is 3DDFA's own matrix (``RotationMatrix(pitch, yaw, roll)``, which works in a frame
with ``y`` up and ``z`` towards the viewer) conjugated by ``C = diag(1, -1, -1)``:
``R = C @ R_3ddfa @ C``. The tests prove it on the real AFLW2000-3D samples: undoing
each sample's ``R`` on its own ``pt3d_68`` gives mutually consistent, symmetric, upright
frontal shapes, which every other multiplication order / transpose / sign choice fails.

:func:`matrix_to_euler` inverts :func:`euler_to_matrix` for ``|yaw| < 90`` and
``pitch, roll`` in ``(-180, 180]``; at ``|yaw| = 90`` (gimbal lock) it returns
``roll = 0``. The ``pitch``-``roll`` axes never lock, so unlike a yaw-pitch-roll order the
Pose_Para order is exact over the whole ``pitch`` range.

Augmentation composes matrices (never adds angles): :func:`rotate_in_plane` (an image
rotated with ``cv2.getRotationMatrix2D`` semantics) and :func:`mirror_rotation` (a
horizontal flip). Both are exact under weak perspective; translation and scale of the
crop leave ``R`` unchanged.
"""
from __future__ import annotations

import numpy as np

#: ``R = C @ R_3ddfa @ C`` (see the module docstring).
C_3DDFA = np.diag([1.0, -1.0, -1.0])

#: Horizontal image flip in the camera frame (x -> -x).
FLIP_X = np.diag([-1.0, 1.0, 1.0])

# Gram-Schmidt / normalisation floor: keeps a zero vector finite instead of NaN.
_NORM_EPS = 1e-12
# acos clamp margin for the geodesic distance: the derivative of acos is infinite at +-1,
# so the argument never reaches it (at R1 == R2 the clamp is active and the gradient is 0).
GEODESIC_EPS = 1e-6
# Below this cos(yaw) the decomposition is at gimbal lock and roll is set to 0.
_GIMBAL_EPS = 1e-6


# --------------------------------------------------------------------------------------
# numpy
# --------------------------------------------------------------------------------------
def _elementary(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """Right-handed rotation about a camera axis; angle_rad (...,) -> (..., 3, 3)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    o, z = np.ones_like(c), np.zeros_like(c)
    rows = {
        "x": [[o, z, z], [z, c, -s], [z, s, c]],
        "y": [[c, z, s], [z, o, z], [-s, z, c]],
        "z": [[c, -s, z], [s, c, z], [z, z, o]],
    }[axis]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def _cross_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack(
        [
            a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
            a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
            a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0],
        ],
        axis=-1,
    )


def _normalize_np(v: np.ndarray) -> np.ndarray:
    return v / np.sqrt(np.maximum(np.sum(v * v, axis=-1, keepdims=True), _NORM_EPS))


def rotation_6d_to_matrix(x) -> np.ndarray:
    """6D representation -> rotation matrix by Gram-Schmidt (paper Eq. 2), numpy.

    Args:
        x: ``(..., 6)``; ``a1 = x[..., :3]`` and ``a2 = x[..., 3:6]`` are the first two
            COLUMNS of an unnormalised matrix.

    Returns:
        ``(..., 3, 3)`` float64 (float32 stays float32) rotation whose columns are
        ``b1 = a1/|a1|``, ``b2 = normalised(a2 - (b1.a2) b1)``, ``b3 = b1 x b2``.

    Example:
        >>> rotation_6d_to_matrix([2.0, 0, 0, 1, 3, 0]).round(3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = _normalize_np(a1)
    b2 = _normalize_np(a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1)
    b3 = _cross_np(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def matrix_to_rotation_6d(R) -> np.ndarray:
    """Inverse of :func:`rotation_6d_to_matrix` for a rotation: its first two columns.

    Args:
        R: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(..., 6)``: ``concat(R[..., :, 0], R[..., :, 1])``.

    Example:
        >>> matrix_to_rotation_6d(np.eye(3)).tolist()
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    """
    R = np.asarray(R)
    return np.concatenate([R[..., :, 0], R[..., :, 1]], axis=-1)


def euler_to_matrix(ypr_deg) -> np.ndarray:
    """``(yaw, pitch, roll)`` degrees -> rotation ``Rx(-pitch) @ Ry(yaw) @ Rz(roll)``.

    Args:
        ypr_deg: ``(..., 3)`` yaw, pitch, roll in degrees (module docstring for signs).

    Returns:
        ``(..., 3, 3)`` float64 head-to-camera rotation.

    Example:
        >>> R = euler_to_matrix([30.0, 0.0, 0.0])
        >>> bool(R[0, 2] > 0)  # the head's z axis leans to +x: the face looks to image left
        True
    """
    a = np.radians(np.asarray(ypr_deg, dtype=np.float64))
    yaw, pitch, roll = a[..., 0], a[..., 1], a[..., 2]
    return _elementary("x", -pitch) @ _elementary("y", yaw) @ _elementary("z", roll)


def matrix_to_euler(R) -> np.ndarray:
    """Rotation -> ``(yaw, pitch, roll)`` degrees, the inverse of :func:`euler_to_matrix`.

    From ``R = Rx(-pitch) Ry(yaw) Rz(roll)``: ``R[0,2] = sin(yaw)``,
    ``(R[0,0], R[0,1]) = cos(yaw) (cos roll, -sin roll)`` and
    ``(R[1,2], R[2,2]) = cos(yaw) (sin pitch, cos pitch)``.

    Args:
        R: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(..., 3)`` float64 yaw in ``[-90, 90]``, pitch and roll in ``(-180, 180]``.
        At gimbal lock (``|yaw| = 90``) roll is 0 and pitch carries the rest.

    Example:
        >>> matrix_to_euler(euler_to_matrix([10.0, -20.0, 30.0])).round(6).tolist()
        [10.0, -20.0, 30.0]
    """
    R = np.asarray(R, dtype=np.float64)
    cos_yaw = np.hypot(R[..., 0, 0], R[..., 0, 1])
    yaw = np.arctan2(R[..., 0, 2], cos_yaw)
    locked = cos_yaw < _GIMBAL_EPS
    pitch = np.where(
        locked,
        -np.sign(R[..., 0, 2]) * np.arctan2(R[..., 1, 0], R[..., 1, 1]),
        np.arctan2(R[..., 1, 2], R[..., 2, 2]),
    )
    roll = np.where(locked, 0.0, np.arctan2(-R[..., 0, 1], R[..., 0, 0]))
    return np.degrees(np.stack([yaw, pitch, roll], axis=-1))


def wrap_degrees(angle) -> np.ndarray:
    """Angles (or angle differences) in degrees, wrapped into ``(-180, 180]``."""
    return -np.mod(180.0 - np.asarray(angle, np.float64), 360.0) + 180.0


def other_euler_branch(ypr_deg) -> np.ndarray:
    """The other ``(yaw, pitch, roll)`` of the same rotation: ``(+-180 - yaw, pitch + 180,
    roll + 180)``, pitch and roll wrapped into ``(-180, 180]``.

    Every rotation off gimbal lock has two Euler triples; :func:`matrix_to_euler` returns the
    one with ``|yaw| <= 90``. A label may be the other one: AFLW2000 keeps faces up to 99
    degrees, so a ``Pose_Para`` yaw of 95 is the matrix whose :func:`matrix_to_euler` is
    ``(85, pitch - 180, roll - 180)``.

    Example:
        >>> other_euler_branch([95.0, 10.0, 5.0]).tolist()
        [85.0, -170.0, -175.0]
    """
    ypr = np.asarray(ypr_deg, np.float64)
    yaw = np.where(ypr[..., 0] >= 0, 180.0, -180.0) - ypr[..., 0]
    return np.stack([yaw, wrap_degrees(ypr[..., 1] + 180.0), wrap_degrees(ypr[..., 2] + 180.0)],
                    axis=-1)


def matrix_to_euler_near(R, near_deg) -> np.ndarray:
    """:func:`matrix_to_euler` on the Euler branch closer to ``near_deg`` (a label's angles).

    Scoring a rotation against Euler labels (Eq. 11) compares numbers, so both must be the
    same triple of the two a rotation has (:func:`other_euler_branch`): the one nearer the
    label, by the sum of the wrapped angle differences. For ``|yaw|`` below 90 on both
    sides this is :func:`matrix_to_euler` itself.

    Args:
        R: ``(..., 3, 3)`` rotations.
        near_deg: ``(..., 3)`` the (yaw, pitch, roll) to be near, e.g. the raw ``Pose_Para``.

    Example:
        >>> matrix_to_euler_near(euler_to_matrix([95.0, 10.0, 5.0]), [93.0, 9.0, 5.0]
        ...                      ).round(6).tolist()
        [95.0, 10.0, 5.0]
    """
    first = matrix_to_euler(R)
    second = other_euler_branch(first)
    near = np.asarray(near_deg, np.float64)
    far = (np.abs(wrap_degrees(second - near)).sum(-1)
           < np.abs(wrap_degrees(first - near)).sum(-1))
    return np.where(far[..., None], second, first)


def pose_para_to_euler(pose_para) -> np.ndarray:
    """300W-LP / AFLW2000 ``Pose_Para`` -> ``(yaw, pitch, roll)`` degrees.

    Args:
        pose_para: ``(..., >=3)``: pitch, yaw, roll in radians first (``.mat`` key
            ``Pose_Para`` is ``(1, 7)``; pass it as is or flattened).

    Returns:
        ``(..., 3)`` yaw, pitch, roll in degrees (the same numbers, reordered).

    Example:
        >>> pose_para_to_euler([0.1, 0.2, 0.3, 0, 0, 0, 1]).round(3).tolist()
        [11.459, 5.73, 17.189]
    """
    p = np.asarray(pose_para, dtype=np.float64)
    return np.degrees(np.stack([p[..., 1], p[..., 0], p[..., 2]], axis=-1))


def pose_para_to_matrix(pose_para) -> np.ndarray:
    """300W-LP / AFLW2000 ``Pose_Para`` (pitch, yaw, roll radians, ...) -> rotation.

    Args:
        pose_para: ``(..., >=3)`` as in :func:`pose_para_to_euler`.

    Returns:
        ``(..., 3, 3)`` float64 rotation in this module's convention.

    Example:
        >>> pose_para_to_matrix([0.0, 0.0, 0.0, 1, 2, 3, 0.001]).tolist() == np.eye(3).tolist()
        True
    """
    return euler_to_matrix(pose_para_to_euler(pose_para))


def geodesic_distance(R1, R2) -> np.ndarray:
    """Angle of ``R1 @ R2.T`` in radians (paper Eq. 4 / Table 2), numpy.

    ``acos((tr(R1 R2^T) - 1) / 2)`` with the argument clamped to ``[-1, 1]``.

    Args:
        R1, R2: ``(..., 3, 3)`` rotations (broadcast against each other).

    Returns:
        ``(...)`` float64 distances in ``[0, pi]``.

    Example:
        >>> round(float(geodesic_distance(np.eye(3), euler_to_matrix([0, 0, 90.0]))), 6)
        1.570796
    """
    R1 = np.asarray(R1, dtype=np.float64)
    R2 = np.asarray(R2, dtype=np.float64)
    cos = (np.sum(R1 * R2, axis=(-2, -1)) - 1.0) / 2.0  # tr(A B^T) = sum(A * B)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def in_plane_matrix(angle_deg) -> np.ndarray:
    """Camera-frame rotation of an image rotation by ``angle_deg`` (cv2 sense).

    ``cv2.getRotationMatrix2D(c, a, s)`` maps ``(x, y)`` by ``[[cos, sin], [-sin, cos]]``
    (counter-clockwise on screen for ``a > 0`` because ``y`` points down), which is
    ``Rz(-a)`` in the camera frame.

    Args:
        angle_deg: ``(...)`` image rotation angles in degrees.

    Returns:
        ``(..., 3, 3)`` float64 ``Rz(-angle)``.

    Example:
        >>> in_plane_matrix(90.0).round(6)[:2, :2].tolist()
        [[0.0, 1.0], [-1.0, 0.0]]
    """
    return _elementary("z", -np.radians(np.asarray(angle_deg, dtype=np.float64)))


def rotate_in_plane(R, angle_deg) -> np.ndarray:
    """Pose label after the IMAGE is rotated by ``angle_deg`` about any centre.

    Matches ``cv2.getRotationMatrix2D(center, angle_deg, scale)`` + ``cv2.warpAffine``
    (positive = counter-clockwise as displayed). The image rotation is a camera-frame
    rotation about the optical axis applied after the head pose:
    ``R' = Rz(-angle) @ R``. For a frontal face the roll changes by ``-angle_deg``
    (a counter-clockwise image rotation turns the head counter-clockwise; positive roll
    is clockwise). Centre, scale and translation do not change ``R``.

    Args:
        R: ``(..., 3, 3)`` rotations.
        angle_deg: scalar or ``(...)`` angles in degrees, broadcast against ``R``.

    Returns:
        ``(..., 3, 3)`` rotated pose, same float dtype as ``R`` when ``R`` is floating.

    Example:
        >>> matrix_to_euler(rotate_in_plane(euler_to_matrix([0, 0, 10.0]), 25.0)).round(6).tolist()
        [0.0, 0.0, -15.0]
    """
    R = np.asarray(R)
    out = in_plane_matrix(angle_deg) @ R
    return out.astype(R.dtype) if np.issubdtype(R.dtype, np.floating) else out


def mirror_rotation(R) -> np.ndarray:
    """Pose label after a horizontal image flip: ``R' = F @ R @ F``, ``F = diag(-1, 1, 1)``.

    The flipped image shows the mirrored head, whose model is ``F @ m`` with the 68
    points re-indexed by the mirror permutation; ``F R m = (F R F)(F m)`` so ``F R F``
    is its pose (a proper rotation again: ``det F = -1`` twice). In Euler terms yaw and
    roll change sign and pitch stays; the matrix form is exact at any pose.

    Args:
        R: ``(..., 3, 3)`` rotations.

    Returns:
        ``(..., 3, 3)`` mirrored pose, same dtype as ``R``.

    Example:
        >>> matrix_to_euler(mirror_rotation(euler_to_matrix([20.0, 10.0, 5.0]))).round(6).tolist()
        [-20.0, 10.0, -5.0]
    """
    R = np.asarray(R)
    # F R F negates the entries of row 0 and column 0 once each: (0,0) keeps its sign.
    sign = np.array([[1.0, -1.0, -1.0], [-1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]])
    out = R * sign
    return out.astype(R.dtype) if np.issubdtype(R.dtype, np.floating) else out


def nearest_rotation(m) -> np.ndarray:
    """The proper rotation nearest to ``m`` in the Frobenius norm (a 3x3 matrix or a batch).

    ``U diag(1, 1, det(U V^T)) V^T`` from the SVD ``m = U S V^T``: the orthogonal polar
    factor when ``det m > 0``, never a reflection. A 6D head's output is a rotation by
    construction (Eq. 2), but an int8 file's output is quantised entry by entry (steps of
    2/255 on [-1, 1]) and only near one; projecting it back removes the part of that noise
    which leaves SO(3) (``lponet_tf.codec.decode.pose_rotation``). The Android core's
    ``Rotations.nearestRotation`` gives the same matrices.

    Args:
        m: ``(..., 3, 3)`` matrices.

    Returns:
        ``(..., 3, 3)`` float64 rotations.

    Example:
        >>> r = euler_to_matrix([30.0, -10.0, 5.0])
        >>> float(np.abs(nearest_rotation(r + 0.01) - r).max()) < 0.02
        True
        >>> float(np.linalg.det(nearest_rotation(np.diag([1.0, 1.0, -1.0]))))
        1.0
    """
    u, _, vt = np.linalg.svd(np.asarray(m, np.float64))
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.ones(u.shape[:-1])
    fix[..., -1] = np.where(d == 0, 1.0, d)
    return (u * fix[..., None, :]) @ vt


__all__ = [
    "C_3DDFA",
    "FLIP_X",
    "GEODESIC_EPS",
    "rotation_6d_to_matrix",
    "matrix_to_rotation_6d",
    "euler_to_matrix",
    "matrix_to_euler",
    "matrix_to_euler_near",
    "other_euler_branch",
    "wrap_degrees",
    "pose_para_to_euler",
    "pose_para_to_matrix",
    "geodesic_distance",
    "nearest_rotation",
    "in_plane_matrix",
    "rotate_in_plane",
    "mirror_rotation",
]
