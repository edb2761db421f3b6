"""The evaluation protocol for one face: crop in, predictions back to image coordinates.

Paper Section IV-A: a face is cropped from its ground-truth landmark box (or the dataset's
face box when it has no landmarks, or a detector box when it has neither), enlarged by 10%
on each side and made square, then resized to the network's S x S input. Every
prediction is mapped back through the crop's exact inverse, so errors are measured in the
original image's pixels:

* landmarks: heatmaps decoded in crop pixels -> image pixels
  (:func:`lponet_tf.codec.decode.decode_landmarks`, the analyzer's decoder and rule);
* pose: the rotation (6D head) or Euler angles (Euler head) as a matrix
  (:func:`lponet_tf.codec.decode.pose_rotation`); a crop is a translation plus a uniform
  scale, which does not change the head pose. Angles are compared on the label's Euler
  branch (:func:`pose_reference`, :func:`predicted_euler`): AFLW2000 keeps yaw up to 99
  degrees, where ``matrix_to_euler``'s ``|yaw| <= 90`` triple is not the label's;
* visible-face mask: the S/4 x S/4 ``[not-face, visible]`` scores resampled onto the
  ground-truth mask's pixel grid (bilinear), then the argmax; only the pixels inside the
  crop square count, the network sees nothing else
  (:func:`lponet_tf.codec.decode.visible_mask_in_image`).

The crop is the face codec's (:func:`lponet_tf.codec.crop.crop_face`): the same box choice
as the training pipeline (:func:`lponet_tf.data.sample.prepare_sample`) and the same
transform and resampling as training and :class:`~lponet_tf.FaceAnalyzer`, so the
evaluation measures what the analyzer runs on the same boxes.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from lponet_tf.codec.crop import CropTransform, crop_face, face_box
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import check_landmarks_in_image, read_record_image
from lponet_tf.geometry import matrix_to_euler, matrix_to_euler_near

#: How a face's crop box was chosen, in order of preference.
CROP_SOURCES = ("landmarks", "box", "detector", "image")


@dataclasses.dataclass
class PreparedFace:
    """One face ready for the network.

    Attributes:
        crop: ``(S, S, 3)`` float32 RGB 0..255 (the model's input).
        transform: image -> crop affine.
        image_shape: ``(height, width)`` of the original image.
        crop_source: one of :data:`CROP_SOURCES`.
    """

    crop: np.ndarray
    transform: CropTransform
    image_shape: Tuple[int, int]
    crop_source: str


def pose_reference(record: FaceRecord) -> np.ndarray:
    """A record's pose label as ``(yaw, pitch, roll)`` degrees, the numbers Eq. 11 compares.

    The label's matrix, decomposed on the branch of the Euler angles the reader keeps in
    ``attributes`` (AFLW2000 / 300W-LP ``Pose_Para``, BIWI): a ``Pose_Para`` yaw of 95
    degrees stays 95, not the same rotation's ``(85, pitch - 180, roll - 180)``. Without
    those angles, :func:`~lponet_tf.geometry.matrix_to_euler`.

    Example:
        >>> from lponet_tf.geometry import euler_to_matrix
        >>> rec = FaceRecord("x.jpg", pose=euler_to_matrix([95.0, 10.0, 5.0]),
        ...                  attributes={"yaw": 95.0, "pitch": 10.0, "roll": 5.0})
        >>> pose_reference(rec).round(6).tolist()
        [95.0, 10.0, 5.0]
    """
    R = np.asarray(record.pose, np.float64)
    labels = [record.attributes.get(k) for k in ("yaw", "pitch", "roll")]
    if any(v is None for v in labels):
        return matrix_to_euler(R)
    return matrix_to_euler_near(R, np.asarray(labels, np.float64))


def predicted_euler(rotation, ypr, representation: str, reference) -> np.ndarray:
    """A prediction's ``(yaw, pitch, roll)`` to compare with ``reference``: a 6D head's
    rotation on the reference's Euler branch, an Euler head's angles as they are."""
    if representation == "euler":
        return np.asarray(ypr, np.float64)
    return matrix_to_euler_near(rotation, reference)


def detect_face_box(image: np.ndarray, detector) -> Optional[np.ndarray]:
    """Landmark-box estimate of the most confident detection, or None when none is found.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        detector: an object with ``detect(image) -> list[Detection]``
            (:func:`lponet_tf.detection.as_detector`).

    Returns:
        ``(4,)`` float32 box (see :func:`~lponet_tf.detection.detection_to_face_box`).
    """
    from lponet_tf.detection import detection_to_face_box

    detections = detector.detect(image)
    if not detections:
        return None
    best = max(detections, key=lambda d: d.score)
    return detection_to_face_box(best)


def prepare_face(record: FaceRecord, size: int, enlarge: float = 0.1,
                 detector=None, image: Optional[np.ndarray] = None) -> PreparedFace:
    """Read and crop one face by the paper's protocol.

    Args:
        record: the face; its landmarks, else its box, choose the crop.
        size: network input side S.
        enlarge: box margin per side (paper: 0.1).
        detector: used only when the record has neither landmarks nor a box; without one
            (or when it finds nothing) the whole image is the face box.
        image: the decoded image, to skip reading ``record.image_path``.

    Returns:
        :class:`PreparedFace`.

    Raises:
        DataError: the image is missing or undecodable (names the file), or the landmarks
            lie mostly outside it (names the annotation file, else the image; see
            :func:`lponet_tf.data.sample.check_landmarks_in_image`).

    Example:
        >>> rec = FaceRecord("face.jpg", landmarks=np.array([[10.0, 10.0], [50.0, 60.0]]))
        >>> face = prepare_face(rec, 64, image=np.zeros((100, 100, 3), np.uint8))
        >>> face.crop.shape, face.crop_source
        ((64, 64, 3), 'landmarks')
    """
    if image is None:
        image = read_record_image(record.image_path)
    if record.landmarks is not None:
        # scored on a black crop otherwise (as training would learn from one)
        check_landmarks_in_image(record.landmarks, image.shape,
                                 record.attributes.get("annotation_path", record.image_path))
        source, box = "landmarks", face_box(landmarks=record.landmarks)
    elif record.box is not None:
        source, box = "box", face_box(box=record.box)
    else:
        box = detect_face_box(image, detector) if detector is not None else None
        source = "detector" if box is not None else "image"
        if box is None:
            box = face_box(image_shape=image.shape)
    crop, transform = crop_face(image, box, size, enlarge)
    return PreparedFace(crop.astype(np.float32), transform, tuple(image.shape[:2]), source)
