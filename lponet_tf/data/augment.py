"""Geometric and photometric augmentation (paper Section IV-B).

Random rotation (+-30 deg), translation (+-25 px at 256 px, scaled with the input size),
scale (+-10%), horizontal flip and Gaussian blur; optionally (not in the paper, off by
default) synthetic out-of-plane turns and photometric changes (gamma, contrast, brightness,
gray). The geometric part is one 2x3 affine in crop coordinates; :mod:`lponet_tf.data.sample`
composes it with the crop so the image,
landmarks and mask are each resampled once. The pose label changes through rotation
matrices only (``geometry.rotate_in_plane`` / ``geometry.mirror_rotation``), never by
adding to an angle.

Order of the geometric operations (crop space, centre ``c = ((S-1)/2, (S-1)/2)``)::

    p' = Flip( Rot_scale(angle, scale; about c)(p) + t )

so the pose becomes ``mirror_rotation(rotate_in_plane(R, angle))`` when flipped.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import cv2
import numpy as np

from lponet_tf.heatmaps import OFF_GRID_TARGETS

#: iBUG 68-point horizontal mirror permutation: ``mirrored[i] = original[FLIP_68[i]]``.
#: Jaw 0..16 reversed, brows 17..21 <-> 26..22, nose bridge 27..30 fixed, nostrils
#: 31..35 reversed, eyes 36..41 <-> 45..42 / 47..46, outer mouth 48..54 reversed and
#: 55..59 reversed, inner mouth 60..64 reversed and 65..67 reversed.
FLIP_68 = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 16, -1))  # brows
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46]  # right eye <- left eye
    + [39, 38, 37, 36, 41, 40]  # left eye <- right eye
    + [54, 53, 52, 51, 50, 49, 48]  # outer upper lip
    + [59, 58, 57, 56, 55]  # outer lower lip
    + [64, 63, 62, 61, 60]  # inner upper lip
    + [67, 66, 65],  # inner lower lip
    dtype=np.int64,
)


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Ranges and probabilities of the training augmentation (defaults: the paper's).

    Each geometric parameter is drawn uniformly in its range when its probability fires,
    and is the identity otherwise.

    Args:
        rotation_deg: max in-plane rotation, degrees (paper: 30).
        translation_px: max shift per axis in crop pixels at ``reference_size``
            (paper: 25 px at 256 px); scaled by ``S / reference_size``.
        reference_size: input size that ``translation_px`` refers to.
        scale: max relative zoom, so the factor is in ``[1 - scale, 1 + scale]``.
        flip_prob: probability of a horizontal flip.
        flip_label_x_offset: x offset of the landmark labels, image pixels, that a flip must
            keep: labels at ``x_true + d`` mirror to ``x_true' - d``, so a flipped sample's
            labels are moved by ``+2d`` along the image's x axis (0: the labels are
            mirror-symmetric). The 300W annotations sit +1.6 px to the right, measured on
            the training faces (docs/training.md, "Flips and the 300W labels"); without it, flips teach the
            network the opposite offset on half the samples.
        rotation_prob, translation_prob, scale_prob: probability of each transform.
        blur_prob: probability of a Gaussian blur of the crop.
        blur_sigma: ``(min, max)`` blur sigma in pixels at ``reference_size``.
        out_of_plane_prob: probability of a synthetic out-of-plane head turn
            (:mod:`lponet_tf.data.out_of_plane`; not in the paper, off by default). Applies
            to faces with 68 landmarks and a pose label; draws its numbers from the same
            generator only when > 0, so configs without it keep their random streams.
        out_of_plane_yaw_deg, out_of_plane_pitch_deg: max turn, uniform in ``[-max, max]``.
        out_of_plane_outward: share of the turns whose yaw is taken away from the camera
            (the sign of the face's own yaw, so a face already turned turns further): with
            ``[-max, max]`` alone few samples go past 300W's +-45 deg. Decided from the same
            draw as ``out_of_plane_prob`` (no extra number: other streams stay as they were).
        out_of_plane_max_hidden: largest share of the face's mesh area a turn may hide
            (``max_hidden`` of :func:`lponet_tf.data.out_of_plane.rotate_face`); larger
            turns of already-turned faces need more than the default.
        photometric_prob: probability of a photometric change of the crop (not in the
            paper, off by default): gamma, contrast and brightness, in that order, and
            sometimes gray (docs/training.md, "Dark and low-contrast photos"). Draws its
            numbers from the generator only when > 0, so configs without it keep their
            random streams.
        photometric_gamma: the gamma is log-uniform in ``[1/g, g]`` (> 1 darkens the midtones).
        photometric_contrast: contrast factor uniform in ``[1 - c, 1 + c]``, about the crop's
            mean.
        photometric_brightness: brightness factor uniform in ``[1 - b, 1 + b]``.
        photometric_gray: share of the photometric changes that also make the crop gray
            (luma in all three channels).
        off_grid_targets: the heatmap target of a landmark the augmentation moved off the
            heatmap grid (``off_grid`` of :func:`lponet_tf.heatmaps.encode_heatmaps`): ``"zero"``
            (an all-zero map, as the bundled weights were trained) or ``"tail"`` (the part of
            its Gaussian on the grid). With the defaults at 160 px, 47% of samples have such a
            point, 2.1% of the points, 85% of them within the 3-cell window (docs/training.md).

    Example:
        >>> cfg = AugmentConfig(flip_prob=0.0)
        >>> p = sample_params(cfg, 256, np.random.default_rng(0))
        >>> abs(p.angle) <= 30 and not p.flip
        True
    """

    rotation_deg: float = 30.0
    translation_px: float = 25.0
    reference_size: int = 256
    scale: float = 0.10
    flip_prob: float = 0.5
    flip_label_x_offset: float = 0.0
    rotation_prob: float = 1.0
    translation_prob: float = 1.0
    scale_prob: float = 1.0
    blur_prob: float = 0.2
    blur_sigma: Tuple[float, float] = (0.5, 2.0)
    out_of_plane_prob: float = 0.0
    out_of_plane_yaw_deg: float = 15.0
    out_of_plane_pitch_deg: float = 20.0
    out_of_plane_outward: float = 0.0
    out_of_plane_max_hidden: float = 0.1
    photometric_prob: float = 0.0
    photometric_gamma: float = 2.0
    photometric_contrast: float = 0.5
    photometric_brightness: float = 0.5
    photometric_gray: float = 0.2
    off_grid_targets: str = "zero"

    def __post_init__(self):
        if self.off_grid_targets not in OFF_GRID_TARGETS:
            raise ValueError(f"off_grid_targets must be one of {OFF_GRID_TARGETS}, "
                             f"got {self.off_grid_targets!r}")
        for name in ("flip_prob", "rotation_prob", "translation_prob", "scale_prob", "blur_prob",
                     "out_of_plane_prob", "out_of_plane_outward", "photometric_prob",
                     "photometric_gray"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if not 0.0 <= self.scale < 1.0:
            raise ValueError(f"scale must be in [0, 1), got {self.scale}")
        if self.rotation_deg < 0 or self.translation_px < 0:
            raise ValueError("rotation_deg and translation_px must be >= 0")
        for name in ("out_of_plane_yaw_deg", "out_of_plane_pitch_deg"):
            if not 0.0 <= getattr(self, name) <= 45.0:
                raise ValueError(f"{name} must be in [0, 45] (a mesh warp, not a renderer), "
                                 f"got {getattr(self, name)}")
        if not 0.0 < self.out_of_plane_max_hidden <= 0.5:
            raise ValueError(f"out_of_plane_max_hidden must be in (0, 0.5], got {self.out_of_plane_max_hidden}")
        if not abs(self.flip_label_x_offset) <= 10.0:
            raise ValueError(f"flip_label_x_offset must be within [-10, 10] image pixels, "
                             f"got {self.flip_label_x_offset}")
        lo, hi = self.blur_sigma
        if not 0 < lo <= hi:
            raise ValueError(f"blur_sigma must be 0 < min <= max, got {self.blur_sigma}")
        if not 1.0 <= self.photometric_gamma <= 4.0:
            raise ValueError(f"photometric_gamma must be in [1, 4], got {self.photometric_gamma}")
        for name in ("photometric_contrast", "photometric_brightness"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")

    @classmethod
    def none(cls) -> "AugmentConfig":
        """A config that changes nothing (useful to test the plumbing)."""
        return cls(
            rotation_deg=0.0, translation_px=0.0, scale=0.0, flip_prob=0.0, blur_prob=0.0
        )


@dataclasses.dataclass(frozen=True)
class AugmentParams:
    """One draw of the augmentation.

    Attributes:
        angle: in-plane rotation in degrees, ``cv2.getRotationMatrix2D`` sign (positive =
            counter-clockwise on screen).
        scale: zoom factor (> 1 enlarges the face).
        shift: ``(tx, ty)`` translation in crop pixels.
        flip: horizontal mirror after the rotation.
        blur_sigma: Gaussian blur sigma in crop pixels, 0 for none.
        out_of_plane: ``(yaw, pitch)`` degrees of a synthetic head turn, ``(0, 0)`` for none
            (after the sample is made: the turn applied, which a folding mesh may halve or drop).
        out_of_plane_outward: the turn's yaw is to be taken away from the camera (its sign
            set by the face's own yaw once the face is cropped; ``out_of_plane`` then holds
            the turn as applied).
        photometric: ``(gamma, contrast, brightness, gray)`` of :func:`photometric`;
            ``(1, 1, 1, False)`` changes nothing.
    """

    angle: float = 0.0
    scale: float = 1.0
    shift: Tuple[float, float] = (0.0, 0.0)
    flip: bool = False
    blur_sigma: float = 0.0
    out_of_plane: Tuple[float, float] = (0.0, 0.0)
    out_of_plane_outward: bool = False
    photometric: Tuple[float, float, float, bool] = (1.0, 1.0, 1.0, False)


def sample_params(config: AugmentConfig, size: int, rng: np.random.Generator) -> AugmentParams:
    """Draw augmentation parameters for an ``size x size`` crop.

    Deterministic given ``rng``: the same generator state gives the same draw. Every
    random number is drawn whether or not its transform fires, so toggling one
    probability does not change the other transforms' draws.

    Args:
        config: ranges and probabilities.
        size: crop side S (translation and blur scale with ``S / reference_size``).
        rng: numpy Generator.

    Returns:
        :class:`AugmentParams`.
    """
    u = rng.random(11)
    k = size / config.reference_size
    angle = (2 * u[0] - 1) * config.rotation_deg if u[1] < config.rotation_prob else 0.0
    scale = 1.0 + (2 * u[2] - 1) * config.scale if u[3] < config.scale_prob else 1.0
    if u[4] < config.translation_prob:
        shift = ((2 * u[5] - 1) * config.translation_px * k, (2 * u[6] - 1) * config.translation_px * k)
    else:
        shift = (0.0, 0.0)
    flip = bool(u[7] < config.flip_prob)
    lo, hi = config.blur_sigma
    blur = (lo + (hi - lo) * u[9]) * k if u[8] < config.blur_prob else 0.0
    turn, outward = (0.0, 0.0), False
    if config.out_of_plane_prob > 0:
        v = rng.random(3)
        if v[0] < config.out_of_plane_prob:
            turn = (float((2 * v[1] - 1) * config.out_of_plane_yaw_deg),
                    float((2 * v[2] - 1) * config.out_of_plane_pitch_deg))
            # Given that the turn fires, v[0] / prob is uniform on [0, 1): reuse it.
            outward = bool(v[0] < config.out_of_plane_prob * config.out_of_plane_outward)
    photo = (1.0, 1.0, 1.0, False)
    if config.photometric_prob > 0:
        w = rng.random(4)
        if w[0] < config.photometric_prob:
            photo = (float(config.photometric_gamma ** (2 * w[1] - 1)),
                     float(1.0 + (2 * w[2] - 1) * config.photometric_contrast),
                     float(1.0 + (2 * w[3] - 1) * config.photometric_brightness),
                     # Given that the change fires, w[0] / prob is uniform on [0, 1): reuse it.
                     bool(w[0] < config.photometric_prob * config.photometric_gray))
    return AugmentParams(float(angle), float(scale), (float(shift[0]), float(shift[1])), flip, float(blur),
                         turn, outward, photo)


def flip_matrix(size: int) -> np.ndarray:
    """2x3 horizontal mirror of an ``size``-wide crop: ``x -> (S - 1) - x``."""
    return np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0]])


