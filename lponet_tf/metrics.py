"""Evaluation metrics of the paper (Section IV-C, Eq. 10-13) in numpy: benchmarks, reports.

- :func:`nme` (Eq. 10), :func:`pose_mae` (Eq. 11), :func:`geodesic` (Table 2),
  :func:`miou` (Eq. 12), :func:`tme` (Eq. 13), :func:`ced_curve` / :func:`auc` /
  :func:`failure_rate` (cumulative error distribution of per-image NMEs).
- Percentages: NME and mIoU are returned in %, as in the paper's tables; pose MAE in
  degrees; geodesic distances in radians.

The streaming Keras metrics that ``fit`` logs (NME from heatmaps, pose errors, mask IoU)
are :mod:`lponet_tf.keras_metrics`; this module imports neither Keras nor TensorFlow.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence, Union

import numpy as np

from lponet_tf.geometry import geodesic_distance, wrap_degrees

#: 0-based iBUG-68 indices of the outer eye corners (inter-ocular distance).
OUTER_EYE_CORNERS = (36, 45)
#: iBUG-68 eye contours (the subject's right eye first): pupils are their centroids.
RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))


class Errors(NamedTuple):
    """Per-image errors and their mean."""

    per_image: np.ndarray
    mean: float


class PoseErrors(NamedTuple):
    """Pose MAE: per angle (yaw, pitch, roll), their mean, and per image (mean of 3)."""

    per_angle: np.ndarray
    mean: float
    per_image: np.ndarray


class IoUResult(NamedTuple):
    """mIoU in %: per image (mean of the 2 classes), per class (mean over images), mean."""

    per_image: np.ndarray
    per_class: np.ndarray
    mean: float


class CED(NamedTuple):
    """Cumulative error distribution: fraction of images with error <= each threshold,
    the normalised area under it up to ``max_error``, and the failure rate above it."""

    thresholds: np.ndarray
    fractions: np.ndarray
    auc: float
    failure_rate: float


# --------------------------------------------------------------------------------------
# numpy
# --------------------------------------------------------------------------------------
def normalising_distance(gt, norm: str = "inter_ocular") -> np.ndarray:
    """The ``d`` of Eq. 10 per image.

    Args:
        gt: ``(N, K, 2)`` ground-truth landmarks (``K = 68`` for the eye-based norms).
        norm: ``"inter_ocular"`` (outer eye corners 36 and 45), ``"inter_pupil"``
            (centroids of points 36..41 and 42..47) or ``"box"`` (``sqrt(w * h)`` of the
            ground-truth landmark bounding box).

    Returns:
        ``(N,)`` float64 distances.

    Example:
        >>> g = np.zeros((1, 68, 2)); g[0, 45] = [30.0, 40.0]
        >>> normalising_distance(g).tolist()
        [50.0]
    """
    gt = np.asarray(gt, dtype=np.float64)
    if norm in ("inter_ocular", "inter_pupil") and gt.shape[-2] != 68:
        raise ValueError(f"{norm} needs the 68-point iBUG layout, got {gt.shape[-2]} points")
    if norm == "inter_ocular":
        a, b = gt[:, OUTER_EYE_CORNERS[0]], gt[:, OUTER_EYE_CORNERS[1]]
    elif norm == "inter_pupil":
        a, b = gt[:, list(RIGHT_EYE)].mean(1), gt[:, list(LEFT_EYE)].mean(1)
    elif norm == "box":
        size = gt.max(1) - gt.min(1)
        return np.sqrt(size[:, 0] * size[:, 1])
    else:
        raise ValueError(f"norm must be inter_ocular, inter_pupil or box, got {norm!r}")
    return np.linalg.norm(a - b, axis=-1)


def nme(pred, gt, norm: Union[str, Sequence[float], np.ndarray] = "inter_ocular") -> Errors:
    """Normalised mean error in % (Eq. 10).

    Per image: ``100 * mean_j ||pred_j - gt_j|| / d`` (the mean over the L landmarks, the
    usual reading of Eq. 10's inner sum); :attr:`Errors.mean` averages over images.

    Args:
        pred, gt: ``(N, K, 2)`` (or ``(K, 2)``) landmark coordinates, same units.
        norm: ``"inter_ocular"`` (paper, 300W), ``"inter_pupil"``, ``"box"``, or an
            ``(N,)`` array of per-image distances.

    Returns:
        :class:`Errors` with ``per_image`` ``(N,)`` in % and ``mean``.

    Raises:
        ValueError: a ground-truth point is not finite (a missing label), or an image's
            normalising distance is 0.

    Example:
        >>> g = np.zeros((1, 68, 2)); g[0, 45] = [100.0, 0.0]
        >>> round(nme(g + [3.0, 4.0], g).mean, 6)  # every point 5 px off, d = 100
        5.0
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim == 2:
        pred, gt = pred[None], gt[None]
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ")
    missing = np.flatnonzero(~np.isfinite(gt).all(axis=(-2, -1)))
    if len(missing):
        raise ValueError(f"ground truth of image(s) {missing[:10].tolist()} has non-finite "
                         "points: Eq. 10 averages over every landmark, so a face with a missing "
                         "point has no NME (leave it out)")
    d = normalising_distance(gt, norm) if isinstance(norm, str) else np.asarray(norm, np.float64).reshape(-1)
    if np.any(~(d > 0)):
        raise ValueError(f"the normalising distance is zero or undefined for image(s) "
                         f"{np.flatnonzero(~(d > 0))[:10].tolist()} (norm {norm!r})")
    per_image = 100.0 * np.linalg.norm(pred - gt, axis=-1).mean(-1) / d
    return Errors(per_image, float(per_image.mean()))


def pose_mae(pred_ypr, gt_ypr) -> PoseErrors:
    """Head-pose mean absolute error in degrees (Eq. 11).

    ``|pred - gt|`` per angle, the difference wrapped into ``(-180, 180]`` (the AFLW2000 /
    BIWI protocol's plain difference whenever that is below 180 degrees: a roll of 179
    against -179 is 2 degrees off, not 358); Eq. 11's norm is read as the mean over the
    three angles, which is the "MAE" column of the paper's tables. Both sides must be the
    same Euler triple of the two a rotation has (:func:`lponet_tf.geometry.
    matrix_to_euler_near` puts a predicted rotation on the label's).

    Args:
        pred_ypr, gt_ypr: ``(N, 3)`` (yaw, pitch, roll) degrees, e.g. from
            :func:`lponet_tf.geometry.matrix_to_euler`.

    Returns:
        :class:`PoseErrors`: ``per_angle`` ``(3,)``, ``mean``, ``per_image`` ``(N,)``.

    Example:
        >>> r = pose_mae([[10.0, 0.0, 0.0], [0.0, 3.0, -3.0]], np.zeros((2, 3)))
        >>> r.per_angle.tolist(), r.mean
        ([5.0, 1.5, 1.5], 2.6666666666666665)
    """
    diff = np.asarray(pred_ypr, np.float64) - np.asarray(gt_ypr, np.float64)
    err = np.abs(wrap_degrees(diff)).reshape(-1, 3)
    per_angle = err.mean(0)
    return PoseErrors(per_angle, float(per_angle.mean()), err.mean(1))


def geodesic(pred_R, gt_R) -> Errors:
    """Geodesic distance ``acos((tr(R Rhat^T) - 1) / 2)`` in radians (Eq. 4, Table 2).

    Args:
        pred_R, gt_R: ``(N, 3, 3)`` rotation matrices.

    Returns:
        :class:`Errors` in radians (no clamp floor: this is an evaluation).

    Example:
        >>> round(geodesic(np.eye(3)[None], np.eye(3)[None]).mean, 6)
        0.0
    """
    per_image = np.atleast_1d(geodesic_distance(pred_R, gt_R))
    return Errors(per_image, float(per_image.mean()))


def miou(pred_mask, gt_mask) -> IoUResult:
    """Mean intersection over union of the two mask classes in % (Eq. 12).

    For each image and each class c (0 not-face, 1 visible face) the IoU
    ``|pred == c & gt == c| / |pred == c | gt == c|``; a class absent from both masks
    counts as 1 (full agreement). Eq. 12 averages over the 2 classes and N images.

    Args:
        pred_mask, gt_mask: ``(N, H, W)`` or ``(H, W)`` class masks (bool or 0/1 ints;
            soft outputs: pass ``probs.argmax(-1)``).

    Returns:
        :class:`IoUResult` in %.

    Example:
        >>> p = np.array([[1, 1], [0, 0]]); g = np.array([[1, 0], [0, 0]])
        >>> round(miou(p, g).mean, 4)  # face 1/2, not-face 2/3
        58.3333
    """
    pred = np.asarray(pred_mask).astype(bool)
    gt = np.asarray(gt_mask).astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ")
    if gt.ndim == 2:
        pred, gt = pred[None], gt[None]
    axes = tuple(range(1, gt.ndim))
    ious = []
    for p, g in ((~pred, ~gt), (pred, gt)):
        inter = np.sum(p & g, axis=axes)
        union = np.sum(p | g, axis=axes)
        ious.append(np.where(union > 0, inter / np.maximum(union, 1), 1.0))
    ious = 100.0 * np.stack(ious, axis=-1)  # (N, 2)
    return IoUResult(ious.mean(-1), ious.mean(0), float(ious.mean()))


def tme(nme_value: float, mae_value: float, miou_value: float) -> float:
    """Total mean error (Eq. 13): ``(NME + MAE + (100 - mIoU)) / 3``.

    Args:
        nme_value: NME in %.
        mae_value: pose MAE in degrees.
        miou_value: mIoU in %.

    Returns:
        The TME (mixed units, as in the paper's Table 1).

    Example:
        >>> round(tme(4.72, 3.56, 93.17), 4)
        5.0367
    """
    return (float(nme_value) + float(mae_value) + (100.0 - float(miou_value))) / 3.0


def _errors(errors) -> np.ndarray:
    """Per-image errors as float64, a non-finite one (a NaN prediction) as infinite: a face
    that could not be measured is a failure, never a success."""
    e = np.asarray(errors, np.float64).reshape(-1)
    return np.where(np.isnan(e), np.inf, e)


def auc(errors, max_error: float) -> float:
    """Area under the CED curve on ``[0, max_error]``, divided by ``max_error``.

    Computed exactly: the empirical CED is a step function, whose integral up to ``T``
    is ``mean(max(T - e, 0))`` (the limit of the usual fine trapezoid sum).

    Args:
        errors: per-image errors (e.g. NME in %; NaN counts as a failure).
        max_error: the cut-off ``T`` (e.g. 8 or 10 for NME in %).

    Returns:
        AUC in ``[0, 1]``.

    Example:
        >>> auc([0.0, 10.0], 10.0)  # half the images perfect, half failed
        0.5
    """
    e = _errors(errors)
    return float(np.mean(np.clip(max_error - e, 0.0, max_error)) / max_error)


def failure_rate(errors, threshold: float) -> float:
    """Fraction of images whose error exceeds ``threshold`` (e.g. NME > 8 % or 10 %).

    Args:
        errors: per-image errors (NaN counts as a failure).
        threshold: failure threshold, same units.

    Returns:
        Fraction in ``[0, 1]``.

    Example:
        >>> failure_rate([1.0, 9.0, 12.0, 8.0], 8.0)
        0.5
    """
    e = _errors(errors)
    return float(np.mean(e > threshold))


def ced_curve(errors, max_error: float, num: int = 1001) -> CED:
    """Cumulative error distribution with its AUC and failure rate at ``max_error``.

    Args:
        errors: per-image errors (e.g. :attr:`Errors.per_image` of :func:`nme`).
        max_error: right end of the curve, the AUC cut-off and the failure threshold.
        num: number of thresholds in ``[0, max_error]`` (for plotting).

    Returns:
        :class:`CED` (``thresholds``, ``fractions`` of images with error <= threshold,
        ``auc`` (exact, see :func:`auc`), ``failure_rate``).

    Example:
        >>> c = ced_curve([1.0, 2.0, 3.0, 20.0], 10.0, num=11)
        >>> c.fractions[[0, 1, 2, 3, 10]].tolist(), c.failure_rate
        ([0.0, 0.25, 0.5, 0.75, 0.75], 0.25)
    """
    e = np.sort(_errors(errors))
    thresholds = np.linspace(0.0, max_error, num)
    fractions = np.searchsorted(e, thresholds, side="right") / len(e)
    return CED(thresholds, fractions, auc(e, max_error), failure_rate(e, max_error))


__all__ = [
    "OUTER_EYE_CORNERS",
    "Errors",
    "PoseErrors",
    "IoUResult",
    "CED",
    "normalising_distance",
    "nme",
    "pose_mae",
    "geodesic",
    "miou",
    "tme",
    "auc",
    "failure_rate",
    "ced_curve",
]
