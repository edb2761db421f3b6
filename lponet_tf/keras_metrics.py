"""Streaming Keras metrics that ``fit`` / ``evaluate`` log (paper Eq. 10-12), in ``keras.ops``.

:class:`HeatmapNME`, :class:`PoseGeodesic`, :class:`PoseMAE`, :class:`MaskIoU`
(``keras.metrics.Metric``, registered serialisable under ``lponet_tf``) run on every Keras
backend. They accept ``sample_weight`` (pass them as ``weighted_metrics`` so the per-output
sample weights of the partial-label scheme reach them) and, because a missing task has a
zero target (``docs/CONVENTIONS.md``), they also skip samples whose target is all zeros
where that cannot be a real label (heatmaps, rotation matrices, masks). A metric that has
seen no labelled sample reads NaN, not 0: a validation set without pose or mask labels must
not log a perfect pose MAE or a zero mIoU.

Benchmark figures (against the annotation, in float64) come from the numpy functions of
:mod:`lponet_tf.metrics`; these are the training-time views of the same quantities.

Example:
    >>> import numpy as np
    >>> m = PoseGeodesic(); m.update_state(np.eye(3)[None], np.eye(3)[None])
    >>> float(m.result())
    0.0
"""
from __future__ import annotations

import math
from typing import Sequence

import keras
from keras import ops

from lponet_tf.geometry_ops import geodesic_distance, matrix_to_euler
from lponet_tf.heatmaps import DEFAULT_DECODER, SIGMA, check_decoder, decode_heatmaps_ops
from lponet_tf.metrics import OUTER_EYE_CORNERS

_PACKAGE = "lponet_tf"


def _norm(x):
    return ops.sqrt(ops.sum(ops.square(x), axis=-1))


