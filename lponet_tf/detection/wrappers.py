"""Detectors that wrap other sources of boxes, and :func:`as_detector`, which turns a loose
specification (None, a name, boxes, a callable, a detector) into a detector.

* :class:`BoxesDetector` -- user-supplied boxes (e.g. from a dataset or another pipeline).
* :class:`CallableDetector` -- wraps any ``fn(image) -> boxes`` (dlib, YuNet, ...), with
  downscaling of huge images and the boxes mapped back.
* :class:`FallbackDetector` -- detectors in order, the first non-empty result.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional

import numpy as np

from lponet_tf.detection.base import Detection, FaceDetector, as_rgb_uint8, box_in_image, shrink_to
from lponet_tf.detection.blazeface import BLAZE_MODELS, BlazeFaceDetector
from lponet_tf.detection.confirm import ConfirmedDetector
from lponet_tf.detection.zoom_out import ZoomOutDetector

__all__ = ["BoxesDetector", "CallableDetector", "FallbackDetector", "as_detector",
           "confirmed_zoom", "DEFAULT_DETECTOR"]

#: Name of the detector :func:`as_detector` builds for ``None``: the back model with
#: low-score detections confirmed by the short one (:class:`ConfirmedDetector`), and, when that
#: finds no face scoring >= :data:`ZOOM_PASS_BELOW`, a zoom-out pass (:class:`ZoomOutDetector`)
#: that keeps only faces both models see; chosen by the masked-face measurements in
#: ``docs/detection.md``.
DEFAULT_DETECTOR = "blazeface_confirmed_zoom"
#: The zoom-out pass of ``blazeface_confirmed_zoom``: every back-model detection >= 0.6 needs
#: the short model's agreement at 0.5 (a face-free image always reaches this pass; at these
#: constants it added no false positive on the 2,246 face-free images of the benchmark).
ZOOM_PASS = dict(accept=1.0, low=0.6, confirm_threshold=0.5, small_face=0.0)
#: The zoom-out pass runs when the first pass has no face scoring at least this (on a close-up
#: the back model often returns part of the face at a low score).
ZOOM_PASS_BELOW = 0.8


#: Smallest ``max_side`` of :class:`CallableDetector`: below it no detector sees a face.
MIN_MAX_SIDE = 32


def _to_detections(result, source: str, skip_degenerate: bool = False) -> List[Detection]:
    """Normalise what a user detector returns: Detections, or an array-like of rows
    ``x0, y0, x1, y1[, score]``.

    ``skip_degenerate``: a row with NaN / inf or without area is left out (a detector's
    output: one odd box must not lose the image's other faces) instead of refused (boxes a
    user gave, each meant as a face)."""
    if result is None:
        return []
    if isinstance(result, Detection):
        result = [result]
    if (isinstance(result, (list, tuple)) and result
            and all(isinstance(r, Detection) for r in result)):
        return [r if r.source else dataclasses.replace(r, source=source) for r in result]
    try:
        arr = np.asarray(result, np.float32)
    except (TypeError, ValueError) as exc:  # a generator, ragged rows, strings
        raise ValueError(f"boxes must be (N, 4) or (N, 5) numbers [x0, y0, x1, y1, score], "
                         f"got {type(result).__name__} ({exc})") from None
    if arr.size == 0:
        return []
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] not in (4, 5):
        raise ValueError(f"boxes must be (N, 4) or (N, 5) [x0, y0, x1, y1, score], got {arr.shape}")
    finite = np.all(np.isfinite(arr), axis=1)
    area = finite & (arr[:, 2] > arr[:, 0]) & (arr[:, 3] > arr[:, 1])
    if skip_degenerate:
        arr = arr[area]
    else:
        bad = np.flatnonzero(~finite)
        if bad.size:
            raise ValueError(f"boxes[{bad[0]}] = {arr[bad[0]].tolist()} contains NaN or inf")
        bad = np.flatnonzero(~area)
        if bad.size:
            raise ValueError(f"boxes[{bad[0]}] = {arr[bad[0]].tolist()} has no area: boxes must "
                             "satisfy x1 > x0 and y1 > y0 (format x0, y0, x1, y1)")
    scores = arr[:, 4] if arr.shape[1] == 5 else np.ones(len(arr), np.float32)
    return [Detection(b[:4], s, None, source) for b, s in zip(arr, scores)]


#: An image whose sides both exceed this, with every box inside ``[0, NORMALISED_MAX]``:
#: the boxes are fractions of the image (MediaPipe's relative boxes), not pixels.
NORMALISED_MAX = 1.5


def check_pixel_boxes(dets: List[Detection], shape) -> None:
    """Refuse boxes given as fractions of the image: analysed as pixels they would be a
    one-pixel crop in the corner, which still yields a (meaningless) face.

    Raises:
        ValueError: every box lies within ``[0, 1.5]`` on an image larger than 16 px.
    """
    if dets and min(shape[:2]) > 16 and all(
            np.all(np.abs(d.box) <= NORMALISED_MAX) for d in dets):
        raise ValueError(f"boxes {[d.box.tolist() for d in dets[:2]]} look like fractions of "
                         f"the image; give pixels x0, y0, x1, y1 (multiply by the "
                         f"{shape[1]} x {shape[0]} image's width and height)")


class BoxesDetector:
    """Returns fixed, user-supplied boxes for every image (no detection is run).

    Use it when boxes come from a dataset or from another system. By default the boxes are
    taken to be landmark boxes already (``source="boxes"``, identity mapping in
    :func:`detection_to_face_box`); pass ``source`` naming a registered mapping (e.g.
    ``"blazeface_short"``) when they come from such a detector.

    Args:
        boxes: ``(N, 4)`` ``x0, y0, x1, y1`` or ``(N, 5)`` with a score column, in pixels.
        source: mapping key for :func:`detection_to_face_box`.

    Raises:
        ValueError: malformed boxes (wrong shape, NaN, x1 <= x0); from :meth:`detect`, a
            box that lies entirely outside the image (no face can be there, and a result
            for it would look like a confident face).

    Example:
        >>> BoxesDetector([[10, 10, 60, 70]]).detect(np.zeros((100, 100, 3), np.uint8))
        [Detection(box=[10.0, 10.0, 60.0, 70.0], score=1.000, source='boxes')]
    """

    def __init__(self, boxes, source: str = "boxes"):
        self.source = source
        self._dets = _to_detections(boxes, source)

    def detect(self, image: np.ndarray) -> List[Detection]:
        image = as_rgb_uint8(image)  # same input contract as a real detector
        check_pixel_boxes(self._dets, image.shape)
        for i, d in enumerate(self._dets):
            if not box_in_image(d.box, image.shape):
                raise ValueError(
                    f"boxes[{i}] = {d.box.tolist()} lies entirely outside the "
                    f"{image.shape[1]} x {image.shape[0]} image (format x0, y0, x1, y1, pixels)")
        return [dataclasses.replace(d) for d in self._dets]


class CallableDetector:
    """Wraps any ``fn(image) -> boxes`` as a :class:`FaceDetector`.

    ``fn`` gets the (possibly downscaled) ``(H, W, 3)`` uint8 RGB image and returns a list of
    :class:`Detection` or an array-like of rows ``x0, y0, x1, y1[, score]``. Images whose
    longer side exceeds ``max_side`` are shrunk first (most detectors' cost grows with the
    pixel count, and an 8000x8000 photo does not need full resolution to find faces); the
    boxes and keypoints are mapped back to the original pixels.

    Args:
        fn: the detector function.
        max_side: longest side given to ``fn`` (None: never shrink).
        source: mapping key for :func:`detection_to_face_box` (default ``"callable"``:
            identity, unless you :func:`register_box_mapping` one).

    Example:
        >>> import dlib                                               # doctest: +SKIP
        >>> hog = dlib.get_frontal_face_detector()                    # doctest: +SKIP
        >>> det = CallableDetector(lambda im: [[r.left(), r.top(), r.right(), r.bottom()]
        ...                                    for r in hog(im, 1)], source="dlib_hog")
    """

    def __init__(self, fn: Callable[[np.ndarray], object], max_side: Optional[int] = 1600,
                 source: str = "callable"):
        if not callable(fn):
            raise TypeError(f"CallableDetector needs a callable, got {type(fn).__name__}")
        if max_side is not None and (isinstance(max_side, bool) or int(max_side) != max_side
                                     or max_side < MIN_MAX_SIDE):
            raise ValueError(f"max_side must be a whole number >= {MIN_MAX_SIDE} (or None), "
                             f"got {max_side}")
        self.fn, self.max_side, self.source = fn, max_side, source

    def detect(self, image: np.ndarray) -> List[Detection]:
        image = as_rgb_uint8(image)
        small, sx, sy = shrink_to(image, self.max_side)
        dets = _to_detections(self.fn(small), self.source, skip_degenerate=True)
        check_pixel_boxes(dets, small.shape)
        if sx != 1.0 or sy != 1.0:
            dets = [d.scaled(1.0 / sx, 1.0 / sy) for d in dets]
        return sorted(dets, key=lambda d: -d.score)


class FallbackDetector:
    """Runs detectors in order and returns the first non-empty result.

    ``FallbackDetector(BlazeFaceDetector("short"), BlazeFaceDetector("back"))`` (the
    ``"blazeface_auto"`` of :func:`as_detector`) costs the 2 ms short-range model on a selfie
    or a face crop and only pays for the back model when the face is too small for the first.
    It stops at the first hit, so in a group photo where the short model finds the large faces
    the small ones are lost: for that, use the back model alone (the default). Each detection
    keeps its own ``source``, so :func:`detection_to_face_box` still applies the right mapping.

    Args:
        *detectors: two or more :class:`FaceDetector`.

    Example:
        >>> det = FallbackDetector(BlazeFaceDetector("short"),
        ...                        BlazeFaceDetector("back"))  # doctest: +SKIP
    """

    def __init__(self, *detectors: FaceDetector):
        if not detectors:
            raise ValueError("FallbackDetector needs at least one detector")
        self.detectors = tuple(as_detector(d) for d in detectors)

    def detect(self, image: np.ndarray) -> List[Detection]:
        image = as_rgb_uint8(image)
        for det in self.detectors:
            found = det.detect(image)
            if found:
                return found
        return []


def confirmed_zoom(back, short) -> ZoomOutDetector:
    """``blazeface_confirmed_zoom`` (the default) on the given two BlazeFace models: ``back``
    confirmed by ``short``, then the zoom-out pass of :data:`ZOOM_PASS` with the same models,
    on the border :data:`~lponet_tf.detection.zoom_out.ZOOM_OUT_PAD` (the detector's default)."""
    return ZoomOutDetector(ConfirmedDetector(back, short), ConfirmedDetector(back, short, **ZOOM_PASS),
                           rerun_below=ZOOM_PASS_BELOW)


def detector_names() -> list:
    """The names :func:`as_detector` accepts (each also without ``blazeface_``).

    Example:
        >>> "blazeface_confirmed_zoom" in detector_names()
        True
    """
    return sorted("blazeface_" + k for k in [*BLAZE_MODELS, "auto", "confirmed", "confirmed_zoom"])


def as_detector(spec=None) -> FaceDetector:
    """Build a detector from a loose specification.

    Args:
        spec: ``None`` (the default detector, :data:`DEFAULT_DETECTOR`); a name
            (``"blazeface_short"``, ``"blazeface_full"``, ``"short"``, ``"full"``, ...);
            ``"blazeface_auto"`` (short range, then the back model when nothing is found);
            ``"blazeface_confirmed"`` (the back model, its low-score detections confirmed by
            the short one, :class:`ConfirmedDetector`); ``"blazeface_confirmed_zoom"`` (the
            default: that, then a zoom-out pass when it finds no face scoring >= 0.8,
            :class:`ZoomOutDetector` with :data:`ZOOM_PASS`); an object with ``detect``; boxes ``(N, 4|5)`` (-> :class:`BoxesDetector`); or a
            callable (-> :class:`CallableDetector`).

    Returns:
        a :class:`FaceDetector`.

    Raises:
        ValueError: an unknown name.
        TypeError: anything else.

    Example:
        >>> type(as_detector([[0, 0, 10, 10]])).__name__
        'BoxesDetector'
    """
    if spec is None:
        spec = DEFAULT_DETECTOR
    if isinstance(spec, str):
        name = spec[len("blazeface_"):] if spec.startswith("blazeface_") else spec
        if name in BLAZE_MODELS:
            return BlazeFaceDetector(name)
        if name == "auto":
            return FallbackDetector(BlazeFaceDetector("short"), BlazeFaceDetector("back"))
        if name in ("confirmed", "confirmed_zoom"):
            back, short = BlazeFaceDetector("back"), BlazeFaceDetector("short")
            if name == "confirmed":
                return ConfirmedDetector(back, short)
            return confirmed_zoom(back, short)
        raise ValueError(f"unknown detector {spec!r}; known: {detector_names()}")
    if isinstance(spec, type):  # the Protocol check would accept a detector class itself
        raise TypeError(f"give a detector instance, e.g. {spec.__name__}(...), not the class")
    if isinstance(spec, FaceDetector):
        return spec
    if isinstance(spec, (np.ndarray, list, tuple)):
        return BoxesDetector(spec)
    if callable(spec):
        return CallableDetector(spec)
    raise TypeError(f"cannot make a face detector from {type(spec).__name__}")
