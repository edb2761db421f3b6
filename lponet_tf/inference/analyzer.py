"""``FaceAnalyzer``: image in, faces out (landmarks, visibility, head pose, visible-face mask).

Shaped like MediaPipe's task API::

    analyzer = FaceAnalyzer.create()                      # bundled default preset
    faces = analyzer.analyze("photo.jpg")                 # list[Face], [] when no face
    analyzer = FaceAnalyzer.create(FaceAnalyzerOptions(model="lponet_lite.tflite", threads=2))

Pipeline per image (the face codec, :mod:`lponet_tf.codec`: the crop of training and evaluation):

1. the input is normalised to RGB uint8 (:mod:`lponet_tf.codec.image`);
2. a detector finds faces (default BlazeFace, :mod:`lponet_tf.detection`; it
   downscales large images itself), or the caller gives boxes;
3. each detection becomes a landmark-box estimate (:func:`detection_to_face_box`: detector
   boxes are not the tight landmark boxes the network was trained on), which is enlarged
   10% per side and made square -> an ``S x S`` crop (:func:`lponet_tf.codec.crop.crop_face`,
   the crop of training, evaluation and export too);
4. all crops of the image go through the model in one batch (Keras, LiteRT or
   onnxruntime, :func:`lponet_tf.runtime.load_runner`);
5. the outputs are decoded (:mod:`lponet_tf.codec.decode`; heatmaps by DARK sub-pixel
   decoding, or the paper's top-2 rule with ``decode="top2"``) and mapped back to image
   pixels; the pose is the rotation (6D head) or Euler output; each landmark's visibility
   is the visible-face probability of the occlusion mask, bilinearly sampled at the
   landmark on the S/4 grid;
6. a confident face whose landmarks disagree with the box it was cropped from is analysed
   again on its own landmark box (``refine``; one more batch, only for those faces), until
   they agree, at most ``REFINE_PASSES`` (3) times;
7. when the detector found nothing, its best low-score candidates are analysed and kept
   where the network sees a confident, partly hidden face (``candidate_check``,
   :mod:`lponet_tf.inference.candidate_check`).

Video (:meth:`FaceAnalyzer.track`, :meth:`FaceAnalyzer.analyze_video`) lives in
:mod:`lponet_tf.inference.video`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from lponet_tf.codec.crop import (DEFAULT_ENLARGE, CropTransform, box_from_landmarks, crop_face,
                                  square_box)
from lponet_tf.codec.decode import DecodeSettings, decode_face, sample_grid
from lponet_tf.codec.image import check_value_range, to_rgb_uint8
from lponet_tf.errors import ClosedError, ModelFileError
from lponet_tf.heatmaps import DECODERS
from lponet_tf.inference.candidate_check import (CANDIDATE_SCORE, candidate_model, distinct_faces,
                                                 is_occluded_face, low_score_candidates)
from lponet_tf.inference.face import Face
from lponet_tf.detection import (
    BlazeFaceDetector, BoxesDetector, ConfirmedDetector, Detection, FallbackDetector,
    ZoomOutDetector, as_detector, box_in_image, box_iou, detection_to_face_box,
)

__all__ = ["FaceAnalyzerOptions", "Face", "FaceAnalyzer", "AnalyzerClosedError", "sample_grid"]

BACKENDS = ("auto", "keras", "tflite", "onnx")


class AnalyzerClosedError(ClosedError):
    """A :class:`FaceAnalyzer` used after :meth:`FaceAnalyzer.close`."""

#: With ``refine``, a face is analysed again when the box of its landmarks overlaps the box
#: its crop came from by less than this (``FaceAnalyzerOptions.refine_iou``). Measured on
#: the 195 validation faces (stage-5 weights), end-to-end NME ordinary / masked and network
#: runs per image: 0.8: 3.554 / 5.227% (1.11 / 1.50 runs), 0.85: 3.535 / 5.115% (1.30 /
#: 1.92), 0.9: 3.542 / 5.038% (1.61 / 2.34), 0.95: 3.551 / 4.977% (2.09 / 2.81); masked faces
#: found 96.9% at 0.8, 97.9% above (docs/inference.md). 0.9 takes most of the masked gain.
REFINE_IOU = 0.9
#: At most this many such passes per face. A masked face's first landmarks can be far off
#: its detector box, and one pass on their box does not always reach the face: on the
#: Masked-300W validation faces up to 3 passes took the end-to-end NME from 5.62% to 5.48%
#: (one more face found; unmasked faces stop after one pass and do not change;
#: docs/inference.md). More than 3 changed nothing.
REFINE_PASSES = 3
#: A face whose mean landmark score is below this is not refined: its landmarks are not
#: trusted to give a better box. (Until 2026-12-05 this was ``min_tracking_confidence``,
#: whose default was this value; the refinement figures were measured with it.)
REFINE_MIN_CONFIDENCE = 0.2
#: Default ``FaceAnalyzerOptions.min_tracking_confidence``. On the 195 validation faces, each
#: analysed on its own landmark box (what ``track()`` does between detections), the mean
#: landmark score is at least 0.59 bare, 0.53 / 0.42 / 0.40 with training-style / ``plain`` /
#: ``round`` masks; on 333 face-free crops of the same photos and blank frames it is at most
#: 0.40, 0.31 for 99% of them (``benchmarks/bench_tracking_confidence.py``,
#: docs/inference.md "Video"). The old default, 0.2, kept such crops as faces: a face that
#: left the frame went on being tracked on the background.
TRACKING_MIN_CONFIDENCE = 0.35


@dataclasses.dataclass
class FaceAnalyzerOptions:
    """How :meth:`FaceAnalyzer.create` builds an analyzer.

    Attributes:
        model: a ``.keras`` / ``.tflite`` / ``.onnx`` file, an in-memory Keras LPONet, or a
            runner (:func:`lponet_tf.runtime.load_runner`); None: the ``preset``.
        preset: preset name used when ``model`` is None (its bundled weights are loaded).
        backend: ``"auto"`` (from the file), ``"keras"``, ``"tflite"`` or ``"onnx"``.
        threads: CPU threads of the backend (None: its default).
        detector: None (``lponet_tf.detection.DEFAULT_DETECTOR``,
            ``"blazeface_confirmed_zoom"``: the BlazeFace back model, its low-score
            detections, such as masked faces, kept when the short-range model agrees, and a
            second look at the image inside a wide border when no face scores >= 0.8 (faces that
            fill the frame); chosen by the measurements in ``docs/detection.md``), a detector name (``"blazeface_back"``,
            ``"blazeface_short"``, ``"blazeface_auto"``, ...), a :class:`FaceDetector`, or a
            callable ``image -> boxes`` (:class:`CallableDetector`).
        score_threshold: detections below this confidence are dropped; None: the
            detector's own threshold (BlazeFace's, chosen per model in
            ``docs/detection.md``). A BlazeFace built from a name (the default's back
            model included) takes this value itself, so a lower one finds more faces.
        max_faces: at most this many faces per image (best scores first).
        rgb: channel order of numpy inputs: True RGB(A), False BGR(A) (OpenCV frames).
        value_range: ``(lo, hi)`` of numpy inputs' values, mapped onto 0..255; None: from
            the dtype (uint8 0..255, uint16 0..65535, float 0..1, never guessed from the
            values; :mod:`lponet_tf.codec.image`), e.g. ``(0, 255)`` for float
            frames that hold 8-bit values, ``(-1, 1)`` for normalised ones.
        smoothing: :meth:`FaceAnalyzer.track` smooths landmarks and pose over time with
            One-Euro filters. :meth:`FaceAnalyzer.analyze` (single images) never smooths.
        detect_every: in :meth:`FaceAnalyzer.track`, run the detector at least every this
            many frames (to pick up new faces); in between, each face's box comes from its
            landmarks in the previous frame.
        zoom_out_every: in :meth:`FaceAnalyzer.track`, while no face is tracked, a frame
            in which the detector's first pass finds nothing gets the zoom-out pass
            (:class:`lponet_tf.detection.ZoomOutDetector`, part of the default detector) on
            the first such frame and then on one in this many (1, the default: on every
            frame); after unsure faces it always runs. Such a frame pays both passes, about
            twice the detector's time; with 3, a third less CPU on face-free frames, and a
            masked face that fills the frame, which often only the second pass finds, is found
            later (measured in ``docs/inference.md``, "Video"). Other detectors are not
            affected.
        min_tracking_confidence: a face whose mean landmark score (heatmap peak / omega,
            the model's heatmap scale, 60) falls below this in :meth:`FaceAnalyzer.track`
            is lost, and the detector runs again (default :data:`TRACKING_MIN_CONFIDENCE`,
            measured). Refinement has its own gate, :data:`REFINE_MIN_CONFIDENCE`.
        refine: analyse a face again on its own landmark box when its landmarks disagree
            with the box its crop came from: the detector's box in :meth:`FaceAnalyzer.analyze`,
            the previous frame's landmark box in :meth:`FaceAnalyzer.track` (a face that
            moved); see :meth:`FaceAnalyzer.refine_faces`.
        refine_iou: with ``refine``, "disagree" means the box of the landmarks overlaps the
            box the crop came from by less than this IoU (in (0, 1]; default
            :data:`REFINE_IOU`). Higher refines more faces: more accurate on masked faces,
            more network runs (measured in ``docs/inference.md``).
        flip_tta: flip test-time augmentation: each crop also runs mirrored and the two
            results are averaged (:mod:`lponet_tf.inference.flip_tta`; twice the network
            time, gain measured in ``docs/inference.md``). Off by default.
        flip_label_x_offset: with ``flip_tta``, the model's label x offset in input pixels,
            which the mirrored run turns around; None: the bundled preset's measured value
            for the bundled model, 0 for other models
            (:func:`lponet_tf.inference.flip_tta.default_label_x_offset`).
        candidate_check: when the detector finds no face in an image, analyse the BlazeFace
            back model's best low-score candidates and keep those the network sees as a
            confident, partly hidden face (:mod:`lponet_tf.inference.candidate_check`:
            masked faces the detector scores too low; measured gain and false positives in
            ``docs/detection.md``). Runs only with a detector that contains that model (the
            default does); in :meth:`FaceAnalyzer.track` see ``candidate_check_every``.
        candidate_check_every: in :meth:`FaceAnalyzer.track`, while no face is tracked, the
            candidate check runs on the first frame in which the detector finds nothing and
            then on one such frame in this many: it costs several network runs (about 6x
            the detector's CPU on a face-free frame), and a face that stays in view is
            found a few frames later instead (measured in ``docs/inference.md``, "Video").
        decode: heatmap decoding rule, ``"dark"`` (sub-pixel, Zhang et al. 2020) or
            ``"top2"`` (the paper's rule, Section IV-B); None: the model metadata's rule,
            else ``"dark"`` (:class:`lponet_tf.codec.decode.DecodeSettings`).

    Example:
        >>> FaceAnalyzerOptions(max_faces=2).backend
        'auto'
    """

    model: Any = None
    preset: str = "lponet_lite"
    backend: str = "auto"
    threads: Optional[int] = None
    detector: Any = None
    score_threshold: Optional[float] = None
    max_faces: int = 10
    rgb: bool = True
    value_range: Optional[Tuple[float, float]] = None
    smoothing: bool = True
    detect_every: int = 10
    zoom_out_every: int = 1
    min_tracking_confidence: float = TRACKING_MIN_CONFIDENCE
    refine: bool = True
    refine_iou: float = REFINE_IOU
    flip_tta: bool = False
    flip_label_x_offset: Optional[float] = None
    candidate_check: bool = True
    candidate_check_every: int = 10
    decode: Optional[str] = None

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        # Checked here, with types: a "3" or 2.5 would otherwise fail deep inside analyze().
        for name in ("max_faces", "detect_every", "zoom_out_every", "candidate_check_every"):
            _whole_number(name, getattr(self, name))
        if self.threads is not None:
            _whole_number("threads", self.threads, "or None")
        for name in ("rgb", "smoothing", "refine", "flip_tta", "candidate_check"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.score_threshold is not None:
            _in_range("score_threshold", self.score_threshold, 0.0, 1.0, "[0, 1]")
        _in_range("min_tracking_confidence", self.min_tracking_confidence, 0.0, 1.0, "[0, 1]")
        _in_range("refine_iou", self.refine_iou, 0.0, 1.0, "(0, 1]", low_open=True)
        self.value_range = check_value_range(self.value_range)
        if self.flip_label_x_offset is not None and not (
                _is_real(self.flip_label_x_offset) and np.isfinite(self.flip_label_x_offset)):
            raise ValueError(f"flip_label_x_offset must be a finite number of pixels or None, "
                             f"got {self.flip_label_x_offset!r}")
        if self.decode is not None and self.decode not in DECODERS:
            raise ValueError(f"decode must be one of {DECODERS} or None, got {self.decode!r}")


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def _whole_number(name: str, value, also: str = "") -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1{' ' + also if also else ''}, "
                         f"got {value!r}")


def _in_range(name: str, value, low: float, high: float, shown: str, low_open: bool = False) -> None:
    ok = _is_real(value) and (low < value if low_open else low <= value) and value <= high
    if not ok:
        raise ValueError(f"{name} must be a number in {shown}, got {value!r}")


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def _is_runner(obj) -> bool:
    return callable(obj) and hasattr(obj, "metadata") and not hasattr(obj, "lponet_config")


def _load_runner(options: FaceAnalyzerOptions):
    from lponet_tf.runtime import load_runner

    if _is_runner(options.model):
        return options.model
    if options.model is not None:
        return load_runner(options.model, backend=options.backend, threads=options.threads)
    from lponet_tf.presets import PresetError, from_preset, get_preset

    preset = get_preset(options.preset)  # unknown name: PresetError listing the presets
    # The bundled TFLite export runs through LiteRT without importing TensorFlow: the first
    # face in about a second instead of 15-20 s. backend="keras" keeps the Keras model.
    bundled = preset.bundled_tflite() if options.backend in ("auto", "tflite") else None
    if bundled is not None:
        return load_runner(str(bundled), backend="tflite", threads=options.threads)
    if options.backend not in ("auto", "keras"):
        has_tflite = preset.bundled_tflite() is not None
        raise ValueError(
            f"preset {preset.name!r} runs on " + (
                f"its bundled .tflite (backend tflite) or the keras backend, not "
                f"{options.backend!r}" if has_tflite else
                f"the keras backend only (it has no up-to-date bundled .tflite), not "
                f"{options.backend!r}") +
            f": for {options.backend}, export it with `lponet export` and pass the file as "
            "model=... (--model)"
        )
    if not preset.has_weights:
        why = ("its bundled weights file is missing; reinstall lponet-tf" if preset.weights_path
               else "it is an architecture without trained weights (train it: lponet train)")
        raise ModelFileError(
            preset.weights_path or preset.name,
            f"preset {preset.name!r}: {why}, or give a model file "
            "(FaceAnalyzerOptions(model=...) / --model)",
        )
    try:
        model = from_preset(options.preset)
    except (PresetError, OSError, ValueError) as exc:
        raise ModelFileError(preset.weights_path, f"cannot load the preset's weights: {exc}") from exc
    return load_runner(model, threads=options.threads, preset=options.preset)


def _build_detector(options: FaceAnalyzerOptions):
    detector = as_detector(options.detector)
    # BlazeFace instances we build take the options' threshold (they filter before NMS, so
    # a lower threshold there finds more faces than filtering afterwards could).
    built, todo = [], [detector]
    while todo:  # the wrappers' models (a zoom-out pass wraps confirmed detectors)
        d = todo.pop()
        if isinstance(d, (FallbackDetector, ConfirmedDetector, ZoomOutDetector)):
            todo.extend(d.detectors)
        else:
            built.append(d)
    if options.score_threshold is not None and (
            options.detector is None or isinstance(options.detector, str)):
        for d in built:
            if isinstance(d, BlazeFaceDetector):
                d.score_threshold = float(options.score_threshold)
    return detector


# --------------------------------------------------------------------------------------
# The analyzer
# --------------------------------------------------------------------------------------
class FaceAnalyzer:
    """Landmarks, visibility, head pose and visible-face mask for every face of an image.

    Build it with :meth:`create`; reusable for any number of images. Thread safety:
    :meth:`analyze` (and ``detect``, ``find_faces``, ``analyze_detections``, ``analyze_boxes``,
    ``refine_faces``, :meth:`analyze_video`) may be called from several threads at once and
    give exactly the serial results: the library's runners and BlazeFace detectors take turns
    on a lock per model (a runner or detector callable you pass yourself must be thread-safe
    too). :meth:`track` follows one video (its state, smoothing included, is shared by
    the analyzer; :meth:`reset` clears it): feed it from one thread, and give each other
    stream its own :class:`~lponet_tf.inference.video.TrackingSession` (``analyze_video``
    does). For parallel inference on several cores, use one analyzer per thread. Forked
    worker processes may use an analyzer made before the fork (each renews its locks and
    interpreters: :mod:`lponet_tf.after_fork`); it does not pickle.

    Args:
        runner: a model runner (``runner(crops) -> outputs``, ``runner.metadata``).
        detector: a :class:`FaceDetector`.
        options: the :class:`FaceAnalyzerOptions` it was built from.

    Example:
        >>> analyzer = FaceAnalyzer.create()                          # doctest: +SKIP
        >>> for face in analyzer.analyze("group.jpg"):                # doctest: +SKIP
        ...     print(face.box, face.pose, face.visibility.mean())
    """

    def __init__(self, runner, detector, options: FaceAnalyzerOptions):
        self.runner = runner
        self.detector = detector
        self._closed = False
        self.options = options
        self.input_size = int(runner.metadata.input_size)
        #: How heatmaps are read: the model's metadata (heatmap scale, sigma, stride) and
        #: ``options.decode`` (None: the default rule, DARK).
        self.decode_settings = DecodeSettings.from_metadata(runner.metadata, options.decode)
        self._session = None
        self._candidate_model = candidate_model(detector) if options.candidate_check else None

    @classmethod
    def create(cls, options: Optional[FaceAnalyzerOptions] = None, **overrides) -> "FaceAnalyzer":
        """Build an analyzer.

        Args:
            options: a :class:`FaceAnalyzerOptions`; None: the defaults (the bundled
                ``lponet_lite`` preset with its weights, BlazeFace detection).
            **overrides: option fields to change, e.g. ``model="m.tflite", threads=2``.

        Returns:
            A :class:`FaceAnalyzer`.

        Raises:
            ModelFileError: the model file (or the preset's bundled weights) is missing,
                corrupt or not an LPONet; the message names the file.
            ValueError: invalid options.

        Example:
            >>> analyzer = FaceAnalyzer.create(model="lponet_lite.onnx")   # doctest: +SKIP
        """
        options = options or FaceAnalyzerOptions()
        if overrides:
            options = dataclasses.replace(options, **overrides)
        detector = _build_detector(options)  # first: cheap, and a bad name fails fast
        runner = _load_runner(options)
        if options.flip_tta:
            from lponet_tf.inference.flip_tta import FlipTTARunner, default_label_x_offset

            offset = options.flip_label_x_offset
            if offset is None:
                offset = default_label_x_offset(options.model, options.preset)
            runner = FlipTTARunner(runner, label_x_offset=offset)
        return cls(runner, detector, options)

    @property
    def metadata(self):
        """The model's :class:`~lponet_tf.metadata.ModelMetadata`."""
        return self.runner.metadata

    # -- single images ----------------------------------------------------------------
    def analyze(self, image, boxes=None) -> List[Face]:
        """Analyse every face of one image.

        Args:
            image: numpy array (RGB, or BGR with ``options.rgb=False``; uint8, uint16 or
                float 0..1, other ranges with ``options.value_range``; gray / RGBA
                converted), a file path or encoded bytes.
            boxes: optional ``(N, 4)`` face boxes ``x0, y0, x1, y1`` (or ``(N, 5)`` with a
                score) to use instead of the detector: tight boxes around the face's
                landmarks (chin to brows, ear to ear), as in the training crops.

        Returns:
            list of :class:`Face`, best detection score first; ``[]`` when there is none.

        Raises:
            ImageError: an input that cannot be read as an image (named in the message).
            ValueError: malformed ``boxes`` (wrong shape, NaN / inf, no area) or a box
                entirely outside the image; the message names the box.
        """
        rgb = to_rgb_uint8(image, rgb=self.options.rgb, value_range=self.options.value_range)
        if boxes is not None:
            return self.analyze_detections(rgb, BoxesDetector(boxes).detect(rgb))
        return self.find_faces(rgb)

    def find_faces(self, rgb: np.ndarray, zoom_out_when_empty: bool = True,
                   check_candidates: bool = True) -> List[Face]:
        """The faces of ``rgb`` (``(H, W, 3)`` uint8 RGB) from the detector: :meth:`detect`,
        then :meth:`analyze_detections`; when the detector returns nothing, the candidate
        check (``options.candidate_check``; ``check_candidates=False`` skips it, as
        ``zoom_out_when_empty=False`` skips the zoom-out pass: :meth:`track`'s cadences on
        face-free frames)."""
        detections = self.detect(rgb, zoom_out_when_empty=zoom_out_when_empty)
        if detections or not check_candidates or self._candidate_model is None:
            # one face per person: on a close-up the detector may also box the lower half
            # of the face, and the refinement takes both boxes onto the same face
            return distinct_faces(self.analyze_detections(rgb, detections), by_confidence=False)
        low = max(CANDIDATE_SCORE, self.options.score_threshold or 0.0)
        candidates = low_score_candidates(self._candidate_model, rgb, low)
        faces = [f for f in self.analyze_detections(rgb, candidates) if is_occluded_face(f)]
        return distinct_faces(faces)[: self.options.max_faces]

    def detect(self, rgb: np.ndarray, zoom_out_when_empty: bool = True) -> List[Detection]:
        """The detector's faces above ``score_threshold``, best first, at most ``max_faces``.

        ``zoom_out_when_empty=False``: a :class:`ZoomOutDetector` (the default detector)
        whose first pass finds nothing returns nothing, without its second pass
        (:meth:`ZoomOutDetector.detect`); other detectors run as they are."""
        self._check_open()
        # None: the detector's own threshold, whatever its scores' scale (dlib's margins
        # may be negative); a number applies to every detection.
        threshold = self.options.score_threshold
        if isinstance(self.detector, ZoomOutDetector):
            raw = self.detector.detect(rgb, when_empty=zoom_out_when_empty)
        else:
            raw = self.detector.detect(rgb)
        found = [d for d in raw
                 if (threshold is None or d.score >= threshold) and np.all(np.isfinite(d.box))]
        found.sort(key=lambda d: -d.score)
        return found[: self.options.max_faces]

    def analyze_detections(self, rgb: np.ndarray, detections: Sequence[Detection]) -> List[Face]:
        """Faces for detections of ``rgb`` (``(H, W, 3)`` uint8 RGB).

        Each detection box is mapped with :func:`detection_to_face_box` and analysed
        (:meth:`analyze_boxes`), then refined (:meth:`refine_faces`): a detector box that
        maps badly (an unusual face, a detector without a fitted mapping) then costs one
        more inference instead of landmark accuracy.
        """
        faces = self.analyze_boxes(rgb, [detection_to_face_box(d) for d in detections],
                                   [d.score for d in detections])
        return self.refine_faces(rgb, faces)

    def refine_faces(self, rgb: np.ndarray, faces: Sequence[Face]) -> List[Face]:
        """``faces`` of ``rgb`` (from :meth:`analyze_boxes`), each analysed again on its own
        landmark box where it disagrees with the box its crop came from.

        With ``options.refine`` (else ``faces`` unchanged), a confident face whose landmarks
        disagree with ``face.box`` (IoU of their tight box with it below
        ``options.refine_iou``) is analysed once more on the crop of its own landmark box,
        i.e. the training crop exactly. A face whose landmarks still disagree with the new box
        goes round again, at most :data:`REFINE_PASSES` times in all. :meth:`analyze` refines
        the faces of detector boxes; :meth:`track` those of the previous frame's landmark
        boxes, so that a face that moved far enough for that crop to cut it is followed
        instead of its landmarks collapsing into the crop.
        """
        faces = list(faces)
        if not self.options.refine:
            return faces
        for _ in range(REFINE_PASSES):
            # A landmark box outside the image would be skipped and misalign faces and redo.
            redo = [i for i, f in enumerate(faces) if self._needs_refining(f)
                    and box_in_image(box_from_landmarks(f.landmarks), rgb.shape)]
            if not redo:
                break
            again = self.analyze_boxes(rgb, [box_from_landmarks(faces[i].landmarks) for i in redo],
                                       [faces[i].score for i in redo])
            for i, face in zip(redo, again):
                faces[i] = face
        return faces

    def _needs_refining(self, face: Face) -> bool:
        if face.confidence < REFINE_MIN_CONFIDENCE:
            return False  # its landmarks are not trusted to give a better box
        if not np.all(np.isfinite(face.landmarks)):
            return False
        iou = float(box_iou(face.box, box_from_landmarks(face.landmarks))[0, 0])
        return iou < self.options.refine_iou

    def analyze_boxes(self, rgb: np.ndarray, boxes, scores=None) -> List[Face]:
        """Run the network on landmark-box estimates of ``rgb``, all faces in one batch.

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB.
            boxes: N landmark-box estimates ``x0, y0, x1, y1``.
            scores: N detector scores (default 1.0).

        Returns:
            a :class:`Face` per box; boxes with no finite area, or entirely outside the
            image, are skipped (nothing of a face can be seen there).
        """
        self._check_open()
        boxes = [np.asarray(b, np.float32).reshape(4) for b in boxes]
        scores = [1.0] * len(boxes) if scores is None else list(scores)
        keep = [i for i, b in enumerate(boxes) if box_in_image(b, rgb.shape)]
        if not keep:
            return []
        crops, transforms = zip(*(crop_face(rgb, boxes[i], self.input_size) for i in keep))
        try:
            out = self.runner(np.stack(crops).astype(np.float32))
        except Exception:
            self._check_open()  # closed by another thread during this call: say so
            raise
        return [self._face(out, j, transforms[j], boxes[i], scores[i])
                for j, i in enumerate(keep)]

    def _face(self, out, j: int, transform: CropTransform, box, score) -> Face:
        decoded = decode_face(out, j, transform, self.decode_settings)
        return Face(box=np.asarray(box, np.float32), score=float(score),
                    crop_box=square_box(box, DEFAULT_ENLARGE), **vars(decoded))

    # -- video ------------------------------------------------------------------------
    def track(self, frame, timestamp_ms: float) -> List[Face]:
        """Analyse one video frame, reusing the previous frame's faces (MediaPipe's
        VIDEO mode): see :class:`lponet_tf.inference.video.TrackingSession`.

        Args:
            frame: one frame (same inputs as :meth:`analyze`).
            timestamp_ms: the frame's time in milliseconds, strictly increasing.

        Returns:
            list of :class:`Face` with ``track_id`` set; smoothed when
            ``options.smoothing``.

        Raises:
            SmoothingError: a timestamp that does not increase (call :meth:`reset` first
                for a new video).
        """
        from lponet_tf.inference.video import TrackingSession

        self._check_open()
        if self._session is None:
            self._session = TrackingSession(self)
        return self._session.track(frame, timestamp_ms)

    def reset(self) -> None:
        """Forget the tracked faces (a new video, or a scene cut)."""
        self._session = None

    def analyze_video(self, path) -> Iterator[Tuple[float, List[Face]]]:
        """``(timestamp_ms, faces)`` for each frame of a video file (see
        :func:`lponet_tf.inference.video.analyze_video`)."""
        from lponet_tf.inference.video import analyze_video

        return analyze_video(self, path)

    # -- resources --------------------------------------------------------------------
    def close(self) -> None:
        """Release the model; any later call raises :class:`AnalyzerClosedError` (so does a
        call another thread has in flight, when it next needs the model)."""
        self._closed = True  # first: a call in flight that fails on the released model says why
        close = getattr(self.runner, "close", None)
        if close:
            close()
        self._session = None

    def _check_open(self) -> None:
        if self._closed:  # the runner's released state fails obscurely
            raise AnalyzerClosedError("this FaceAnalyzer was closed (close() or its with block "
                                      "ended); create a new one with FaceAnalyzer.create()")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __reduce__(self):
        raise TypeError("a FaceAnalyzer cannot be pickled (it holds a loaded model): send its "
                        "FaceAnalyzerOptions (they pickle) and call FaceAnalyzer.create(options) "
                        "in each process")

    def __repr__(self) -> str:
        return (f"FaceAnalyzer({self.runner!r}, detector={type(self.detector).__name__}, "
                f"max_faces={self.options.max_faces})")
