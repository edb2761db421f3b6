"""The rotation maths the network and its losses / metrics need, in ``keras.ops``.

The convention is :mod:`lponet_tf.geometry`'s (numpy, the reference the tests check these
against); this module holds the three functions that run on tensors of any Keras backend
(TensorFlow, JAX, PyTorch) inside a model, a loss or a metric:

- :func:`rotation_6d_to_matrix` — Gram-Schmidt, paper Eq. 2 (the ``GramSchmidt`` layer);
- :func:`geodesic_distance` — paper Eq. 4 (``PoseLoss``, the ``PoseGeodesic`` metric);
- :func:`matrix_to_euler` — (yaw, pitch, roll) degrees (the ``PoseMAE`` metric).

Under the TensorFlow backend they lower to plain TF ops (no ``Cross``: the cross product
is written with slices), so the TFLite and ONNX converters see builtin ops. Half-precision
input (mixed precision) is computed in float32 and cast back: the normalisation floor and
the acos clamp do not survive float16.

Example:
    >>> import numpy as np
    >>> R = rotation_6d_to_matrix(np.array([[2.0, 0, 0, 1, 3, 0]], "float32"))
    >>> float(geodesic_distance(R, np.eye(3, dtype="float32")[None], eps=0.0)[0])
    0.0
"""
from __future__ import annotations

import math

import keras
from keras import ops

from lponet_tf.geometry import _GIMBAL_EPS, _NORM_EPS, GEODESIC_EPS


def _float(x):
    """``(x in its own float dtype, float32/float64 work copy)``; ints become float32."""
    x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        x = ops.cast(x, "float32")
        dtype = "float32"
    work = x if dtype in ("float32", "float64") else ops.cast(x, "float32")
    return x, work


def rotation_6d_to_matrix(x):
    """6D representation -> rotation matrix by Gram-Schmidt (paper Eq. 2).

    Same maths as :func:`lponet_tf.geometry.rotation_6d_to_matrix`: ``a1 = x[..., :3]``,
    ``a2 = x[..., 3:6]`` are the first two columns of an unnormalised matrix; the output's
    columns are ``b1 = a1/|a1|``, ``b2 = normalised(a2 - (b1.a2) b1)``, ``b3 = b1 x b2``.
    A zero vector gives a finite (degenerate) matrix, not NaN.

    Args:
        x: ``(..., 6)`` tensor or array.

    Returns:
        ``(..., 3, 3)`` tensor with the dtype of ``x`` (float32 for integer input).

    Example:
        >>> tuple(rotation_6d_to_matrix([[2.0, 0, 0, 1, 3, 0]]).shape)
        (1, 3, 3)
    """
    x, w = _float(x)
    a1, a2 = w[..., 0:3], w[..., 3:6]
    b1 = a1 * ops.rsqrt(ops.maximum(ops.sum(a1 * a1, axis=-1, keepdims=True), _NORM_EPS))
    u2 = a2 - ops.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = u2 * ops.rsqrt(ops.maximum(ops.sum(u2 * u2, axis=-1, keepdims=True), _NORM_EPS))
    b3 = ops.stack(  # the cross product with slices: tf.linalg.cross has no TFLite builtin
        [
            b1[..., 1] * b2[..., 2] - b1[..., 2] * b2[..., 1],
            b1[..., 2] * b2[..., 0] - b1[..., 0] * b2[..., 2],
            b1[..., 0] * b2[..., 1] - b1[..., 1] * b2[..., 0],
        ],
        axis=-1,
    )
    return ops.cast(ops.stack([b1, b2, b3], axis=-1), x.dtype)


def geodesic_distance(R1, R2, eps: float = GEODESIC_EPS):
    """Geodesic distance ``acos((tr(R1 R2^T) - 1) / 2)`` in radians (paper Eq. 4).

    The acos argument is clamped to ``[-1 + eps, 1 - eps]``. For a loss keep the default:
    at ``R1 == R2`` the clamp is active and the gradient is exactly 0 instead of
    ``-inf * 0 = NaN``, at the price of a floor of ``acos(1 - eps)`` (about 0.0014 rad for
    ``eps = 1e-6``) on the value. An evaluation passes ``eps=0``.

    Args:
        R1, R2: ``(..., 3, 3)`` rotations (broadcast against each other).
        eps: clamp margin.

    Returns:
        ``(...)`` distances, float32 (float64 when both inputs are float64).

    Example:
        >>> import numpy as np
        >>> float(geodesic_distance(np.eye(3, dtype="float32"), np.eye(3, dtype="float32"))) < 2e-3
        True
    """
    _, w1 = _float(R1)
    _, w2 = _float(R2)
    if w1.dtype != w2.dtype:
        w1, w2 = ops.cast(w1, "float32"), ops.cast(w2, "float32")
    cos = (ops.sum(w1 * w2, axis=(-2, -1)) - 1.0) / 2.0  # tr(A B^T) = sum(A * B)
    return ops.arccos(ops.clip(cos, -1.0 + eps, 1.0 - eps))


def matrix_to_euler(R):
    """Rotation -> ``(yaw, pitch, roll)`` degrees (:func:`lponet_tf.geometry.matrix_to_euler`).

    ``R = Rx(-pitch) Ry(yaw) Rz(roll)`` gives ``R[0,2] = sin(yaw)``,
    ``(R[0,0], R[0,1]) = cos(yaw) (cos roll, -sin roll)`` and
    ``(R[1,2], R[2,2]) = cos(yaw) (sin pitch, cos pitch)``; at gimbal lock
    (``|yaw| = 90``) roll is 0 and pitch carries the rest.

    Args:
        R: ``(..., 3, 3)`` rotations.

    Returns:
        ``(..., 3)`` degrees, dtype of ``R`` (float32 for integer input).

    Example:
        >>> import numpy as np
        >>> (np.asarray(matrix_to_euler(np.eye(3)[None])) + 0.0).tolist()  # + 0.0: no -0.0
        [[0.0, 0.0, 0.0]]
    """
    x, w = _float(R)
    cos_yaw = ops.sqrt(ops.square(w[..., 0, 0]) + ops.square(w[..., 0, 1]))
    yaw = ops.arctan2(w[..., 0, 2], cos_yaw)
    locked = cos_yaw < _GIMBAL_EPS
    pitch = ops.where(
        locked,
        -ops.sign(w[..., 0, 2]) * ops.arctan2(w[..., 1, 0], w[..., 1, 1]),
        ops.arctan2(w[..., 1, 2], w[..., 2, 2]),
    )
    roll = ops.where(locked, ops.zeros_like(yaw), ops.arctan2(-w[..., 0, 1], w[..., 0, 0]))
    return ops.cast(ops.stack([yaw, pitch, roll], axis=-1) * (180.0 / math.pi), x.dtype)


__all__ = ["rotation_6d_to_matrix", "geodesic_distance", "matrix_to_euler"]
