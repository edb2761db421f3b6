"""Crop protocol (paper Section IV-A): face box -> 10% larger on each side -> square -> S x S.

The crop is an affine map from image pixels to crop pixels, kept as a 2x3 matrix so it can
be composed with the augmentation (one ``cv2.warpAffine`` per array, never two resamplings)
and inverted exactly to bring predictions back to the image.

Coordinates follow ``docs/CONVENTIONS.md``: 0-based pixels, a pixel's centre at its integer
coordinate, which is also what ``cv2.warpAffine`` assumes. A pixel ``i`` covers the interval
``[i - 0.5, i + 0.5]``, so a square box ``[x0, x0 + side]`` maps onto the crop's pixel
extent ``[-0.5, S - 0.5]`` and the box centre onto ``(S - 1) / 2``.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

#: The paper enlarges the face box by 10% of its size on each side.
DEFAULT_ENLARGE = 0.10


def box_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Tight box ``(x0, y0, x1, y1)`` around the landmarks.

    Args:
        landmarks: ``(K, 2)`` pixel coordinates.

    Returns:
        ``(4,)`` float32 box.

    Example:
        >>> box_from_landmarks(np.array([[10, 20], [30, 60]])).tolist()
        [10.0, 20.0, 30.0, 60.0]
    """
    pts = np.asarray(landmarks, np.float32).reshape(-1, 2)
    if np.isnan(pts).all():
        raise ValueError("cannot take a box of landmarks that are all NaN")
    # NaN marks a missing point (heatmaps.encode_heatmaps gives it an empty map).
    return np.concatenate([np.nanmin(pts, axis=0), np.nanmax(pts, axis=0)]).astype(np.float32)


def square_box(box: Sequence[float], enlarge: float = DEFAULT_ENLARGE) -> np.ndarray:
    """Enlarge a box by ``enlarge`` of its width/height on each side, then make it square.

    The square keeps the enlarged box's centre and takes its longer side, so the whole
    enlarged box is inside it.

    Args:
        box: ``(x0, y0, x1, y1)``.
        enlarge: fraction of the box size added on each side (paper: 0.1).

    Returns:
        ``(4,)`` float32 square box ``(x0, y0, x1, y1)``, ``x1 - x0 == y1 - y0``.

    Example:
        >>> square_box([0, 0, 100, 50]).tolist()
        [-10.0, -35.0, 110.0, 85.0]
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    if not (w >= 0 and h >= 0):
        raise ValueError(f"box must have x1 >= x0 and y1 >= y0, got {tuple(box)}")
    side = max(w, h) * (1.0 + 2.0 * enlarge)
    # A degenerate box (one point) would give a zero-size crop; fall back to 1 px.
    side = max(side, 1.0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    half = side / 2.0
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)


def to_3x3(matrix: np.ndarray) -> np.ndarray:
    """A 2x3 affine as a 3x3 homogeneous matrix (float64)."""
    m = np.eye(3)
    m[:2] = np.asarray(matrix, np.float64).reshape(2, 3)
    return m


def compose(*matrices: np.ndarray) -> np.ndarray:
    """Compose 2x3 affines, applied right to left: ``compose(B, A)`` maps ``p -> B(A(p))``.

    Example:
        >>> shift = np.array([[1, 0, 5], [0, 1, 0]], float)
        >>> compose(shift, shift)[:, 2].tolist()
        [10.0, 0.0]
    """
    out = np.eye(3)
    for m in matrices:
        out = out @ to_3x3(m)
    return out[:2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """Exact inverse of a 2x3 affine (float64)."""
    return np.linalg.inv(to_3x3(matrix))[:2]


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to ``(..., 2)`` points; returns float32 of the same shape."""
    m = np.asarray(matrix, np.float64).reshape(2, 3)
    pts = np.asarray(points, np.float64)
    out = pts @ m[:, :2].T + m[:, 2]
    return out.astype(np.float32)


