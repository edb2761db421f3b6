"""What every face detector shares: the :class:`Detection` record, the :class:`FaceDetector`
protocol, the input check, and box helpers.

All coordinates are image pixels, 0-based, a pixel's centre at its integer coordinate (as the
landmarks, see ``docs/CONVENTIONS.md``); boxes are ``(x0, y0, x1, y1)``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Protocol, runtime_checkable

import numpy as np

from lponet_tf.codec.crop import box_from_landmarks
from lponet_tf.codec.image import to_rgb_uint8
from lponet_tf.errors import ImageError

__all__ = ["Detection", "FaceDetector", "as_rgb_uint8", "landmark_box", "box_iou", "box_in_image",
           "shrink_to"]


@dataclasses.dataclass(eq=False)
class Detection:
    """One detected face.

    Attributes:
        box: ``(4,)`` float32 ``x0, y0, x1, y1`` in image pixels.
        score: detector confidence in [0, 1] (1.0 for user-supplied boxes).
        keypoints: ``(K, 2)`` float32 pixel coordinates or None. BlazeFace gives K = 6 in the
            order: the subject's right eye, left eye, nose tip, mouth centre, right ear
            tragion, left ear tragion (the subject's right eye is on the image's left in an
            unmirrored photo; checked against the 300W landmarks in the tests).
        source: name of the detector that produced it; selects the
            :class:`~lponet_tf.detection.BoxMapping` used by
            :func:`~lponet_tf.detection.detection_to_face_box`.

    Example:
        >>> d = Detection([10, 20, 110, 140], 0.9)
        >>> d.width, d.height
        (100.0, 120.0)
    """

    box: np.ndarray
    score: float = 1.0
    keypoints: Optional[np.ndarray] = None
    source: str = ""

    def __post_init__(self):
        # Copies: a Detection owns its arrays, so callers may edit one safely.
        self.box = np.array(self.box, np.float32).reshape(4)
        self.score = float(self.score)
        if self.keypoints is not None:
            self.keypoints = np.array(self.keypoints, np.float32).reshape(-1, 2)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2],
                        np.float32)

    def scaled(self, sx: float, sy: Optional[float] = None) -> "Detection":
        """A copy with coordinates multiplied by ``sx`` (x) and ``sy`` (y, default ``sx``).

        Pixel centres sit at integer coordinates, so scaling maps ``x -> (x + 0.5) * s - 0.5``
        (the same rule as an image resize), not ``x * s``.
        """
        sy = sx if sy is None else sy
        s = np.array([sx, sy, sx, sy], np.float32)
        box = (self.box + 0.5) * s - 0.5
        kps = None if self.keypoints is None else (self.keypoints + 0.5) * s[:2] - 0.5
        return Detection(box, self.score, kps, self.source)

    def __repr__(self) -> str:
        b = ", ".join(f"{v:.1f}" for v in self.box)
        k = "" if self.keypoints is None else f", keypoints={len(self.keypoints)}"
        return f"Detection(box=[{b}], score={self.score:.3f}{k}, source={self.source!r})"


@runtime_checkable
class FaceDetector(Protocol):
    """What :class:`~lponet_tf.FaceAnalyzer` needs from a face detector.

    Any object with this method works (structural typing); it must not keep a reference to
    the image. Detections are returned best score first.
    """

    def detect(self, image: np.ndarray) -> List[Detection]:
        """Faces in an ``(H, W, 3)`` uint8 RGB image."""
        ...


def as_rgb_uint8(image) -> np.ndarray:
    """Validate a detector input and return it as a contiguous ``(H, W, 3)`` uint8 RGB array.

    Gray ``(H, W)`` / ``(H, W, 1)`` is replicated to three channels and RGBA drops alpha
    (the shape rules are the image loader's, :func:`lponet_tf.codec.image.to_rgb_uint8`).
    Unlike the loader, a detector never guesses what other dtypes' values mean, so anything
    but uint8 raises, as does an empty image or 2 or 5+ channels.

    Args:
        image: numpy array.

    Returns:
        ``(H, W, 3)`` uint8 array (the input itself when it already is one).

    Raises:
        ImageError: not a non-empty uint8 array of a supported shape.

    Example:
        >>> as_rgb_uint8(np.zeros((4, 5), np.uint8)).shape
        (4, 5, 3)
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"detector input must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"detector input must be uint8 RGB, got dtype {image.dtype}; "
                         "convert it with lponet_tf.inference.to_rgb_uint8(image, value_range=...)")
    return to_rgb_uint8(image, name="detector input")


