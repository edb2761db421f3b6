"""Skin-toned hand-like shapes: a palm, four fingers, a thumb and the forearm, held in front
of the face (mouth, cheek, chin, eye) from below or from the side."""
from __future__ import annotations

from typing import Optional

import numpy as np

from lponet_tf.data.occluders.base import FaceFrame, Layer, superellipse

# A spread of human skin tones, light to dark (RGB).
SKIN_TONES = np.array(
    [(255, 224, 196), (241, 194, 160), (224, 172, 128), (198, 134, 96), (160, 105, 70), (110, 70, 45)],
    np.float64,
)
# Finger bases along the palm's top edge, spread angles (deg) and relative lengths,
# index to little finger, in palm widths.
_FINGER_X = np.array([-0.33, -0.11, 0.11, 0.33])
_FINGER_SPREAD = np.array([-9.0, -3.0, 3.0, 9.0])
_FINGER_LEN = np.array([0.85, 0.95, 0.88, 0.68])
_FINGER_W = 0.24


def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _target(lm: Optional[np.ndarray], frame: FaceFrame, rng: np.random.Generator) -> np.ndarray:
    """Where the hand rests: a face part, jittered."""
    if lm is None:
        offset = (rng.uniform(-0.3, 0.3) * frame.width) * frame.right + rng.uniform(-0.6, 0.6) * frame.height * frame.up
        return frame.centre + offset
    parts = (
        lm[48:68].mean(0),  # mouth
        lm[30],  # nose tip
        lm[[2, 3, 31, 48]].mean(0),  # one cheek
        lm[[13, 14, 35, 54]].mean(0),  # other cheek
        lm[7:10].mean(0),  # chin
        lm[36:42].mean(0),  # one eye
        lm[42:48].mean(0),  # other eye
    )
    p = parts[int(rng.integers(len(parts)))]
    return p + rng.normal(0.0, 0.08, 2) * frame.height


def draw_hand(
    image: np.ndarray, lm: Optional[np.ndarray], frame: FaceFrame, rng: np.random.Generator
) -> Layer:
    """A hand over part of the face.

    Args:
        image: (H, W, 3) uint8, only its shape is used.
        lm: (68, 2) landmarks, or None (placed from ``frame`` alone).
        frame: the face's axes.
        rng: numpy Generator.

    Returns:
        The hand :class:`Layer`.
    """
    lm = None if lm is None else np.asarray(lm, np.float64)
    layer = Layer.empty(image.shape)
    width = frame.width * rng.uniform(0.4, 0.6)  # palm width in pixels
    tips = _rot(frame.up, rng.uniform(-110.0, 110.0))  # fingertip direction: from below / sides
    side = _rot(tips, 90.0) * (1.0 if rng.random() < 0.5 else -1.0)  # left or right hand
    centre = _target(lm, frame, rng) - tips * width * rng.uniform(0.0, 0.5)

    def at(x: float, y: float) -> np.ndarray:
        """Local hand coordinates (palm widths; -y towards the fingertips) -> pixels."""
        return centre + width * (x * side - y * tips)

    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))] * rng.uniform(0.85, 1.08)
    crease = skin * 0.8
    # Forearm first, fingers next, palm on top hides the finger bases.
    layer.line(at(0.0, 0.3), at(0.0, 4.0), skin * 0.95, width * 0.75)
    # Fingers bend together (open hand .. loose fist); independent curls would make
    # odd gestures with one finger raised.
    curl = np.clip(rng.uniform(0.6, 1.1) + rng.uniform(-0.08, 0.08, 4), 0.5, 1.15)
    for x, spread, length, c in zip(_FINGER_X, _FINGER_SPREAD, _FINGER_LEN, curl):
        base = at(x, -0.35)
        d = _rot(tips, spread + rng.normal(0.0, 3.0))
        tip = base + d * width * length * c
        t = width * _FINGER_W
        layer.line(base, tip, crease, t)  # dark outline separates neighbouring fingers
        layer.line(base, tip - d * t * 0.1, skin, t * 0.8, alpha=False)
    palm = np.array([at(*p) for p in superellipse((0.0, 0.0), 0.5, 0.55, 0.0, 2.6, 32)])
    layer.fill_polygon(palm, skin)
    # Thumb in two phalanges, from inside the palm outwards then up; drawn over the palm.
    t = width * 0.26
    knuckle = at(0.25, 0.2)
    mid = at(0.6, -0.1)
    end = mid + (tips * rng.uniform(0.25, 0.4) + side * 0.05) * width
    layer.line(knuckle, mid, crease, t)
    layer.line(mid, end, crease, t * 0.9)
    layer.line(knuckle, mid, skin, t * 0.8, alpha=False)
    layer.line(mid, end, skin, t * 0.7, alpha=False)
    layer.shade_noise(rng, scale=width * 0.5, amount=0.07)
    return layer