def params_matrix(params: AugmentParams, size: int) -> np.ndarray:
    """The 2x3 crop-space affine of ``params`` (rotation/scale about the centre, shift, flip).

    Args:
        params: one augmentation draw.
        size: crop side S.

    Returns:
        ``(2, 3)`` float64 matrix, crop -> augmented crop.
    """
    c = (size - 1) / 2.0
    m = cv2.getRotationMatrix2D((c, c), params.angle, params.scale).astype(np.float64)
    m[:, 2] += params.shift
    if params.flip:
        m = flip_matrix(size) @ np.vstack([m, [0.0, 0.0, 1.0]])
    return m


def flipped_label_shift(matrix: np.ndarray, offset: float) -> np.ndarray:
    """Crop-space shift that keeps a label x offset through a flip.

    Args:
        matrix: ``(2, 3)`` image -> crop affine of the sample, flip included.
        offset: the labels' x offset in image pixels (``AugmentConfig.flip_label_x_offset``).

    Returns:
        ``(2,)`` float32 vector to add to every flipped crop landmark: the labels' offset
        ``+d`` mirrors to ``-d``; adding ``2d`` along the mirrored image's x axis (``-M[:, 0]``
        in crop space, as ``M`` already holds the mirror) restores ``+d``.
    """
    return np.asarray(-2.0 * offset * np.asarray(matrix, np.float64)[:, 0], np.float32)


