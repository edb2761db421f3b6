"""LPONet task losses (paper Section III-E, Eq. 3-8) as serialisable Keras losses.

Every loss returns one value PER SAMPLE (shape ``(N,)``) from ``call``; Keras then applies
the per-output sample weights and the reduction. With the partial-label scheme of
``docs/CONVENTIONS.md`` (a missing task has a zero target and a zero weight) a sample
without a label therefore contributes nothing to the loss nor to its gradient: all
per-sample values stay finite for zero targets, so ``0 * loss`` is a clean 0.

The multitask total (Eq. 9) is Keras' weighted sum of outputs: pass
``loss_weights={"heatmaps": alpha, "pose": beta, "occlusion": gamma}`` to ``compile``
(stage 1: 1, 1, 10; stage 2: 0.1, 0.1, 40).

Inputs arrive in the loss dtype (float32 unless ``keras.backend.floatx()`` says
otherwise; ``Loss.__call__`` casts), so float16 predictions from a mixed-precision model
are handled in float32: the log clip and the acos clamp keep their meaning.
"""
from __future__ import annotations

import keras
from keras import ops

from lponet_tf.geometry import GEODESIC_EPS

_PACKAGE = "lponet_tf"


def _mean_over_sample(x):
    """Mean over every axis but the batch axis: (N, ...) -> (N,)."""
    return ops.mean(x, axis=tuple(range(1, len(x.shape))))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class HeatmapLoss(keras.losses.Loss):
    """Landmark heatmap loss with heatmap scaling (Eq. 5) and the weighted loss map (Eq. 6-7).

    Per sample ``i``: ``mean_j (omega L_ij - Lhat_ij)^2 * (W M_ij + 1)`` over the
    ``H W C`` heatmap entries, where ``M = [dilate3x3(L) >= threshold]`` (3 x 3 grey
    dilation = 3 x 3 max-pool, stride 1, SAME) when ``weighted`` and the factor is 1
    otherwise. The batch mean of these is Eq. 5 (resp. Eq. 5 with the WSE of Eq. 7).

    Args:
        omega: heatmap scaling; the target is ``omega * L`` (paper: 60).
        weighted: use the weighted loss map (paper: stage 2 only).
        W: weight of the mask pixels (paper: 10).
        threshold: mask threshold on the dilated target (paper: 0.2).
        name, reduction, dtype: as ``keras.losses.Loss``.

    ``y_true`` is ``L`` in ``[0, 1]`` (``(N, H, W, K)``), ``y_pred`` the network output
    (scale ``omega``).

    Example:
        >>> import numpy as np
        >>> L = np.zeros((2, 8, 8, 3), "float32"); L[:, 4, 4, :] = 1.0
        >>> float(HeatmapLoss(omega=60.0)(L, 60.0 * L))
        0.0
    """

    def __init__(
        self,
        omega: float = 60.0,
        weighted: bool = False,
        W: float = 10.0,
        threshold: float = 0.2,
        name: str = "heatmap_loss",
        reduction: str = "sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.omega = float(omega)
        self.weighted = bool(weighted)
        self.W = float(W)
        self.threshold = float(threshold)

    def call(self, y_true, y_pred):
        err = ops.square(self.omega * y_true - y_pred)
        if self.weighted:
            dilated = ops.max_pool(y_true, pool_size=3, strides=1, padding="same")
            mask = ops.cast(ops.greater_equal(dilated, self.threshold), err.dtype)
            err = err * (self.W * mask + 1.0)
        return _mean_over_sample(err)

    def get_config(self):
        config = super().get_config()
        config.update(omega=self.omega, weighted=self.weighted, W=self.W, threshold=self.threshold)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PoseLoss(keras.losses.Loss):
    """Head-pose loss: geodesic distance (Eq. 4) or mean absolute error (Eq. 3).

    ``kind="geodesic"``: ``y_true``, ``y_pred`` are ``(N, 3, 3)`` rotations; per sample
    ``acos(clip((tr(R Rhat^T) - 1) / 2, -1 + eps, 1 - eps))`` radians. The clamp keeps
    the gradient finite (0) at identical rotations (see
    :func:`lponet_tf.geometry.geodesic_distance_tf`).

    ``kind="mae"``: mean of ``|P - Phat|`` over the representation's parameters (Euler
    ``(N, 3)`` degrees or the 9 matrix entries ``(N, 3, 3)``). Eq. 3 leaves the vector
    norm open; the mean (not the sum) is used, a constant factor absorbed by ``beta``.

    Args:
        kind: ``"geodesic"`` or ``"mae"``.
        eps: acos clamp margin for the geodesic loss.
        name, reduction, dtype: as ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> round(float(PoseLoss("mae")(np.zeros((1, 3)), np.array([[3.0, -6.0, 0.0]]))), 4)
        3.0
    """

    KINDS = ("geodesic", "mae")

    def __init__(
        self,
        kind: str = "geodesic",
        eps: float = GEODESIC_EPS,
        name: str = "pose_loss",
        reduction: str = "sum_over_batch_size",
        dtype=None,
    ):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.kind = kind
        self.eps = float(eps)

    def call(self, y_true, y_pred):
        if self.kind == "mae":
            return _mean_over_sample(ops.abs(y_true - y_pred))
        cos = (ops.sum(y_true * y_pred, axis=(-2, -1)) - 1.0) / 2.0  # tr(A B^T) = sum(A * B)
        return ops.arccos(ops.clip(cos, -1.0 + self.eps, 1.0 - self.eps))

    def get_config(self):
        config = super().get_config()
        config.update(kind=self.kind, eps=self.eps)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class OcclusionLoss(keras.losses.Loss):
    """Pixel-wise cross entropy of the visible-face mask (Eq. 8).

    Per sample: ``-mean_pixels sum_c O_c log(clip(Ohat_c, eps, 1))``; ``y_true``
    ``(N, h, w, 2)`` one-hot or soft ``[not-face, visible-face]``, ``y_pred`` softmax
    probabilities of the same shape. The batch mean is Eq. 8.

    Args:
        eps: lower clip of the predicted probabilities before the log.
        name, reduction, dtype: as ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> y = np.zeros((1, 2, 2, 2), "float32"); y[..., 1] = 1.0
        >>> p = np.full((1, 2, 2, 2), 0.5, "float32")
        >>> round(float(OcclusionLoss()(y, p)), 4)  # log 2
        0.6931
    """

    def __init__(
        self,
        eps: float = 1e-7,
        name: str = "occlusion_loss",
        reduction: str = "sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.eps = float(eps)

    def call(self, y_true, y_pred):
        log_p = ops.log(ops.clip(y_pred, self.eps, 1.0))
        per_pixel = -ops.sum(y_true * log_p, axis=-1)
        return _mean_over_sample(per_pixel)

    def get_config(self):
        config = super().get_config()
        config.update(eps=self.eps)
        return config


__all__ = ["HeatmapLoss", "PoseLoss", "OcclusionLoss"]