#: Tight box ``(x0, y0, x1, y1)`` of landmarks, non-finite rows ignored: the codec's
#: :func:`lponet_tf.codec.crop.box_from_landmarks` (the box the training crops are built from),
#: under the name detection code has always used.
landmark_box = box_from_landmarks


def box_iou(a, b) -> np.ndarray:
    """Intersection over union between boxes ``a (N, 4)`` and ``b (M, 4)`` -> ``(N, M)``.

    Example:
        >>> float(box_iou([0, 0, 2, 2], [1, 0, 3, 2])[0, 0])
        0.3333333432674408
    """
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


#: The IoU at which an analysed face counts as the annotated one (:func:`matching_face`).
FOUND_IOU = 0.5


def matching_face(faces, box, min_iou: float = FOUND_IOU):
    """The face of ``faces`` whose landmarks' box overlaps ``box`` most, and that IoU.

    How an evaluation decides whether an analysed photo found its annotated face (``box``:
    the true landmarks' box): the best-overlapping face counts when the IoU is at least
    ``min_iou``; else the face is missed and ``None`` comes back (with the best IoU seen,
    0.0 for no face). ``faces``: anything with a ``landmarks`` array, e.g. the
    :class:`~lponet_tf.inference.Face` list of ``FaceAnalyzer.analyze``.

    Example:
        >>> import types
        >>> face = types.SimpleNamespace(landmarks=np.array([[10., 10.], [50., 60.]]))
        >>> found, iou = matching_face([face], [10, 10, 50, 60])
        >>> found is face, round(iou, 3)
        (True, 1.0)
    """
    best, best_iou = None, 0.0
    for face in faces:
        iou = float(box_iou(landmark_box(face.landmarks), box)[0, 0])
        if iou > best_iou:
            best, best_iou = face, iou
    return (best if best_iou >= min_iou else None), best_iou


def box_in_image(box, shape) -> bool:
    """Whether ``box`` has a finite positive area that overlaps an image of ``shape``.

    Pixel centres sit at integers, so an image of width W covers ``-0.5 .. W - 0.5``.

    Example:
        >>> box_in_image([10, 10, 50, 50], (40, 40)), box_in_image([45, 0, 60, 9], (40, 40))
        (True, False)
    """
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, np.float64).reshape(4))
    h, w = shape[:2]
    return (all(math.isfinite(v) for v in (x0, y0, x1, y1)) and x1 > x0 and y1 > y0
            and x1 > -0.5 and y1 > -0.5 and x0 < w - 0.5 and y0 < h - 0.5)


def shrink_to(image: np.ndarray, max_side: Optional[int]):
    """Shrink ``image`` (area averaging) so that its longer side is at most ``max_side``.

    Returns:
        ``(image, sx, sy)``: the image (the input itself when it is small enough or
        ``max_side`` is None) and the factors that map original to small coordinates (each
        axis rounded to whole pixels, so ``sx`` and ``sy`` may differ slightly).

    Example:
        >>> small, sx, sy = shrink_to(np.zeros((100, 300, 3), np.uint8), 150)
        >>> small.shape, sx, sy
        ((50, 150, 3), 0.5, 0.5)
    """
    import cv2

    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image, 1.0, 1.0
    s = max_side / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    # INTER_AREA averages whole source blocks: no aliasing on big reductions.
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return small, nw / w, nh / h
