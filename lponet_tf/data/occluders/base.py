"""Drawing primitives shared by the synthetic occluders.

An occluder is drawn into a :class:`Layer`: an anti-aliased coverage (alpha, uint8) and
the colours it shows. :func:`composite` pastes the layer onto the image and removes the
covered fraction from the visible-face mask, so the picture and the occlusion label
always change together.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence, Tuple

import cv2
import numpy as np

# Sub-pixel precision of OpenCV's drawing calls: coordinates are passed times 2**_SHIFT.
_SHIFT = 4
_ONE = 1 << _SHIFT


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * _ONE).astype(np.int32).reshape(-1, 2)


@dataclasses.dataclass
class Layer:
    """One occluder: ``alpha`` (H, W) uint8 coverage and ``colour`` (H, W, 3) uint8 RGB."""

    alpha: np.ndarray
    colour: np.ndarray

    @classmethod
    def empty(cls, shape: Tuple[int, int]) -> "Layer":
        h, w = shape[:2]
        return cls(np.zeros((h, w), np.uint8), np.zeros((h, w, 3), np.uint8))

    def fill_polygon(
        self, points: np.ndarray, colour: Optional[Sequence[int]], alpha: bool = True
    ) -> None:
        """Fill a polygon in ``colour``; ``alpha=False`` paints colour only (details),
        ``colour=None`` adds coverage only (over a texture already in ``self.colour``)."""
        pts = [_fixed(points)]
        if colour is None:
            cv2.fillPoly(self.alpha, pts, 255, cv2.LINE_AA, _SHIFT)
        elif alpha:
            # Hard-edged colour one pixel past the anti-aliased coverage: edge pixels then
            # blend towards the occluder's colour, not towards the layer's black background.
            cv2.fillPoly(self.colour, pts, _rgb(colour), cv2.LINE_8, _SHIFT)
            cv2.polylines(self.colour, pts, True, _rgb(colour), 2, cv2.LINE_8, _SHIFT)
            cv2.fillPoly(self.alpha, pts, 255, cv2.LINE_AA, _SHIFT)
        else:
            cv2.fillPoly(self.colour, pts, _rgb(colour), cv2.LINE_AA, _SHIFT)

    def line(
        self, p0, p1, colour: Sequence[int], thickness: float, alpha: bool = True
    ) -> None:
        """A thick segment with round caps (a capsule), e.g. a finger or a strap."""
        t = max(1, int(round(thickness)))
        a, b = tuple(_fixed(p0)[0]), tuple(_fixed(p1)[0])
        if alpha:
            cv2.line(self.colour, a, b, _rgb(colour), t + 2, cv2.LINE_8, _SHIFT)  # see fill_polygon
            cv2.line(self.alpha, a, b, 255, t, cv2.LINE_AA, _SHIFT)
        else:
            cv2.line(self.colour, a, b, _rgb(colour), t, cv2.LINE_AA, _SHIFT)

    def polyline(
        self, points: np.ndarray, colour: Sequence[int], thickness: float, alpha: bool = False
    ) -> None:
        """An open polyline (pleats, seams, frame rims); colour only by default."""
        t = max(1, int(round(thickness)))
        pts = [_fixed(points)]
        cv2.polylines(self.colour, pts, False, _rgb(colour), t, cv2.LINE_AA, _SHIFT)
        if alpha:
            cv2.polylines(self.alpha, pts, False, 255, t, cv2.LINE_AA, _SHIFT)

    def fill_texture(self, points: np.ndarray, make: Callable[[Tuple[int, int]], np.ndarray]) -> None:
        """Cover a polygon with a texture; ``make(shape)`` is asked only for the polygon's
        bounding box (textures are costly at full-frame size)."""
        reg = region(points, self.alpha.shape)
        if reg is None:
            return
        ys, xs = reg
        self.colour[ys, xs] = make((ys.stop - ys.start, xs.stop - xs.start))
        self.fill_polygon(points, None)

    def shade_noise(self, rng: np.random.Generator, scale: float, amount: float) -> None:
        """Multiply the covered colours by smooth noise ``1 +- amount`` (blobs of about
        ``scale`` pixels): cloth and skin are never flat."""
        x, y, w, h = cv2.boundingRect(self.alpha)
        if w == 0 or h == 0:
            return
        f = smooth_noise((h, w), rng, scale, amount)[..., None]
        patch = self.colour[y : y + h, x : x + w].astype(np.float32) * f
        self.colour[y : y + h, x : x + w] = np.clip(patch, 0, 255).astype(np.uint8)


def _rgb(colour: Sequence[int]) -> Tuple[int, int, int]:
    # Plain Python: called for every drawing op, where numpy scalar calls dominate.
    r, g, b = (min(255, max(0, int(round(float(v))))) for v in colour[:3])
    return (r, g, b)


def region(points: np.ndarray, shape: Tuple[int, int], margin: int = 2) -> Optional[Tuple[slice, slice]]:
    """Row and column slices of the points' bounding box (plus ``margin``) inside the
    image, or None when it misses the image."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    h, w = shape[:2]
    x0 = max(0, int(np.floor(pts[:, 0].min())) - margin)
    y0 = max(0, int(np.floor(pts[:, 1].min())) - margin)
    x1 = min(w, int(np.ceil(pts[:, 0].max())) + margin + 1)
    y1 = min(h, int(np.ceil(pts[:, 1].max())) + margin + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return slice(y0, y1), slice(x0, x1)


def composite(image: np.ndarray, visible: np.ndarray, layer: Layer) -> None:
    """Paste ``layer`` onto ``image`` and subtract its coverage from ``visible``, in place.

    Only the layer's bounding box is touched (occluders are small, frames can be large).

    Args:
        image: (H, W, 3) uint8 RGB.
        visible: (H, W) float32 visible-face fraction in [0, 1].
        layer: the occluder.
    """
    x, y, w, h = cv2.boundingRect(layer.alpha)
    if w == 0 or h == 0:
        return
    a = layer.alpha[y : y + h, x : x + w].astype(np.float32) * (1.0 / 255.0)
    img = image[y : y + h, x : x + w].astype(np.float32)
    col = layer.colour[y : y + h, x : x + w].astype(np.float32)
    image[y : y + h, x : x + w] = np.clip(
        img + (col - img) * a[..., None] + 0.5, 0, 255
    ).astype(np.uint8)
    visible[y : y + h, x : x + w] *= 1.0 - a


@dataclasses.dataclass(frozen=True)
class FaceFrame:
    """A face's local axes from its 68 landmarks, to place occluders on it.

    Attributes:
        up: unit vector from the chin (8) towards the nose bridge top (27).
        right: unit vector perpendicular to ``up``, towards image right for an upright face.
        height: chin to nose-bridge-top distance (about half the face height).
        width: jaw width (0 to 16), at least ``height`` / 4 for profile faces.
        centre: nose tip (30).
    """

    up: np.ndarray
    right: np.ndarray
    height: float
    width: float
    centre: np.ndarray

    @classmethod
    def from_landmarks(cls, lm: np.ndarray) -> "FaceFrame":
        lm = np.asarray(lm, np.float64)
        v = lm[27] - lm[8]
        h = float(np.hypot(*v))
        if h < 1e-6:
            v, h = np.array([0.0, -1.0]), 1.0
        up = v / h
        right = np.array([-up[1], up[0]])
        w = max(float(np.hypot(*(lm[16] - lm[0]))), h / 4.0)
        return cls(up, right, h, w, lm[30].copy())


def box_frame(box: Sequence[float]) -> FaceFrame:
    """A :class:`FaceFrame` for a face known only by its box (upright assumed)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    return FaceFrame(
        np.array([0.0, -1.0]), np.array([1.0, 0.0]), h / 2.0, w, np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    )


def superellipse(centre, a: float, b: float, angle: float, n: float = 2.0, num: int = 48) -> np.ndarray:
    """Polygon of a rotated superellipse ``|x/a|^n + |y/b|^n = 1`` (n = 2: ellipse,
    larger n: rounded rectangle). ``angle`` in radians, counter-clockwise in x-right/y-down."""
    t = np.linspace(0.0, 2.0 * np.pi, num, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = a * np.sign(c) * np.abs(c) ** (2.0 / n)
    y = b * np.sign(s) * np.abs(s) ** (2.0 / n)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([x * ca - y * sa, x * sa + y * ca], axis=1) + np.asarray(centre, np.float64)


def bezier(p0, p1, p2, num: int = 16) -> np.ndarray:
    """Quadratic Bezier curve from ``p0`` to ``p2`` pulled towards ``p1``."""
    t = np.linspace(0.0, 1.0, num)[:, None]
    p0, p1, p2 = (np.asarray(p, np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def smooth_noise(shape: Tuple[int, int], rng: np.random.Generator, scale: float, amount: float) -> np.ndarray:
    """A smooth brightness map ``1 +- amount`` with blobs about ``scale`` pixels wide."""
    h, w = shape[:2]
    gh, gw = max(2, int(h / max(scale, 1.0)) + 2), max(2, int(w / max(scale, 1.0)) + 2)
    grid = rng.uniform(-amount, amount, (gh, gw)).astype(np.float32)
    return 1.0 + cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