def flip_landmarks_order(landmarks: np.ndarray) -> np.ndarray:
    """Re-index mirrored 68 points so that index i is again the iBUG point i.

    The affine has already moved the coordinates; a left eye corner is now on the right
    and must become the right eye corner.

    Raises:
        ValueError: when the landmarks are not 68 points (no mirror table).
    """
    pts = np.asarray(landmarks)
    if pts.shape[0] != FLIP_68.size:
        raise ValueError(f"horizontal flip needs 68 landmarks, got {pts.shape[0]}")
    return pts[FLIP_68]


def augment_pose(pose: Optional[np.ndarray], params: AugmentParams) -> Optional[np.ndarray]:
    """Pose label after the augmentation: in-plane rotation composed, then the mirror.

    Scale and translation leave the rotation unchanged (weak perspective).

    Args:
        pose: ``(3, 3)`` rotation matrix or None.
        params: the augmentation that moved the image.

    Returns:
        ``(3, 3)`` float32 rotation or None.
    """
    if pose is None:
        return None
    from lponet_tf import geometry  # the project's one rotation convention

    r = np.asarray(pose, np.float64)
    if params.angle:
        r = geometry.rotate_in_plane(r, params.angle)
    if params.flip:
        r = geometry.mirror_rotation(r)
    return np.asarray(r, np.float32)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with ``sigma`` pixels (no-op for ``sigma <= 0``)."""
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)


def photometric(image: np.ndarray, params: Tuple[float, float, float, bool]) -> np.ndarray:
    """An RGB crop (uint8, or float with values 0..255) with ``(gamma, contrast, brightness,
    gray)`` applied: a copy of its dtype, or the input itself when they change nothing.

    Gray first (BT.601 luma in all three channels), then ``x ** gamma`` on values in 0..1,
    then the contrast about the crop's mean, then the brightness factor, clipped to 0..255:
    a dark photo is a gamma above 1 and a brightness below 1 (what a phone gives in dim light).

    Example:
        >>> crop = np.full((4, 4, 3), 128, np.uint8)
        >>> int(photometric(crop, (1.0, 1.0, 0.5, False))[0, 0, 0])
        64
    """
    gamma, contrast, brightness, gray = params
    if (gamma, contrast, brightness, gray) == (1.0, 1.0, 1.0, False):
        return image
    x = image.astype(np.float32) / 255.0
    if gray:
        x = np.repeat(x @ np.float32([0.299, 0.587, 0.114])[:, None], 3, axis=-1)
    x = x ** np.float32(gamma)
    mean = x.mean()
    x = ((x - mean) * np.float32(contrast) + mean) * np.float32(brightness)
    out = np.clip(x * 255.0, 0.0, 255.0)
    return np.rint(out).astype(np.uint8) if image.dtype == np.uint8 else out.astype(image.dtype)
