"""Random patches over the face: rectangles, ellipses or random polygons filled with a
texture (solid, noise, stripes, checker, other image content)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from lponet_tf.data.occluders.base import FaceFrame, Layer, superellipse
from lponet_tf.data.occluders.textures import TEXTURE_KINDS, make_texture

PATCH_SHAPES = ("rectangle", "ellipse", "polygon")


def draw_patch(
    image: np.ndarray,
    frame: FaceFrame,
    rng: np.random.Generator,
    texture_images: Sequence[str] = (),
    size_range=(0.2, 0.5),
) -> Layer:
    """A textured random shape whose centre lies on the face.

    Args:
        image: (H, W, 3) uint8 image; also the source of "content" textures.
        frame: the face's axes (its box or landmarks).
        rng: numpy Generator.
        texture_images: optional image files for "content" textures.
        size_range: patch size as a fraction of the face size ``(min, max)``.

    Returns:
        The patch :class:`Layer`.
    """
    face = max(frame.width, 2.0 * frame.height)
    centre = (
        frame.centre
        + rng.uniform(-0.4, 0.4) * frame.width * frame.right
        + rng.uniform(-0.6, 0.8) * frame.height * frame.up
    )
    a = face * rng.uniform(*size_range) / 2.0
    b = a * rng.uniform(0.5, 1.5)
    angle = rng.uniform(0.0, np.pi)
    shape = PATCH_SHAPES[int(rng.integers(len(PATCH_SHAPES)))]
    if shape == "rectangle":
        poly = superellipse(centre, a, b, angle, 40.0, 64)
    elif shape == "ellipse":
        poly = superellipse(centre, a, b, angle, 2.0, 48)
    else:
        # A star-shaped random polygon: random radii at sorted random angles.
        n = int(rng.integers(5, 11))
        t = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
        r = rng.uniform(0.5, 1.0, n)
        poly = centre + np.stack([a * r * np.cos(t), b * r * np.sin(t)], axis=1)
    layer = Layer.empty(image.shape)
    kind = TEXTURE_KINDS[int(rng.integers(len(TEXTURE_KINDS)))]
    layer.fill_texture(poly, lambda shape: make_texture(kind, shape, rng, source=image, texture_images=texture_images))
    return layer
