"""Fill textures for random-patch occluders and cloth masks: solid colour, noise,
stripes, checker board, and crops of other image content."""
from __future__ import annotations

import functools
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

TEXTURE_KINDS = ("solid", "noise", "stripes", "checker", "content")


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour (uint8 values as float64)."""
    return rng.integers(0, 256, 3).astype(np.float64)


def solid(shape: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    return np.broadcast_to(random_colour(rng).astype(np.uint8), (h, w, 3)).copy()


def noise(shape: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Coloured noise, from pixel-level to blotchy (random grain size)."""
    h, w = shape
    grain = int(rng.integers(1, 9))
    small = rng.integers(0, 256, (max(1, h // grain), max(1, w // grain), 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR if grain > 1 else cv2.INTER_NEAREST)


def stripes(shape: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Two-colour stripes at a random angle and period."""
    h, w = shape
    period = rng.uniform(4.0, max(6.0, min(h, w) / 3.0))
    theta = rng.uniform(0.0, np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = (xx * np.cos(theta) + yy * np.sin(theta)) / period
    sel = (np.floor(phase) % 2).astype(bool)
    out = np.empty((h, w, 3), np.uint8)
    out[sel] = random_colour(rng).astype(np.uint8)
    out[~sel] = random_colour(rng).astype(np.uint8)
    return out


def checker(shape: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    cell = int(rng.integers(3, max(4, min(h, w) // 3)))
    yy, xx = np.mgrid[0:h, 0:w]
    sel = ((yy // cell + xx // cell) % 2).astype(bool)
    out = np.empty((h, w, 3), np.uint8)
    out[sel] = random_colour(rng).astype(np.uint8)
    out[~sel] = random_colour(rng).astype(np.uint8)
    return out


@functools.lru_cache(maxsize=32)
def _load_rgb(path: str) -> Optional[np.ndarray]:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def content(
    shape: Tuple[int, int],
    rng: np.random.Generator,
    source: Optional[np.ndarray] = None,
    texture_images: Sequence[str] = (),
) -> np.ndarray:
    """A random crop of other image content.

    From one of ``texture_images`` when given (e.g. a folder of non-face photos), else
    from ``source`` (the sample's own crop), turned by 90/180/270 degrees and maybe
    mirrored so it does not line up with the face it covers.
    """
    h, w = shape
    img = None
    if texture_images:
        img = _load_rgb(str(texture_images[int(rng.integers(len(texture_images)))]))
    if img is None:
        if source is None:
            return noise(shape, rng)
        img = np.rot90(source, int(rng.integers(1, 4)))
        if rng.random() < 0.5:
            img = img[:, ::-1]
    ih, iw = img.shape[:2]
    ch, cw = min(h, ih), min(w, iw)
    y = int(rng.integers(0, ih - ch + 1))
    x = int(rng.integers(0, iw - cw + 1))
    patch = np.ascontiguousarray(img[y : y + ch, x : x + cw])
    if (ch, cw) != (h, w):
        patch = cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)
    return patch


def make_texture(
    kind: str,
    shape: Tuple[int, int],
    rng: np.random.Generator,
    source: Optional[np.ndarray] = None,
    texture_images: Sequence[str] = (),
) -> np.ndarray:
    """A (H, W, 3) uint8 texture of ``kind`` (one of :data:`TEXTURE_KINDS`)."""
    shape = (max(1, int(shape[0])), max(1, int(shape[1])))
    if kind == "solid":
        return solid(shape, rng)
    if kind == "noise":
        return noise(shape, rng)
    if kind == "stripes":
        return stripes(shape, rng)
    if kind == "checker":
        return checker(shape, rng)
    if kind == "content":
        return content(shape, rng, source, texture_images)
    raise ValueError(f"unknown texture {kind!r}; expected one of {TEXTURE_KINDS}")
