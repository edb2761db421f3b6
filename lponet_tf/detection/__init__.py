"""Face detection that works offline, and the detector-box -> landmark-box mapping.

A detector is anything with ``detect(image_rgb_uint8) -> list[Detection]`` (the
:class:`FaceDetector` protocol, :mod:`.base`). Shipped implementations:

* :class:`BlazeFaceDetector` (:mod:`.blazeface`) -- MediaPipe's BlazeFace models through
  LiteRT, with our own anchor decoding and weighted NMS;
* :class:`ConfirmedDetector` (:mod:`.confirm`) -- the back model, its
  low-score detections (masked, occluded faces) kept when the short-range model agrees;
* :class:`ZoomOutDetector` (:mod:`.zoom_out`) -- a detector run again on the image inside
  a gray border when it finds no sure face (faces that fill the frame); the default wraps the
  confirmed detector in it (``blazeface_confirmed_zoom``);
* :class:`BoxesDetector`, :class:`CallableDetector`, :class:`FallbackDetector`
  (:mod:`.wrappers`) -- user boxes, any ``fn(image) -> boxes``, detectors in order;
  :func:`as_detector` builds one from ``None`` / a name / boxes / a callable.

Detector boxes are not landmark boxes: the network is trained on crops of the tight box of
the 68 landmarks, enlarged 10% per side and made square. :func:`detection_to_face_box`
(:mod:`.box_mapping`) maps a detection to an estimate of that landmark box with a
per-detector correction whose fitted constants are package data (``box_mappings.json``);
see ``docs/detection.md``. Importing this package loads neither TensorFlow nor LiteRT.

Example:
    >>> import numpy as np
    >>> from lponet_tf.detection import as_detector, detection_to_face_box
    >>> det = as_detector([[10, 10, 60, 70]])
    >>> detection_to_face_box(det.detect(np.zeros((80, 80, 3), np.uint8))[0]).tolist()
    [10.0, 10.0, 60.0, 70.0]
"""
from lponet_tf.detection.base import (
    FOUND_IOU, Detection, FaceDetector, as_rgb_uint8, box_in_image, box_iou, landmark_box,
    matching_face,
)
from lponet_tf.detection.blazeface import BlazeFaceDetector
from lponet_tf.detection.confirm import ConfirmedDetector, boxes_agree
from lponet_tf.detection.zoom_out import ZoomOutDetector
from lponet_tf.detection.box_mapping import (
    BOX_MAPPINGS, BoxMapping, detection_to_face_box, register_box_mapping,
)
from lponet_tf.detection.wrappers import (
    DEFAULT_DETECTOR, BoxesDetector, CallableDetector, FallbackDetector, as_detector,
)

__all__ = [
    "Detection",
    "FaceDetector",
    "BlazeFaceDetector",
    "BoxesDetector",
    "CallableDetector",
    "FallbackDetector",
    "ConfirmedDetector",
    "ZoomOutDetector",
    "boxes_agree",
    "BoxMapping",
    "BOX_MAPPINGS",
    "DEFAULT_DETECTOR",
    "as_detector",
    "as_rgb_uint8",
    "detection_to_face_box",
    "landmark_box",
    "box_iou",
    "matching_face",
    "FOUND_IOU",
    "box_in_image",
    "register_box_mapping",
]
