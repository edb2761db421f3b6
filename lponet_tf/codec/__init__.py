"""The face codec: image -> crop -> (model) -> face in image pixels, written once.

Every path a face takes through the library goes through these modules, so training,
evaluation (``lponet evaluate``), export (calibration and parity) and
:class:`~lponet_tf.FaceAnalyzer` read, crop and decode a face identically; the Java core
(``android_demo/core``, ``FaceAnalyzer.assemble``) mirrors them one to one
(``docs/ARCHITECTURE.md``):

* :mod:`lponet_tf.codec.image` -- loading and normalising an image (array, file or bytes)
  to ``(H, W, 3)`` uint8 RGB;
* :mod:`lponet_tf.codec.crop` -- face box -> square crop transform (10% margin) and the one
  warp (bilinear, area pre-shrink for faces shrunk 2x or more);
* :mod:`lponet_tf.codec.decode` -- the network's three outputs of a crop -> landmarks,
  scores, pose, visible-face mask and visibility in image pixels.

Importing this package loads neither TensorFlow nor LiteRT (only numpy and OpenCV).

Example:
    >>> import numpy as np
    >>> from lponet_tf.codec import crop_face, to_rgb_uint8
    >>> crop, transform = crop_face(to_rgb_uint8(np.zeros((90, 120), np.uint8)), [30, 20, 80, 70], 64)
    >>> crop.shape, transform.to_image([[31.5, 31.5]]).round(1).tolist()
    ((64, 64, 3), [[55.0, 45.0]])
"""
from lponet_tf.codec.crop import (
    DEFAULT_ENLARGE,
    CropTransform,
    box_from_landmarks,
    crop_face,
    face_box,
    square_box,
)
from lponet_tf.codec.decode import (
    DecodedFace,
    DecodeSettings,
    decode_face,
    decode_landmarks,
    grid_to_image_matrix,
    mask_in_image,
    pose_rotation,
    visible_mask_in_image,
)
from lponet_tf.codec.image import check_value_range, decode_image, load_image, to_rgb_uint8

__all__ = [
    "DEFAULT_ENLARGE",
    "CropTransform",
    "box_from_landmarks",
    "crop_face",
    "face_box",
    "square_box",
    "DecodedFace",
    "DecodeSettings",
    "decode_face",
    "decode_landmarks",
    "grid_to_image_matrix",
    "mask_in_image",
    "pose_rotation",
    "visible_mask_in_image",
    "check_value_range",
    "decode_image",
    "load_image",
    "to_rgb_uint8",
]
