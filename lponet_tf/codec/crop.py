"""Box -> crop, the second step of the face codec (paper Section IV-A): face box -> 10%
larger on each side -> square -> S x S.

The one place that turns a face box into the network's crop, for training, evaluation,
export (calibration, parity) and :class:`~lponet_tf.FaceAnalyzer` alike (the Java core's
``CropTransform`` / ``FaceCrop`` mirror it). The crop is an affine map from image pixels to
crop pixels, kept as a 2x3 matrix so it can be composed with the augmentation (one
resampling per array, never two) and inverted exactly to bring predictions back to the
image.

Resampling (:meth:`CropTransform.warp`): bilinear ``cv2.warpAffine``; a face shrunk by 2x or
more is first area-averaged by an integer factor (only the region the crop reads), because
a bilinear warp straight from a 2000 px face to 128 px would alias. Every user of the crop
gets this same warp, so ``lponet evaluate`` measures what ``FaceAnalyzer`` runs.

Coordinates follow ``docs/CONVENTIONS.md``: 0-based pixels, a pixel's centre at its integer
coordinate, which is also what ``cv2.warpAffine`` assumes. A pixel ``i`` covers the interval
``[i - 0.5, i + 0.5]``, so a square box ``[x0, x0 + side]`` maps onto the crop's pixel
extent ``[-0.5, S - 0.5]`` and the box centre onto ``(S - 1) / 2``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from lponet_tf.config import DEFAULT_ENLARGE  # the paper's 10% per side

__all__ = ["DEFAULT_ENLARGE", "CropTransform", "box_from_landmarks", "square_box", "face_box",
           "crop_face", "box_to_crop_matrix", "compose", "invert", "to_3x3",
           "transform_points", "rescale_matrix"]

#: Tolerance of the pre-shrink's region bounds: the corners come back through the inverse
#: affine within ~1e-13 of the square box, which must not move a floor/ceil off an integer.
_ROUND_TOL = 1e-9


def box_from_landmarks(landmarks) -> np.ndarray:
    """Tight box ``(x0, y0, x1, y1)`` around the landmarks: the box the network's crops are
    built from (training labels, and the analyzer's refinement and tracking boxes).

    A landmark with a non-finite coordinate (NaN marks a missing point:
    ``heatmaps.encode_heatmaps`` gives it an empty map) is ignored.

    Args:
        landmarks: ``(K, 2)`` pixel coordinates.

    Returns:
        ``(4,)`` float32 box.

    Raises:
        ValueError: no landmark with finite coordinates.

    Example:
        >>> box_from_landmarks(np.array([[10, 20], [30, 60]])).tolist()
        [10.0, 20.0, 30.0, 60.0]
        >>> box_from_landmarks([[1, 2], [5, 3], [np.nan, 0], [2, 9]]).tolist()
        [1.0, 2.0, 5.0, 9.0]
    """
    pts = np.asarray(landmarks, np.float32).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        raise ValueError("cannot take the box of landmarks: none has finite coordinates")
    return np.concatenate([pts.min(0), pts.max(0)]).astype(np.float32)


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
        masks, which is what a region outside the photo is). With bilinear interpolation, a
        crop that shrinks the image 2x or more first area-averages the region it reads by
        the integer factor (see the module docstring); the result is then bilinear from
        that smaller image, in one more affine.
        """
        factor = self.shrink_factor if interpolation == cv2.INTER_LINEAR else 1
        if factor >= 2:
            pre = _area_preshrink(image, self, factor)
            if pre is not None:
                small, to_small = pre
                return _warp(small, compose(self.matrix, invert(to_small)), self.size,
                             interpolation, border_value)
        return _warp(image, self.matrix, self.size, interpolation, border_value)

    @property
    def shrink_factor(self) -> int:
        """Image pixels per crop pixel, rounded down (the smaller of the two axes' counts)."""
        m = np.asarray(self.matrix, np.float64)
        scale = max(math.hypot(m[0, 0], m[1, 0]), math.hypot(m[0, 1], m[1, 1]))
        return int(1.0 / scale) if scale > 0 else 1


def _warp(image, matrix, size, interpolation, border_value) -> np.ndarray:
    return cv2.warpAffine(image, matrix, (size, size), flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)


def _area_preshrink(image: np.ndarray, transform: "CropTransform", factor: int):
    """``(small, image -> small affine)``: the region the crop reads, area-averaged by
    ``factor``; None when that region is (almost) outside the image (plain warp then).

    The region is the crop's pixel extent mapped back into the image, plus one shrink block
    of margin for the bilinear taps; for an axis-aligned crop that is the square box (the
    Java core's ``FaceCrop`` computes the same integers from it).
    """
    lo, hi = -0.5, transform.size - 0.5
    # In float64 (transform_points rounds to float32, too coarse for floor / ceil).
    inv = np.asarray(transform.inverse_matrix, np.float64)
    ext = np.array([[lo, lo], [hi, lo], [lo, hi], [hi, hi]])
    corners = ext @ inv[:, :2].T + inv[:, 2]
    (cx0, cy0), (cx1, cy1) = corners.min(0), corners.max(0)
    h, w = image.shape[:2]
    x0 = max(0, math.floor(cx0 + _ROUND_TOL) - factor)
    y0 = max(0, math.floor(cy0 + _ROUND_TOL) - factor)
    x1 = min(w, math.ceil(cx1 - _ROUND_TOL) + factor + 1)
    y1 = min(h, math.ceil(cy1 - _ROUND_TOL) + factor + 1)
    if x1 - x0 < 2 * factor or y1 - y0 < 2 * factor:  # crop (almost) outside the image
        return None
    roi = image[y0:y1, x0:x1]
    nw, nh = max(1, round(roi.shape[1] / factor)), max(1, round(roi.shape[0] / factor))
    small = cv2.resize(roi, (nw, nh), interpolation=cv2.INTER_AREA)
    sx, sy = nw / roi.shape[1], nh / roi.shape[0]
    # Image -> small pixels (pixel centres at integers): x_s = (x - x0 + 0.5) * sx - 0.5.
    to_small = np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5]])
    return small, to_small


def crop_face(image: np.ndarray, box, size: int,
              enlarge: float = DEFAULT_ENLARGE) -> Tuple[np.ndarray, "CropTransform"]:
    """The network crop of a face box: enlarged ``enlarge`` per side, square, ``size x size``.

    The crop of training (without augmentation), evaluation, export and the analyzer.

    Args:
        image: ``(H, W, 3)`` uint8.
        box: ``(4,)`` tight face box (or a landmark-box estimate) ``x0, y0, x1, y1``.
        size: crop side S.
        enlarge: margin per side (paper: 0.1).

    Returns:
        ``(crop (S, S, 3) uint8, transform)``; ``transform`` maps image -> crop pixels.

    Example:
        >>> crop, t = crop_face(np.zeros((100, 100, 3), np.uint8), [20, 20, 80, 80], 64)
        >>> crop.shape
        (64, 64, 3)
    """
    t = CropTransform.from_box(box, size, enlarge)
    return t.warp(image), t


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
