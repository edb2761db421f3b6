"""Medical and cloth face masks placed from the 68 landmarks (nose bridge to chin, out to
the jaw sides), in the spirit of MaskTheFace, which the paper used."""
from __future__ import annotations

import numpy as np

from lponet_tf.data.occluders.base import FaceFrame, Layer, bezier
from lponet_tf.data.occluders.textures import make_texture

_SURGICAL_COLOURS = np.array(
    [(160, 200, 225), (130, 180, 212), (236, 236, 232), (170, 215, 190), (228, 190, 200), (45, 45, 50)],
    np.float64,
)
_CLOTH_TEXTURES = ("solid", "solid", "stripes", "checker", "noise")


#: Ranges of the outline's random parameters: how far the lower edge stands off the jaw
#: (fraction of the jaw-to-nose-tip distance), how far it sags below the chin (fraction of
#: the face height) and where the top edge crosses the nose (0: landmark index 28, 1: index
#: 29, 0-based).
_FIT = {"surgical": ((0.03, 0.09), (0.04, 0.12), (0.2, 0.9)),
        "cloth": ((0.03, 0.09), (0.04, 0.12), (0.0, 0.6)),
        # From skin-tight (just inside the jaw) to loose, flat to sagging, any height.
        "varied": ((-0.03, 0.14), (0.0, 0.16), (0.0, 1.0))}


def _outline(lm: np.ndarray, frame: FaceFrame, rng: np.random.Generator, cloth: bool,
             fit: str = "surgical"):
    """Mask outline: top edge over the nose, lower edge along the pushed-out jaw.

    Returns:
        (polygon, top-left corner, top-right corner, nose point, chin point, jaw points)
    """
    up, h = frame.up, frame.height
    centre = lm[30]
    push, sag_range, nose_range = _FIT[fit]
    # The mask stands off the skin a little: push the jaw points away from the nose tip,
    # and hang the chin part lower (masks sag below the chin).
    jaw = lm[1:16].copy()
    jaw += (jaw - centre) * rng.uniform(*push)
    sag = h * rng.uniform(*sag_range) * (np.cos(np.linspace(-np.pi / 2, np.pi / 2, 15)) ** 2)
    jaw -= up[None, :] * sag[:, None]
    # Top corners between jaw points 1 and 2 (ear level to cheekbone), nose at 28..29.
    r = rng.uniform(0.0, 0.7)
    left = jaw[0] * (1 - r) + jaw[1] * r
    right = jaw[14] * (1 - r) + jaw[13] * r
    t = rng.uniform(*nose_range)
    nose = lm[28] * (1 - t) + lm[29] * t
    if cloth:
        # One round curve through the nose point (quadratic Bezier mid-point = nose).
        ctrl = 2.0 * nose - (left + right) / 2.0
        top = bezier(left, ctrl, right, 24)
    else:
        # Two flatter spans meeting at the nose bridge (the wire of a medical mask).
        lift = up * h * 0.06
        top = np.vstack(
            [bezier(left, (left + nose) / 2 + lift, nose, 12), bezier(nose, (nose + right) / 2 + lift, right, 12)[1:]]
        )
    poly = np.vstack([top, jaw[13:0:-1]])
    return poly, left, right, nose, jaw[7], jaw


