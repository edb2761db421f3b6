"""Synthetic occlusion in the training pipeline (paper Section IV-B).

The paper occluded training faces with masks and sunglasses (MaskTheFace) and hands. Here
the occluders are drawn directly into the network crop from its landmarks (see
:mod:`lponet_tf.data.occluders`), and every occluder also updates the occlusion label:
``visible = visible_face * (1 - coverage)``. Faces without landmark labels (C-CM) are
occluded from placement landmarks (:mod:`lponet_tf.data.face_geometry`), which place the
occluders but are no label. Which kinds are drawn, and how often, is per config
(``OcclusionConfig`` weights: the paper's stage configs draw no random patches, LPONet-RP
draws nothing else).

Visible-face region of samples without a mask label (approximation)
--------------------------------------------------------------------
300W, WFLW and 300W-LP have landmarks but no segmentation. For them the visible-face
region is approximated by :func:`visible_face_from_landmarks`: the convex hull of the 68
points plus a forehead band (the brows lifted by ``forehead`` x the chin-to-nose-bridge
distance). It ignores hair, beards and occluders already in the photo and over-covers the
neck side of profile faces, so by default it only guides where occluders go and what the
debug grid shows; the occlusion loss stays off for these samples
(``OcclusionConfig.approx_mask_weight = 0``, as docs/CONVENTIONS.md asks: no mask label, no mask
loss). Set a positive weight to train the mask head on it anyway.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from lponet_tf.data.occluders import (
    FaceFrame,
    box_frame,
    composite,
    draw_face_mask,
    draw_hand,
    draw_patch,
    draw_sunglasses,
)

OCCLUDER_KINDS = ("mask", "sunglasses", "hand", "patch")
#: Occluders drawn from the landmarks; the others can use a face box alone.
NEEDS_LANDMARKS = frozenset({"mask", "sunglasses"})


@dataclasses.dataclass(frozen=True)
class OcclusionConfig:
    """Which synthetic occluders to draw, and how often.

    Args:
        prob: probability that a sample is occluded at all.
        max_occluders: up to this many different occluders per occluded sample (uniform
            in ``1..max_occluders``).
        mask_weight, sunglasses_weight, hand_weight, patch_weight: relative frequency of
            each occluder kind (0 disables it).
        patch_size: random patch size ``(min, max)`` as a fraction of the face size.
        forehead: height of the forehead band above the brows, as a fraction of the
            chin-to-nose-bridge distance (approximate visible-face region, see module doc).
        approx_mask_weight: occlusion-loss weight of samples whose visible-face mask was
            approximated from landmarks (default 0: the mask loss is off for them).
        mask_variety: probability that a face mask is drawn in the ``"varied"`` style (any
            fit, colour and texture; :func:`~lponet_tf.data.occluders.draw_face_mask`)
            instead of the fixed surgical / cloth styles. 0 (the default) draws nothing
            for it, so the random streams of earlier configs are unchanged.
        texture_images: optional image files used as "other image content" patches; by
            default a turned copy of the sample's own crop is used.

    Example:
        >>> cfg = OcclusionConfig(prob=1.0, hand_weight=0.0)
        >>> cfg.kind_probabilities(has_landmarks=False)
        {'patch': 1.0}
    """

    prob: float = 0.5
    max_occluders: int = 1
    mask_weight: float = 1.0
    sunglasses_weight: float = 0.7
    hand_weight: float = 1.0
    patch_weight: float = 1.0
    patch_size: Tuple[float, float] = (0.25, 0.6)
    forehead: float = 0.25
    approx_mask_weight: float = 0.0
    mask_variety: float = 0.0
    texture_images: Tuple[str, ...] = ()

    def __post_init__(self):
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {self.prob}")
        if not 0.0 <= self.mask_variety <= 1.0:
            raise ValueError(f"mask_variety must be in [0, 1], got {self.mask_variety}")
        if self.max_occluders < 1:
            raise ValueError(f"max_occluders must be >= 1, got {self.max_occluders}")
        if min(self._weights().values()) < 0:
            raise ValueError("occluder weights must be >= 0")
        if not 0 < self.patch_size[0] <= self.patch_size[1]:
            raise ValueError(f"patch_size must be 0 < min <= max, got {self.patch_size}")
        object.__setattr__(self, "texture_images", tuple(str(p) for p in self.texture_images))

    def _weights(self) -> dict:
        return {
            "mask": self.mask_weight,
            "sunglasses": self.sunglasses_weight,
            "hand": self.hand_weight,
            "patch": self.patch_weight,
        }

    def kind_probabilities(self, has_landmarks: bool) -> dict:
        """Normalised frequency of each usable occluder kind for a sample."""
        w = {k: v for k, v in self._weights().items() if v > 0 and (has_landmarks or k not in NEEDS_LANDMARKS)}
        total = sum(w.values())
        return {k: v / total for k, v in w.items()} if total > 0 else {}


def visible_face_from_landmarks(
    landmarks: np.ndarray, shape: Tuple[int, int], forehead: float = 0.25
) -> np.ndarray:
    """Approximate visible-face mask from 68 landmarks (see the module docstring).

    Args:
        landmarks: (68, 2) pixel coordinates.
        shape: ``(height, width)`` of the mask.
        forehead: forehead band height, fraction of the chin (8) to nose-bridge-top (27)
            distance.

    Returns:
        (H, W) float32 mask, 1 inside the face region (anti-aliased edge).

    Example:
        >>> lm = np.random.default_rng(0).uniform(20, 40, (68, 2))
        >>> float(visible_face_from_landmarks(lm, (64, 64))[30, 30])
        1.0
    """
    lm = np.asarray(landmarks, np.float64).reshape(-1, 2)
    frame = FaceFrame.from_landmarks(lm)
    band = lm[17:27] + frame.up * forehead * frame.height
    hull = cv2.convexHull(np.vstack([lm, band]).astype(np.float32)).reshape(-1, 2)
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(hull * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) * (1.0 / 255.0)


def _frame(
    landmarks: Optional[np.ndarray], visible: Optional[np.ndarray], shape: Tuple[int, int]
) -> FaceFrame:
    """Face axes from the landmarks, else the visible mask's box, else the crop centre."""
    if landmarks is not None:
        return FaceFrame.from_landmarks(landmarks)
    if visible is not None:
        x, y, w, h = cv2.boundingRect((visible > 0.5).astype(np.uint8))
        if w > 0 and h > 0:
            return box_frame((x, y, x + w, y + h))
    h, w = shape[:2]
    # The crop protocol puts the face box at the middle 1/1.2 of the crop.
    return box_frame((w * 0.1, h * 0.1, w * 0.9, h * 0.9))