def box_to_crop_matrix(box: Sequence[float], size: int) -> np.ndarray:
    """2x3 affine taking the square ``box`` onto an ``size x size`` crop.

    Args:
        box: square box ``(x0, y0, x1, y1)`` in image pixels (see :func:`square_box`).
        size: crop side S.

    Returns:
        ``(2, 3)`` float64 matrix, image -> crop.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0)
    s = size / side
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    c = (size - 1) / 2.0
    return np.array([[s, 0.0, c - s * cx], [0.0, s, c - s * cy]], np.float64)


def face_box(
    landmarks: Optional[np.ndarray] = None,
    box: Optional[Sequence[float]] = None,
    image_shape: Optional[Tuple[int, int]] = None,
) -> np.ndarray:
    """The tight face box of a sample: landmarks first, else the dataset box, else the image.

    Landmarks win over a dataset box because the paper crops "with bounding boxes or
    landmark labels" and a landmark box is the same for every dataset, whereas detector
    boxes differ between datasets. Samples with neither (C-CM, RealOcc-Wild without a
    detector box) use the whole image.

    Args:
        landmarks: ``(K, 2)`` or None.
        box: ``(x0, y0, x1, y1)`` or None.
        image_shape: ``(height, width)``, needed when both are None.

    Returns:
        ``(4,)`` float32 tight box (not yet enlarged).
    """
    if landmarks is not None:
        return box_from_landmarks(landmarks)
    if box is not None:
        return np.asarray(box, np.float32).reshape(4)
    if image_shape is None:
        raise ValueError("face_box needs landmarks, a box or the image shape")
    h, w = image_shape[:2]
    # Pixel extents, so that the square crop covers exactly the image.
    return np.array([-0.5, -0.5, w - 0.5, h - 0.5], np.float32)


@dataclasses.dataclass(frozen=True)
class CropTransform:
    """An affine map image -> crop of side ``size``, with its exact inverse.

    Attributes:
        matrix: ``(2, 3)`` float64, image pixel -> crop pixel.
        size: crop side S.

    Example:
        >>> t = CropTransform.from_box([0, 0, 99, 99], size=64, enlarge=0.0)
        >>> pts = np.array([[10.0, 20.0]])
        >>> np.allclose(t.to_image(t.to_crop(pts)), pts, atol=1e-4)
        True
    """

    matrix: np.ndarray
    size: int

    @classmethod
    def from_box(
        cls, box: Sequence[float], size: int, enlarge: float = DEFAULT_ENLARGE
    ) -> "CropTransform":
        """Crop of a tight face box, enlarged by ``enlarge`` per side and made square."""
        return cls(box_to_crop_matrix(square_box(box, enlarge), size), int(size))

    @classmethod
    def from_landmarks(
        cls, landmarks: np.ndarray, size: int, enlarge: float = DEFAULT_ENLARGE
    ) -> "CropTransform":
        """Crop of the landmarks' tight box (paper protocol)."""
        return cls.from_box(box_from_landmarks(landmarks), size, enlarge)

    @property
    def inverse_matrix(self) -> np.ndarray:
        """``(2, 3)`` float64, crop pixel -> image pixel (exact inverse)."""
        return invert(self.matrix)

    def then(self, matrix: np.ndarray) -> "CropTransform":
        """This crop followed by a crop-space affine ``matrix`` (e.g. an augmentation)."""
        return CropTransform(compose(matrix, self.matrix), self.size)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image pixel coordinates -> crop pixel coordinates."""
        return transform_points(self.matrix, points)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop pixel coordinates -> image pixel coordinates (e.g. predictions)."""
        return transform_points(self.inverse_matrix, points)

    def warp(
        self,
        image: np.ndarray,
        interpolation: int = cv2.INTER_LINEAR,
        border_value: float = 0.0,
    ) -> np.ndarray:
        """Resample ``image`` (H, W[, C]) into the ``size x size`` crop.

        Pixels outside the image get ``border_value`` (black for images; "not-face" for
        masks, which is what a region outside the photo is).
        """
        return cv2.warpAffine(
            image,
            self.matrix,
            (self.size, self.size),
            flags=interpolation,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=border_value,
        )


def rescale_matrix(src_shape: Tuple[int, int], dst_shape: Tuple[int, int]) -> np.ndarray:
    """2x3 affine from the pixel grid of an image of ``src_shape`` to one of ``dst_shape``.

    Used when a mask is stored at another resolution than its image (CelebAMask-HQ's
    masks are 512 px for 1024 px images): pixel extents map onto pixel extents.

    Args:
        src_shape: ``(height, width)`` of the source grid.
        dst_shape: ``(height, width)`` of the destination grid.
    """
    sy = dst_shape[0] / src_shape[0]
    sx = dst_shape[1] / src_shape[1]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]], np.float64)