def draw_face_mask(
    image: np.ndarray, lm: np.ndarray, frame: FaceFrame, rng: np.random.Generator, style: str = "any"
) -> Layer:
    """A medical (pleated, ear straps), cloth (round, seam, textured) or varied face mask.

    Args:
        image: (H, W, 3) uint8 image, only its shape is used.
        lm: (68, 2) landmarks in the image.
        frame: the face's axes (:class:`FaceFrame`).
        rng: numpy Generator.
        style: "surgical", "cloth", "any" (one of the two at random) or "varied": either
            outline, fitted anywhere from skin-tight to loose and sagging, in any colour or
            texture, with or without pleats, straps and shading (training variety: a
            network trained on the two fixed styles alone learns where their edges sit
            relative to the jaw; README model card).

    Returns:
        The mask :class:`Layer`.
    """
    lm = np.asarray(lm, np.float64)
    if style == "varied":
        return _draw_varied(image, lm, frame, rng)
    if style == "any":
        style = "surgical" if rng.random() < 0.55 else "cloth"
    cloth = style == "cloth"
    layer = Layer.empty(image.shape)
    poly, left, right, nose, chin, jaw = _outline(lm, frame, rng, cloth, style)
    h = frame.height
    if cloth:
        kind = _CLOTH_TEXTURES[int(rng.integers(len(_CLOTH_TEXTURES)))]
        # Cloth masks are mostly dark or muted: pull the texture towards a dark base.
        dark = rng.uniform(0.3, 0.9)
        layer.fill_texture(poly, lambda shape: (make_texture(kind, shape, rng) * dark).astype(np.uint8))
        _seam(layer, image.shape, frame, nose, chin)
    else:
        colour = _SURGICAL_COLOURS[int(rng.integers(len(_SURGICAL_COLOURS)))] * rng.uniform(0.9, 1.05)
        layer.fill_polygon(poly, colour)
        _pleats_and_straps(layer, lm, frame, colour, left, right, nose, chin, jaw)
    layer.shade_noise(rng, scale=h * 0.4, amount=0.08)
    return layer


def _draw_varied(image: np.ndarray, lm: np.ndarray, frame: FaceFrame, rng: np.random.Generator) -> Layer:
    cloth = bool(rng.random() < 0.5)
    layer = Layer.empty(image.shape)
    poly, left, right, nose, chin, jaw = _outline(lm, frame, rng, cloth, "varied")
    colour = rng.uniform(0, 255, 3)
    if rng.random() < 0.5:
        layer.fill_polygon(poly, colour)
    else:
        kind = _CLOTH_TEXTURES[int(rng.integers(len(_CLOTH_TEXTURES)))]
        tint = colour / 255.0
        layer.fill_texture(poly, lambda shape: (make_texture(kind, shape, rng) * tint).astype(np.uint8))
    if rng.random() < 0.4:
        _pleats_and_straps(layer, lm, frame, colour, left, right, nose, chin, jaw,
                           straps=bool(rng.random() < 0.6))
    elif rng.random() < 0.3:
        _seam(layer, image.shape, frame, nose, chin)
    layer.shade_noise(rng, scale=frame.height * 0.4, amount=rng.uniform(0.0, 0.15))
    return layer


def _seam(layer: Layer, shape, frame: FaceFrame, nose: np.ndarray, chin: np.ndarray) -> None:
    """A cloth mask's middle seam, darker than the cloth under the chin."""
    h = frame.height
    seam = bezier(nose, (nose + chin) / 2 + frame.right * h * 0.02, chin, 12)
    base = layer.colour[int(np.clip(chin[1], 0, shape[0] - 1)), int(np.clip(chin[0], 0, shape[1] - 1))]
    layer.polyline(seam, base.astype(np.float64) * 0.6, h * 0.02)


def _pleats_and_straps(layer: Layer, lm, frame: FaceFrame, colour, left, right, nose, chin, jaw,
                       straps: bool = True) -> None:
    """A medical mask's three horizontal pleats (drawn on the colour only: they add no
    coverage) and its ear straps."""
    h = frame.height
    for k in (0.3, 0.5, 0.7):
        a = left * (1 - k) + jaw[3] * k
        b = right * (1 - k) + jaw[11] * k
        m = nose * (1 - 0.8 * k) + chin * 0.8 * k
        layer.polyline(bezier(a, m, b, 16), colour * 0.78, max(1.0, h * 0.015))
    if not straps:
        return
    # Ear straps run from the mask corners back towards the ears.
    ear_top = lm[0] + (lm[0] - lm[30]) * 0.12
    ear_low = lm[3] + (lm[3] - lm[30]) * 0.15
    strap = np.minimum(colour * 1.05, 255)
    layer.line(left, ear_top, strap, max(1.0, h * 0.025))
    layer.line(jaw[4] * 0.5 + left * 0.5, ear_low, strap, max(1.0, h * 0.025))
    layer.line(right, lm[16] + (lm[16] - lm[30]) * 0.12, strap, max(1.0, h * 0.025))
    layer.line(jaw[10] * 0.5 + right * 0.5, lm[13] + (lm[13] - lm[30]) * 0.15, strap, max(1.0, h * 0.025))