def occlude(
    image: np.ndarray,
    visible: np.ndarray,
    landmarks: Optional[np.ndarray],
    config: OcclusionConfig,
    rng: np.random.Generator,
    kinds: Optional[Sequence[str]] = None,
) -> List[str]:
    """Draw random occluders on ``image`` and remove them from ``visible``, in place.

    Args:
        image: (H, W, 3) uint8 RGB (the network crop, or a full image).
        visible: (H, W) float32 visible-face fraction; occluded pixels go to 0.
        landmarks: (68, 2) landmarks in ``image`` or None (then only hands and patches).
        config: occluder frequencies.
        rng: numpy Generator (deterministic given its state).
        kinds: draw exactly these kinds instead of sampling (tests, benchmark builders).

    Returns:
        The kinds drawn, in order (empty when the sample was left unoccluded).
    """
    if kinds is None:
        if rng.random() >= config.prob:
            return []
        probs = config.kind_probabilities(landmarks is not None)
        if not probs:
            return []
        names = list(probs)
        n = min(int(rng.integers(1, config.max_occluders + 1)), len(names))
        kinds = list(rng.choice(names, size=n, replace=False, p=[probs[k] for k in names]))
    frame = _frame(landmarks, visible, image.shape)
    drawn = []
    for kind in kinds:
        if kind in NEEDS_LANDMARKS and landmarks is None:
            raise ValueError(f"occluder {kind!r} needs landmarks")
        if kind == "mask":
            varied = config.mask_variety > 0 and rng.random() < config.mask_variety
            layer = draw_face_mask(image, landmarks, frame, rng, "varied" if varied else "any")
        elif kind == "sunglasses":
            layer = draw_sunglasses(image, landmarks, frame, rng)
        elif kind == "hand":
            layer = draw_hand(image, landmarks, frame, rng)
        elif kind == "patch":
            layer = draw_patch(image, frame, rng, config.texture_images, config.patch_size)
        else:
            raise ValueError(f"unknown occluder {kind!r}; expected one of {OCCLUDER_KINDS}")
        composite(image, visible, layer)
        drawn.append(str(kind))
    return drawn