class _WeightedMean(keras.metrics.Metric):
    """Sample-weighted mean of a per-sample value, skipping invalid samples."""

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total", dtype="float32")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count", dtype="float32")

    def _per_sample(self, y_true, y_pred):
        """Return ``(values (N,), valid (N,) bool)`` in float32."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        values, valid = self._per_sample(y_true, y_pred)
        w = ops.cast(valid, "float32")
        if sample_weight is not None:
            w = w * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        # where(), not w * value: an invalid sample's value may be inf / NaN (d = 0).
        values = ops.where(w > 0, values, ops.zeros_like(values))
        self.total.assign_add(ops.sum(w * values))
        self.count.assign_add(ops.sum(w))

    def result(self):
        # NaN when nothing was labelled (Keras' own means read 0 there, a figure nobody measured).
        return ops.where(self.count > 0, ops.divide_no_nan(self.total, self.count),
                         ops.convert_to_tensor(float("nan"), "float32"))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class HeatmapNME(_WeightedMean):
    """Inter-ocular NME in % (Eq. 10) from heatmaps, decoded in-graph.

    Both the prediction and the GROUND TRUTH are decoded in-graph from heatmaps with the
    rule the model is read with everywhere else (:func:`lponet_tf.heatmaps.decode_heatmaps_ops`,
    ``decode``: DARK sub-pixel by default, as ``FaceAnalyzer`` and ``lponet evaluate``; the
    paper's ``"top2"`` on request), so the logged figure moves with the evaluated one. The
    GT landmarks are those of the target heatmap ``L``, not the original annotation, so the
    codec's own error (at most 0.016 px with DARK; up to 0.38 cell with top-2) is not part
    of this training-time figure. Use :func:`lponet_tf.metrics.nme` on decoded predictions
    vs the annotation for benchmark numbers. A landmark whose target map is all zeros (no
    label, or moved off the crop by the augmentation: ``docs/CONVENTIONS.md``) is left out
    of its sample's mean; a sample without both normalising landmarks (no landmark label at
    all, say) is skipped.

    Args:
        eye_indices: landmark indices of the normalising pair (default outer eye corners).
        decode: heatmap decoding rule, ``"dark"`` (default) or ``"top2"``
            (:data:`lponet_tf.heatmaps.DECODERS`).
        sigma: the training targets' Gaussian sigma in cells (DARK's smoothing).
        name, dtype: as ``keras.metrics.Metric``.

    Example:
        >>> import numpy as np
        >>> from lponet_tf.heatmaps import encode_heatmaps
        >>> pts = np.random.default_rng(0).uniform(20, 230, (2, 68, 2))
        >>> m = HeatmapNME(); m.update_state(encode_heatmaps(pts, 256), 60 * encode_heatmaps(pts, 256))
        >>> round(float(m.result()), 3)
        0.0
    """

    def __init__(self, eye_indices: Sequence[int] = OUTER_EYE_CORNERS,
                 decode: str = DEFAULT_DECODER, sigma: float = SIGMA, name: str = "nme",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.eye_indices = tuple(int(i) for i in eye_indices)
        self.decode = check_decoder(decode)
        self.sigma = float(sigma)

    def _landmarks(self, heatmaps):
        return decode_heatmaps_ops(heatmaps, decode=self.decode, sigma=self.sigma)[0]

    def _per_sample(self, y_true, y_pred):
        k = y_true.shape[-1]
        if k is not None and max(self.eye_indices) >= k:  # a raw StridedSlice error otherwise
            raise ValueError(f"HeatmapNME: eye_indices {self.eye_indices} are not landmarks of "
                             f"these {k}-channel heatmaps; pass the normalising pair of your "
                             f"landmark scheme, HeatmapNME(eye_indices=(i, j))")
        gt = self._landmarks(y_true)
        pred = self._landmarks(y_pred)
        # A landmark with an all-zero target (missing, or moved off the crop by the
        # augmentation) has no position to decode: the mean is over the others, and a sample
        # whose eye pair has none is skipped.
        labelled = ops.cast(ops.max(y_true, axis=(1, 2)) > 0, "float32")  # (N, K)
        a, b = self.eye_indices
        d = _norm(gt[:, a] - gt[:, b])
        err = ops.divide_no_nan(ops.sum(_norm(pred - gt) * labelled, axis=-1),
                                ops.sum(labelled, axis=-1))
        valid = ops.logical_and(d > 0, labelled[:, a] * labelled[:, b] > 0)
        return 100.0 * ops.divide_no_nan(err, d), valid

    def get_config(self):
        config = super().get_config()
        config.update(eye_indices=list(self.eye_indices), decode=self.decode, sigma=self.sigma)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PoseGeodesic(_WeightedMean):
    """Mean geodesic distance between ``(N, 3, 3)`` rotations (Table 2), radians by default.

    :func:`lponet_tf.geometry_ops.geodesic_distance` without the loss's clamp floor
    (``eps=0``: no gradient flows here). Samples with an all-zero target matrix (no pose
    label) are skipped.

    Args:
        degrees: report degrees instead of radians.
        name, dtype: as ``keras.metrics.Metric``.

    Example:
        >>> import numpy as np
        >>> m = PoseGeodesic(degrees=True); m.update_state(np.eye(3)[None], np.eye(3)[None])
        >>> float(m.result())
        0.0
    """

    def __init__(self, degrees: bool = False, name: str = "geodesic", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.degrees = bool(degrees)

    def _per_sample(self, y_true, y_pred):
        angle = geodesic_distance(y_true, y_pred, eps=0.0)
        if self.degrees:
            angle = angle * (180.0 / math.pi)
        return angle, ops.max(ops.abs(y_true), axis=(-2, -1)) > 0

    def get_config(self):
        config = super().get_config()
        config.update(degrees=self.degrees)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PoseMAE(_WeightedMean):
    """Mean absolute Euler-angle error in degrees (Eq. 11), mean of yaw, pitch, roll.

    Works on either pose head: ``(N, 3)`` Euler degrees are compared directly,
    ``(N, 3, 3)`` rotations are converted with
    :func:`lponet_tf.geometry_ops.matrix_to_euler` first; differences are wrapped into
    ``[-180, 180)`` as :func:`lponet_tf.metrics.pose_mae` does. An all-zero target MATRIX (no label) is skipped; a zero Euler target is a
    real frontal pose, so Euler outputs need ``sample_weight`` for partial labels.

    Args:
        angle: ``None`` for the mean of the three angles, or ``"yaw"``, ``"pitch"``,
            ``"roll"`` for one of them.
        name, dtype: as ``keras.metrics.Metric``.

    Example:
        >>> m = PoseMAE(); m.update_state([[10.0, 0.0, 0.0]], [[4.0, 3.0, 0.0]])
        >>> float(m.result())
        3.0
    """

    ANGLES = ("yaw", "pitch", "roll")

    def __init__(self, angle=None, name: str = "pose_mae", dtype=None):
        if angle is not None and angle not in self.ANGLES:
            raise ValueError(f"angle must be None or one of {self.ANGLES}, got {angle!r}")
        super().__init__(name=name, dtype=dtype)
        self.angle = angle

    def _per_sample(self, y_true, y_pred):
        if len(y_true.shape) == 3:
            valid = ops.max(ops.abs(y_true), axis=(-2, -1)) > 0
            y_true, y_pred = matrix_to_euler(y_true), matrix_to_euler(y_pred)
        else:
            valid = ops.ones_like(y_true[:, 0]) > 0
        err = ops.abs(180.0 - ops.mod(180.0 - (y_true - y_pred), 360.0))
        if self.angle is None:
            return ops.mean(err, axis=-1), valid
        return err[:, self.ANGLES.index(self.angle)], valid

    def get_config(self):
        config = super().get_config()
        config.update(angle=self.angle)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskIoU(_WeightedMean):
    """mIoU in % of the visible-face mask (Eq. 12), per image then averaged.

    ``y_true`` / ``y_pred`` are ``(N, h, w, 2)`` (one-hot or soft target, softmax
    prediction); both are turned into class masks by argmax. Same IoU rules as
    :func:`lponet_tf.metrics.miou` (a class absent from both masks counts as 1). Samples
    whose target is all zeros (no mask label) are skipped.

    Args:
        name, dtype: as ``keras.metrics.Metric``.

    Example:
        >>> import numpy as np
        >>> y = np.eye(2)[np.array([[[1, 0], [0, 0]]])]; p = np.eye(2)[np.array([[[1, 1], [0, 0]]])]
        >>> m = MaskIoU(); m.update_state(y, p); round(float(m.result()), 3)
        58.333
    """

    def __init__(self, name: str = "miou", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _per_sample(self, y_true, y_pred):
        gt = ops.argmax(y_true, axis=-1) > 0
        pred = ops.argmax(y_pred, axis=-1) > 0
        ious = []
        for p, g in ((ops.logical_not(pred), ops.logical_not(gt)), (pred, gt)):
            inter = ops.sum(ops.cast(ops.logical_and(p, g), "float32"), axis=(1, 2))
            union = ops.sum(ops.cast(ops.logical_or(p, g), "float32"), axis=(1, 2))
            ious.append(ops.where(union > 0, ops.divide_no_nan(inter, union), ops.ones_like(union)))
        valid = ops.max(y_true, axis=(1, 2, 3)) > 0
        return 100.0 * (ious[0] + ious[1]) / 2.0, valid


__all__ = ["HeatmapNME", "PoseGeodesic", "PoseMAE", "MaskIoU"]
