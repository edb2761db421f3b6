"""Where the face is in a photo that has no landmark or box label (C-CM, paper Section IV-A).

The paper crops such faces with a face detector's box enlarged 10% per side, and places
its mask and sunglasses occluders (MaskTheFace) from landmarks predicted on them. Here a
:class:`FaceGeometry` holds both for one image:

* ``box``: an estimate of the tight 68-landmark box, so that the crop (box + 10% per side,
  square, :mod:`lponet_tf.codec.crop`) frames the face the way the landmark-labelled sets
  and inference (``detection_to_face_box``) frame it;
* ``landmarks``: 68 *placement* landmarks in iBUG order. They only say where occluders go;
  they are never a training label (the sample's landmark weight stays 0).

Two sources, tried in this order by :class:`FaceLocator`:

``"detector"``
    The project's default detector (BlazeFace, :mod:`lponet_tf.detection`), the
    detection mapped to a landmark-box estimate exactly as at inference. Placement: the
    3D mean face (:func:`lponet_tf.data.pseudo_pose.mean_face`) posed by ``solvePnP`` on the
    detector's keypoints (eyes, nose tip, mouth centre) and projected. On 387 real 300W
    faces (every 4th helen_trainset face, every 2nd afw face) the mapped box had a mean
    IoU of 0.89 with the true landmark box, and the projected landmarks a mean error of
    9.0% of the outer-eye-corner distance (90th percentile 12%); a similarity fit of the
    flat mean face to the same keypoints gave 12%.
``"mask"``
    The visible-face mask label: the frontal mean face scaled so that its approximate
    face region (landmark hull plus a forehead band, as
    :func:`lponet_tf.data.occlusion.visible_face_from_landmarks` draws it) fills the mask's
    bounding box. Upright faces are assumed (CelebAMask-HQ is roll-aligned); an occluded
    forehead or chin shrinks the box. Used when the detector finds no face overlapping
    the mask, or is not installed (the ``detect`` extra).

Why not the paper's "landmarks predicted by one of our pretrained models": running a Keras
model per record inside the ``tf.data`` preparation threads is neither cheap nor safe. A
caller who has such landmarks (e.g. from ``FaceAnalyzer``) can put them, in image pixels,
in ``FaceRecord.attributes["placement_landmarks"]``; :func:`lponet_tf.data.sample.prepare_sample`
uses them before any fitted ones.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from typing import Optional, Sequence, Tuple

import numpy as np

from lponet_tf.codec.crop import box_from_landmarks, rescale_matrix, transform_points

log = logging.getLogger(__name__)

#: How a face without landmark or box labels is located (``make_dataset(locate_faces=...)``).
LOCATE_MODES = ("detector", "mask", "image")
#: Forehead band of the template face region above the brows, as a fraction of the chin to
#: nose-bridge-top distance (the default of ``OcclusionConfig.forehead``).
MASK_FOREHEAD = 0.25
#: Mean-face points matched to BlazeFace keypoints 0..3 (subject's right eye, left eye,
#: nose tip, mouth centre): eye centres, nose tip 30, mouth centre.
_KEYPOINT_GROUPS = (tuple(range(36, 42)), tuple(range(42, 48)), (30,), tuple(range(48, 68)))


@dataclasses.dataclass(frozen=True)
class FaceGeometry:
    """A located face, in the pixel coordinates of its image.

    Attributes:
        box: ``(4,)`` float32 estimate of the tight 68-landmark box ``x0, y0, x1, y1``.
        landmarks: ``(68, 2)`` float32 placement landmarks (iBUG order), not a label.
        source: ``"detector"`` or ``"mask"``.
    """

    box: np.ndarray
    landmarks: np.ndarray
    source: str


@functools.lru_cache(maxsize=1)
def _template() -> Tuple[np.ndarray, np.ndarray]:
    """Frontal mean face ``(68, 2)`` (x right, y down; orthographic) and the box of its
    approximate face region (hull of the points plus the forehead band)."""
    from lponet_tf.data.pseudo_pose import mean_face

    flat = np.array(mean_face()[:, :2], np.float64)
    up = flat[27] - flat[8]
    band = flat[17:27] + MASK_FOREHEAD * up  # |up| is the chin to nose-bridge distance
    region = box_from_landmarks(np.vstack([flat, band])).astype(np.float64)
    flat.setflags(write=False)
    region.setflags(write=False)
    return flat, region


def template_landmarks(box: Sequence[float], region: bool = False) -> np.ndarray:
    """The frontal mean face stretched so that its landmark box (or, with ``region``, its
    face-region box) is ``box``.

    Args:
        box: ``(x0, y0, x1, y1)`` pixels.
        region: ``box`` is the face region (mask extent) rather than the landmark box.

    Returns:
        ``(68, 2)`` float32.

    Example:
        >>> lm = template_landmarks([10, 20, 110, 140])
        >>> box_from_landmarks(lm).round(3).tolist()
        [10.0, 20.0, 110.0, 140.0]
    """
    flat, region_box = _template()
    ref = region_box if region else box_from_landmarks(flat).astype(np.float64)
    x0, y0, x1, y1 = (float(v) for v in box)
    scale = np.array([(x1 - x0) / (ref[2] - ref[0]), (y1 - y0) / (ref[3] - ref[1])])
    return ((flat - ref[:2]) * scale + [x0, y0]).astype(np.float32)


def geometry_from_mask(mask: np.ndarray, image_shape: Optional[Tuple[int, int]] = None
                       ) -> Optional[FaceGeometry]:
    """Face geometry from a visible-face mask (see the module docstring).

    Args:
        mask: ``(h, w)`` visible-face mask (> 0.5 = face), at its own resolution.
        image_shape: ``(height, width)`` of the image the mask labels, when the mask is
            stored at another resolution (CelebAMask-HQ: 512 px masks, 1024 px images).

    Returns:
        :class:`FaceGeometry` in image pixels, or None when the mask has no face pixel.
    """
    import cv2

    m = (np.asarray(mask) > 0.5).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(m)
    if w == 0 or h == 0:
        return None
    # Pixel extents, the region a drawn hull would cover.
    lm = template_landmarks([x - 0.5, y - 0.5, x + w - 0.5, y + h - 0.5], region=True)
    if image_shape is not None and tuple(image_shape[:2]) != m.shape:
        lm = transform_points(rescale_matrix(m.shape, image_shape[:2]), lm)
    return FaceGeometry(box_from_landmarks(lm), lm, "mask")


def _pnp_landmarks(keypoints: np.ndarray, image_shape: Tuple[int, int]) -> Optional[np.ndarray]:
    """The mean face posed on four detector keypoints by ``solvePnP`` and projected."""
    import cv2

    from lponet_tf.data.pseudo_pose import camera_matrix, mean_face

    face = mean_face()
    model = np.stack([face[list(g)].mean(0) for g in _KEYPOINT_GROUPS])
    K = camera_matrix(image_shape[:2])
    kps = np.ascontiguousarray(np.asarray(keypoints, np.float64)[:4])
    try:
        ok, rvec, tvec = cv2.solvePnP(model, kps, K, None, flags=cv2.SOLVEPNP_SQPNP)
    except cv2.error:
        return None
    if not ok or tvec[2, 0] <= 0:  # a face behind the camera is a failed fit
        return None
    pts, _ = cv2.projectPoints(face, rvec, tvec, K, None)
    pts = pts.reshape(-1, 2)
    return pts.astype(np.float32) if np.isfinite(pts).all() else None


def geometry_from_detection(detection, image_shape: Tuple[int, int]) -> FaceGeometry:
    """Face geometry from one detection (see the module docstring).

    Args:
        detection: a :class:`lponet_tf.detection.Detection`.
        image_shape: ``(height, width)`` of the image.

    Returns:
        :class:`FaceGeometry` with ``source="detector"``; placement from the keypoints
        when the detection has at least four, else the frontal mean face in the box.
    """
    from lponet_tf.detection import BOX_MAPPINGS, BoxMapping, box_iou, detection_to_face_box

    mapping = BOX_MAPPINGS.get(detection.source)
    # The constant part of the detector's mapping only: the keypoint-linear part is fitted
    # on 300W crops (a face filling half the photo) and mis-sizes faces framed otherwise.
    constant = BoxMapping(mapping.dx, mapping.dy, mapping.sx, mapping.sy) if mapping else BoxMapping()
    box = np.asarray(detection_to_face_box(detection, constant), np.float32)
    lm = None
    if detection.keypoints is not None and len(detection.keypoints) >= 4:
        lm = _pnp_landmarks(detection.keypoints, image_shape)
        # A pose that puts the face elsewhere than the detector saw it is a failed fit.
        if lm is not None and box_iou(box_from_landmarks(lm)[None], box[None])[0, 0] < 0.5:
            lm = None
    if lm is None:
        lm = template_landmarks(box)
    return FaceGeometry(box, lm, "detector")


def _overlaps(box: np.ndarray, region: Optional[np.ndarray]) -> bool:
    """The box's centre lies in the region (the mask's face box), or there is no region."""
    if region is None:
        return True
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return bool(region[0] <= cx <= region[2] and region[1] <= cy <= region[3])


class FaceLocator:
    """Locates faces in unlabelled photos: the detector first, the mask as fallback.

    Thread-safe (the ``tf.data`` preparation calls it from several threads; one detector
    is shared under a lock). The detector is built on first use; when it cannot be built
    (the ``detect`` extra is not installed) a warning is logged once and the mask is used.

    Args:
        mode: ``"detector"`` (detector, then mask), ``"mask"`` (mask only) or ``"image"``
            (nothing located: the whole image is the face box, the old behaviour).
        detector: a detector name or object for :func:`lponet_tf.detection.as_detector`
            (None: the default BlazeFace).

    Example:
        >>> locator = FaceLocator("mask")
        >>> mask = np.zeros((100, 100), np.float32); mask[20:80, 30:70] = 1
        >>> locator.locate(np.zeros((100, 100, 3), np.uint8), mask).source
        'mask'
    """

    def __init__(self, mode: str = "detector", detector=None):
        if mode not in LOCATE_MODES:
            raise ValueError(f"locate_faces must be one of {LOCATE_MODES}, got {mode!r}")
        self.mode = mode
        self._spec = detector
        self._detector = None
        self._failed = False
        self._lock = threading.Lock()

    def _get_detector(self):
        if self._detector is None and not self._failed:
            from lponet_tf.errors import ModelFileError
            from lponet_tf.detection import as_detector

            try:
                self._detector = as_detector(self._spec)
            except (ImportError, ModelFileError, OSError) as exc:
                self._failed = True
                log.warning("no face detector for unlabelled faces (%s); using their masks", exc)
        return self._detector

    def detect(self, image: np.ndarray, region: Optional[np.ndarray] = None) -> Optional[FaceGeometry]:
        """The most confident detection whose landmark box is centred in ``region``."""
        with self._lock:
            detector = self._get_detector()
            if detector is None:
                return None
            detections = detector.detect(image)
        for det in sorted(detections, key=lambda d: -d.score):
            geometry = geometry_from_detection(det, image.shape)
            if _overlaps(geometry.box, region):
                return geometry
        return None

    def locate(self, image: np.ndarray, mask: Optional[np.ndarray] = None) -> Optional[FaceGeometry]:
        """Geometry of the face in ``image`` (labelled by ``mask``, if any), or None.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.
            mask: its visible-face mask (any resolution) or None.

        Returns:
            :class:`FaceGeometry`, or None (mode ``"image"``, or nothing found and no mask).
        """
        if self.mode == "image":
            return None
        from_mask = geometry_from_mask(mask, image.shape) if mask is not None else None
        if self.mode == "detector":
            region = None
            if from_mask is not None:
                # The face the mask labels: its box, with a margin for the template fit.
                b = from_mask.box
                pad = 0.25 * np.array([-(b[2] - b[0]), -(b[3] - b[1]), b[2] - b[0], b[3] - b[1]])
                region = b + pad
            found = self.detect(image, region)
            if found is not None:
                return found
        return from_mask
