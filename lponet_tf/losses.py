"""LPONet task losses (paper Section III-E, Eq. 3-8) as serialisable Keras losses.

Every loss returns one value PER SAMPLE (shape ``(N,)``) from ``call``; Keras then applies
the per-output sample weights and the reduction. With the partial-label scheme of
``docs/CONVENTIONS.md`` (a missing task has a zero target and a zero weight) a sample
without a label therefore contributes nothing to the loss nor to its gradient: all
per-sample values stay finite for zero targets, so ``0 * loss`` is a clean 0.

The ``1/N`` of the equations (``normalize``): in a mixed batch only some samples carry each
label (stage 2: 26 / 19 / 19 of 64). ``"batch"`` (Keras' ``sum_over_batch_size``) divides
the labelled samples' sum by the whole batch, so the effective weight of a task is its
configured weight times its share of the batch; ``"labelled"`` divides by the number
(sum of sample weights) of samples that carry the label, so each task's loss is the mean
the equation describes and alpha, beta, gamma weigh the tasks as configured whatever the
mixing ratios. Under ``tf.distribute`` the count is summed over replicas, so a replica's
value is its share of the global mean (what Keras' own reductions give), and a batch with
no labelled sample contributes 0. ``docs/training.md`` says which one the paper's
configs use and why.

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
from lponet_tf.geometry_ops import geodesic_distance

_PACKAGE = "lponet_tf"


#: ``normalize`` values: divide the weighted sum by the batch size or by the labelled count.
NORMALIZATIONS = ("batch", "labelled")


def _mean_over_sample(x):
    """Mean over every axis but the batch axis: (N, ...) -> (N,)."""
    return ops.mean(x, axis=tuple(range(1, len(x.shape))))


def _sum_over_replicas(x):
    """``x`` summed over the replicas of a ``tf.distribute`` step (``x`` outside one)."""
    if keras.backend.backend() != "tensorflow":
        return x
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return x
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)


class _PartialLabelLoss(keras.losses.Loss):
    """A per-sample loss whose batch reduction is ``normalize`` (module docstring).

    Args:
        normalize: ``"batch"`` (Keras' ``reduction``, default ``sum_over_batch_size``) or
            ``"labelled"`` (the weighted sum over the sum of the sample weights; replaces
            ``reduction``, which must then be left at its default or ``"sum"``).
    """

    def __init__(self, name, reduction, dtype, normalize):
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        if normalize == "labelled":
            if reduction not in ("sum_over_batch_size", "sum"):
                raise ValueError(f"normalize='labelled' is a reduction itself; got reduction={reduction!r}")
            reduction = "sum"  # the weighted sum; __call__ divides it
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.normalize = normalize

    def __call__(self, y_true, y_pred, sample_weight=None):
        total = super().__call__(y_true, y_pred, sample_weight)
        if self.normalize == "batch":
            return total
        if sample_weight is None:
            count = ops.cast(ops.shape(y_pred)[0], total.dtype)
        else:
            count = ops.sum(ops.cast(sample_weight, total.dtype))
        return ops.divide_no_nan(total, _sum_over_replicas(count))

    def get_config(self):
        config = super().get_config()
        config.update(normalize=self.normalize)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class HeatmapLoss(_PartialLabelLoss):
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
        normalize: ``"batch"`` or ``"labelled"`` (the module docstring).

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
        normalize: str = "batch",
    ):
        super().__init__(name, reduction, dtype, normalize)
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
class PoseLoss(_PartialLabelLoss):
    """Head-pose loss: geodesic distance (Eq. 4) or mean absolute error (Eq. 3).

    ``kind="geodesic"``: ``y_true``, ``y_pred`` are ``(N, 3, 3)`` rotations; per sample
    ``acos(clip((tr(R Rhat^T) - 1) / 2, -1 + eps, 1 - eps))`` radians. The clamp keeps
    the gradient finite (0) at identical rotations (see
    :func:`lponet_tf.geometry_ops.geodesic_distance`).

    ``kind="mae"``: mean of ``|P - Phat|`` over the representation's parameters (Euler
    ``(N, 3)`` degrees or the 9 matrix entries ``(N, 3, 3)``). Eq. 3 leaves the vector
    norm open; the mean (not the sum) is used, a constant factor absorbed by ``beta``.

    Args:
        kind: ``"geodesic"`` or ``"mae"``.
        eps: acos clamp margin for the geodesic loss.
        name, reduction, dtype: as ``keras.losses.Loss``.
        normalize: ``"batch"`` or ``"labelled"`` (the module docstring).

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
        normalize: str = "batch",
    ):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        super().__init__(name, reduction, dtype, normalize)
        self.kind = kind
        self.eps = float(eps)

    def call(self, y_true, y_pred):
        if self.kind == "mae":
            return _mean_over_sample(ops.abs(y_true - y_pred))
        return geodesic_distance(y_true, y_pred, eps=self.eps)

    def get_config(self):
        config = super().get_config()
        config.update(kind=self.kind, eps=self.eps)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class OcclusionLoss(_PartialLabelLoss):
    """Pixel-wise cross entropy of the visible-face mask (Eq. 8).

    Per sample: ``-mean_pixels sum_c O_c log(clip(Ohat_c, eps, 1))``; ``y_true``
    ``(N, h, w, 2)`` one-hot or soft ``[not-face, visible-face]``, ``y_pred`` softmax
    probabilities of the same shape. The batch mean is Eq. 8.

    Args:
        eps: lower clip of the predicted probabilities before the log.
        name, reduction, dtype: as ``keras.losses.Loss``.
        normalize: ``"batch"`` or ``"labelled"`` (the module docstring).

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
        normalize: str = "batch",
    ):
        super().__init__(name, reduction, dtype, normalize)
        self.eps = float(eps)

    def call(self, y_true, y_pred):
        log_p = ops.log(ops.clip(y_pred, self.eps, 1.0))
        per_pixel = -ops.sum(y_true * log_p, axis=-1)
        return _mean_over_sample(per_pixel)

    def get_config(self):
        config = super().get_config()
        config.update(eps=self.eps)
        return config


__all__ = ["HeatmapLoss", "PoseLoss", "OcclusionLoss", "NORMALIZATIONS"]
