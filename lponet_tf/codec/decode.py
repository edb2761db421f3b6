"""The network's three outputs of one crop -> a face in image pixels (written once).

Used by :class:`~lponet_tf.FaceAnalyzer` (``inference/analyzer.py``), ``lponet evaluate``
(``evaluation/protocol.py``) and the export parity checks; the Java core mirrors it
(``android_demo/core``: ``HeatmapDecoder``, ``FaceAnalyzer.assemble``). Per face:

* landmarks: the heatmaps decoded in crop pixels (:func:`lponet_tf.heatmaps.decode_heatmaps`,
  rule ``settings.decode``: DARK sub-pixel by default, the paper's top-2 rule on request),
  mapped to the image through the crop's exact inverse; scores are the peaks divided by
  the heatmap scale omega the model was trained with (Eq. 5: a confident peak is omega);
* pose: the rotation (6D head, ``(3, 3)``, projected onto the nearest rotation since an
  int8 file's output is only near one) or Euler angles (Euler head, ``(3,)`` yaw,
  pitch, roll degrees), returned as both. A crop is a translation plus a uniform scale, so
  the head pose in the crop is the head pose in the image;
* visible-face mask: the ``[not-face, visible]`` grid over the crop, with the affine from
  grid cells to image pixels (:func:`grid_to_image_matrix`), resampled bilinearly onto any
  pixel grid (:func:`resample_grid`); per-landmark visibility is the visible probability
  sampled at the landmark on the grid.

Decoding settings (:class:`DecodeSettings`) are model facts, read from the model's export
metadata (:class:`~lponet_tf.metadata.ModelMetadata` ``decode``), never constants here.

Example:
    >>> import numpy as np
    >>> from lponet_tf.codec.crop import CropTransform
    >>> from lponet_tf.heatmaps import encode_heatmaps
    >>> t = CropTransform.from_box([-0.5, -0.5, 63.5, 63.5], 64, enlarge=0.0)  # identity
    >>> xy, scores = decode_landmarks(60 * encode_heatmaps([[21.5, 29.5]], 64), t)  # cell centres
    >>> xy.round(2).tolist(), scores.round(2).tolist()
    ([[21.5, 29.5]], [1.0])
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Optional, Tuple

import cv2
import numpy as np

from lponet_tf.codec.crop import CropTransform, compose, invert, rescale_matrix
from lponet_tf.geometry import euler_to_matrix, matrix_to_euler, nearest_rotation
from lponet_tf.heatmaps import (
    DEFAULT_DECODER, SIGMA, STRIDE, check_decoder, crop_to_grid, decode_heatmaps,
    grid_to_crop_matrix,
)

#: Heatmap scale omega (Eq. 5) of files whose metadata does not record it (all LPONet
#: exports so far were trained with the paper's omega = 60).
DEFAULT_HEATMAP_SCALE = 60.0
#: Poses a model may output (``ModelMetadata.pose``).
POSE_REPRESENTATIONS = ("6d", "euler")


@dataclasses.dataclass(frozen=True)
class DecodeSettings:
    """How one model's heatmaps are read.

    Attributes:
        decode: ``"dark"`` (sub-pixel, default) or ``"top2"`` (the paper's rule), see
            :mod:`lponet_tf.heatmaps`.
        heatmap_scale: omega, the scale of the training targets (``loss.omega``): a
            confident peak; landmark scores are peaks divided by it.
        sigma: the training targets' Gaussian sigma in heatmap cells (DARK smooths with it).
        stride: input pixels per heatmap cell (S / heatmap side).

    Example:
        >>> DecodeSettings(decode="top2").heatmap_scale
        60.0
    """

    decode: str = DEFAULT_DECODER
    heatmap_scale: float = DEFAULT_HEATMAP_SCALE
    sigma: float = SIGMA
    stride: int = STRIDE

    def __post_init__(self):
        check_decoder(self.decode)
        if not (float(self.heatmap_scale) > 0 and float(self.sigma) > 0 and int(self.stride) > 0):
            raise ValueError(f"heatmap_scale, sigma and stride must be > 0, got {self}")

    @classmethod
    def from_metadata(cls, metadata: Any, decode: Optional[str] = None) -> "DecodeSettings":
        """Settings of a model from its metadata (:class:`ModelMetadata` or a mapping).

        Reads ``metadata.decode`` (``heatmap_scale``, ``sigma``, ``stride``, ``decoder``)
        and ``input_size`` / ``heatmap_size``. Files written before these fields existed
        get today's values: omega 60, sigma 1, stride 4, and the library's default rule
        (their ``decoder`` entry, ``"argmax_top2"``, only described the one rule there was).

        Args:
            metadata: the runner's metadata; None gives the defaults.
            decode: the rule to use instead of the recorded one (e.g. ``"top2"``).
        """
        def get(name):
            if metadata is None:
                return None
            if isinstance(metadata, Mapping):
                return metadata.get(name)
            return getattr(metadata, name, None)

        rule = get("decode") or {}
        rule = rule if isinstance(rule, Mapping) else {}
        size, grid = get("input_size"), get("heatmap_size")
        stride = rule.get("stride") or (int(size) // int(grid) if size and grid else STRIDE)
        recorded = rule.get("decoder")
        chosen = decode or (recorded if recorded in ("dark", "top2") else DEFAULT_DECODER)
        return cls(decode=chosen,
                   heatmap_scale=float(rule.get("heatmap_scale") or DEFAULT_HEATMAP_SCALE),
                   sigma=float(rule.get("sigma") or SIGMA), stride=int(stride))


def decode_landmarks(heatmaps, transform: CropTransform,
                     settings: DecodeSettings = DecodeSettings()
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """One face's heatmaps -> landmarks in image pixels and scores.

    Args:
        heatmaps: ``(S/4, S/4, K)`` network output (``omega * L``).
        transform: the face's crop (image -> crop).
        settings: decoding rule and the model's heatmap scale.

    Returns:
        ``(landmarks (K, 2) float32 image pixels, scores (K,) float32 = peak / omega, >= 0)``.
    """
    xy, scores = _crop_landmarks(heatmaps, settings)
    return transform.to_image(xy), scores


def _crop_landmarks(heatmaps, settings: DecodeSettings) -> Tuple[np.ndarray, np.ndarray]:
    """Heatmaps -> ``(landmarks in crop pixels, scores = peak / omega clipped at 0)``."""
    xy, peaks = decode_heatmaps(np.asarray(heatmaps, np.float32), stride=settings.stride,
                                decode=settings.decode, sigma=settings.sigma)
    return xy, np.clip(peaks / float(settings.heatmap_scale), 0.0, None).astype(np.float32)


def pose_rotation(pose, representation: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """One face's pose output -> ``(rotation (3, 3), (yaw, pitch, roll) degrees)``, float64.

    Args:
        pose: ``(3, 3)`` rotation (``"6d"`` head) or ``(3,)`` yaw, pitch, roll degrees
            (``"euler"`` head).
        representation: ``"6d"`` or ``"euler"``; None: from the shape.

    A non-finite output (a diverged model) gives NaN for both.

    Raises:
        ValueError: an unknown representation or a shape that does not match it.

    Example:
        >>> R, ypr = pose_rotation(np.zeros(3), "euler")
        >>> R.tolist() == np.eye(3).tolist(), ypr.tolist()
        (True, [0.0, 0.0, 0.0])
    """
    pose = np.asarray(pose, np.float64)
    if representation is None:
        representation = "6d" if pose.shape == (3, 3) else "euler"
    if representation not in POSE_REPRESENTATIONS:
        raise ValueError(f"pose representation must be '6d' or 'euler', got {representation!r}")
    if representation == "6d":
        if pose.size != 9:
            raise ValueError(f"a 6d pose output is a (3, 3) rotation, got shape {pose.shape}")
        if not np.all(np.isfinite(pose)):  # a diverged model: no pose, and no SVD crash
            return np.full((3, 3), np.nan), np.full(3, np.nan)
        rotation = nearest_rotation(pose.reshape(3, 3))  # an int8 output is only near one
        return rotation, np.asarray(matrix_to_euler(rotation), np.float64)
    if pose.size != 3:
        raise ValueError(f"an euler pose output is (3,) degrees, got shape {pose.shape}")
    ypr = pose.reshape(3)
    return np.asarray(euler_to_matrix(ypr), np.float64), ypr


def grid_to_image_matrix(transform: CropTransform, stride: int = STRIDE) -> np.ndarray:
    """2x3 affine from heatmap/mask grid cells ``(u, v)`` to image pixels ``(x, y)``."""
    return compose(invert(transform.matrix), grid_to_crop_matrix(stride))


def landmark_visibility(visible, crop_xy, stride: int = STRIDE) -> np.ndarray:
    """Visible-face probability sampled (bilinear) at each landmark on the mask grid.

    Args:
        visible: ``(S/4, S/4)`` visible-face probability.
        crop_xy: ``(K, 2)`` landmarks in crop pixels.
        stride: input pixels per grid cell.

    Returns:
        ``(K,)`` float32 in [0, 1]; points off the grid read its border cells.
    """
    return np.clip(sample_grid(visible, crop_to_grid(crop_xy, stride)), 0.0, 1.0)


def sample_grid(grid: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples of a 2-D ``grid`` at ``(K, 2)`` ``(u, v)`` cell coordinates.

    Coordinates outside the grid are clamped to its border cells; NaN reads cell 0.

    Example:
        >>> sample_grid(np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[0.5, 0.5]])).tolist()
        [1.5]
    """
    g = np.asarray(grid, np.float64)
    h, w = g.shape
    u = np.clip(np.nan_to_num(uv[:, 0], nan=0.0), 0, w - 1)
    v = np.clip(np.nan_to_num(uv[:, 1], nan=0.0), 0, h - 1)
    # Left/top tap at most one cell before the border, so the right/bottom tap exists.
    c0 = np.clip(np.floor(u).astype(int), 0, max(w - 2, 0))
    r0 = np.clip(np.floor(v).astype(int), 0, max(h - 2, 0))
    c1, r1 = np.minimum(c0 + 1, w - 1), np.minimum(r0 + 1, h - 1)
    fu, fv = u - c0, v - r0
    top = g[r0, c0] * (1 - fu) + g[r0, c1] * fu
    bottom = g[r1, c0] * (1 - fu) + g[r1, c1] * fu
    return (top * (1 - fv) + bottom * fv).astype(np.float32)


def resample_grid(grid, grid_to_target: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """A grid of values resampled (bilinear, border cells replicated) onto a pixel grid.

    Args:
        grid: ``(G, G)`` values (a probability or a class-score difference).
        grid_to_target: 2x3 affine from grid cells to the target's pixels.
        shape: ``(height, width)`` of the target.

    Returns:
        float32 ``shape`` array.
    """
    h, w = int(shape[0]), int(shape[1])
    return cv2.warpAffine(np.asarray(grid, np.float32), np.asarray(grid_to_target, np.float64),
                          (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def mask_in_image(mask, crop_box, stride: int, image_shape: Tuple[int, ...],
                  region=None) -> np.ndarray:
    """A face's visible-face probability grid resampled onto image pixels.

    Args:
        mask: ``(S/4, S/4)`` probability over ``crop_box``.
        crop_box: ``(4,)`` the square the network saw (image pixels).
        stride: input pixels per grid cell.
        image_shape: ``(H, W, ...)`` of the image.
        region: integer window ``(x0, y0, x1, y1)`` to compute (default: the whole image);
            pixels outside ``crop_box`` are 0.

    Returns:
        float32 ``(y1 - y0, x1 - x0)`` array in [0, 1].
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    x0, y0, x1, y1 = (0, 0, w, h) if region is None else (int(v) for v in region)
    out = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.float32)
    cx0, cy0 = max(x0, math.ceil(crop_box[0])), max(y0, math.ceil(crop_box[1]))
    cx1 = min(x1, math.floor(crop_box[2]) + 1)
    cy1 = min(y1, math.floor(crop_box[3]) + 1)
    if cx1 <= cx0 or cy1 <= cy0:
        return out
    crop = CropTransform.from_box(crop_box, np.asarray(mask).shape[0] * stride, enlarge=0.0)
    # Grid -> image pixel, shifted so the window's corner is pixel (0, 0).
    to_window = compose(np.array([[1.0, 0.0, -cx0], [0.0, 1.0, -cy0]]),
                        grid_to_image_matrix(crop, stride))
    part = resample_grid(mask, to_window, (cy1 - cy0, cx1 - cx0))
    out[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = np.clip(part, 0.0, 1.0)
    return out


def visible_mask_in_image(occlusion: np.ndarray, transform: CropTransform,
                          image_shape: Tuple[int, int],
                          mask_shape: Optional[Tuple[int, int]] = None
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """Predicted visible-face mask on a ground-truth mask's grid, and the crop region.

    The two class scores are resampled bilinearly from the S/4 grid (edge cells
    replicated) and compared, i.e. the argmax of the interpolated ``[not-face, visible]``
    scores; interpolating before the argmax avoids 4-pixel staircase edges.

    Args:
        occlusion: ``(S/4, S/4, 2)`` scores ``[not-face, visible]``.
        transform: the face's crop (image -> crop).
        image_shape: ``(height, width)`` of the image.
        mask_shape: ``(height, width)`` of the GT mask (default: the image's); a mask stored
            at another resolution is matched pixel extent to pixel extent.

    Returns:
        ``(visible, region)``: boolean ``mask_shape`` arrays, the predicted visible face and
        the pixels whose centre lies inside the crop square.

    Example:
        >>> t = CropTransform.from_box([-0.5, -0.5, 31.5, 31.5], 32, enlarge=0.0)
        >>> occ = np.zeros((8, 8, 2), np.float32); occ[..., 1] = 1.0
        >>> vis, region = visible_mask_in_image(occ, t, (40, 40))
        >>> int(vis[region].sum()), int(region.sum())
        (1024, 1024)
    """
    image_shape = tuple(image_shape[:2])
    mask_shape = image_shape if mask_shape is None else tuple(mask_shape[:2])
    image_to_mask = rescale_matrix(image_shape, mask_shape)
    stride = transform.size // int(occlusion.shape[0])
    grid_to_mask = compose(image_to_mask, grid_to_image_matrix(transform, stride))
    score = (np.asarray(occlusion[..., 1], np.float32) - np.asarray(occlusion[..., 0], np.float32))
    visible = resample_grid(score, grid_to_mask, mask_shape) > 0.0
    # Region: mask pixel centres whose crop coordinate lies in the crop's pixel extent.
    # Crops are axis-aligned (scale + shift), so the test separates into rows and columns.
    h, w = mask_shape
    mask_to_crop = compose(transform.matrix, invert(image_to_mask))
    xs = mask_to_crop[0, 0] * np.arange(w) + mask_to_crop[0, 2]
    ys = mask_to_crop[1, 1] * np.arange(h) + mask_to_crop[1, 2]
    lo, hi = -0.5, transform.size - 0.5
    region = ((ys >= lo) & (ys < hi))[:, None] & ((xs >= lo) & (xs < hi))[None, :]
    return visible, region


@dataclasses.dataclass
class DecodedFace:
    """One crop's outputs decoded into image pixels (the fields of ``Face`` that come
    from the network; see :class:`lponet_tf.inference.analyzer.Face`)."""

    landmarks: np.ndarray         # (K, 2) float32 image pixels
    landmark_scores: np.ndarray   # (K,) float32 peak / omega
    visibility: np.ndarray        # (K,) float32 visible probability at each landmark
    pose: np.ndarray              # (3,) float32 yaw, pitch, roll degrees
    rotation: np.ndarray          # (3, 3) float32
    mask: np.ndarray              # (S/4, S/4) float32 visible-face probability


def decode_face(outputs: Mapping[str, np.ndarray], index: int, transform: CropTransform,
                settings: DecodeSettings = DecodeSettings(),
                representation: Optional[str] = None) -> DecodedFace:
    """Face ``index`` of a batch of network outputs -> landmarks, pose and mask.

    Args:
        outputs: ``{"heatmaps", "pose", "occlusion"}`` batched numpy arrays.
        index: the face's position in the batch.
        transform: its crop (image -> crop).
        settings: the model's :class:`DecodeSettings`.
        representation: the pose output's ``"6d"`` / ``"euler"`` (None: from its shape).
    """
    crop_xy, scores = _crop_landmarks(outputs["heatmaps"][index], settings)
    visible = np.array(outputs["occlusion"][index][:, :, 1], np.float32)  # own copy
    rotation, ypr = pose_rotation(outputs["pose"][index], representation)
    return DecodedFace(
        landmarks=transform.to_image(crop_xy),
        landmark_scores=scores,
        visibility=landmark_visibility(visible, crop_xy, settings.stride),
        pose=np.asarray(ypr, np.float32),
        rotation=np.asarray(rotation, np.float32),
        mask=visible,
    )


__all__ = [
    "DEFAULT_HEATMAP_SCALE",
    "DecodeSettings",
    "DecodedFace",
    "decode_face",
    "decode_landmarks",
    "pose_rotation",
    "grid_to_crop_matrix",
    "grid_to_image_matrix",
    "landmark_visibility",
    "sample_grid",
    "resample_grid",
    "mask_in_image",
    "visible_mask_in_image",
]
