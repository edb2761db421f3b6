"""Inference helpers: face detection (re-exported from :mod:`lponet_tf.detection`) and video smoothing
(:mod:`.smoothing`). Importing this package loads neither TensorFlow nor LiteRT."""
from lponet_tf.detection import (
    BOX_MAPPINGS,
    DEFAULT_DETECTOR,
    BlazeFaceDetector,
    BoxesDetector,
    BoxMapping,
    CallableDetector,
    Detection,
    FaceDetector,
    FallbackDetector,
    as_detector,
    detection_to_face_box,
    landmark_box,
    register_box_mapping,
)
from lponet_tf.inference.smoothing import (
    LandmarkFilter,
    OneEuroFilter,
    RotationFilter,
    SmoothingError,
    TrackedFace,
    Tracker,
)

__all__ = [
    "BOX_MAPPINGS",
    "DEFAULT_DETECTOR",
    "BlazeFaceDetector",
    "BoxesDetector",
    "BoxMapping",
    "CallableDetector",
    "Detection",
    "FaceDetector",
    "FallbackDetector",
    "as_detector",
    "detection_to_face_box",
    "landmark_box",
    "register_box_mapping",
    "LandmarkFilter",
    "OneEuroFilter",
    "RotationFilter",
    "SmoothingError",
    "TrackedFace",
    "Tracker",
]

# FaceAnalyzer (image in, faces out), input normalisation and video tracking; these modules
# import neither TensorFlow nor LiteRT either (the model runner is loaded by create()).
from lponet_tf.inference.analyzer import AnalyzerClosedError, FaceAnalyzer, FaceAnalyzerOptions
from lponet_tf.inference.face import Face
from lponet_tf.codec.image import to_rgb_uint8
from lponet_tf.inference.video import TrackingSession, analyze_video, iter_frames

__all__ += [
    "AnalyzerClosedError",
    "Face",
    "FaceAnalyzer",
    "FaceAnalyzerOptions",
    "to_rgb_uint8",
    "TrackingSession",
    "analyze_video",
    "iter_frames",
]
