"""The evaluation protocol for one face: crop in, predictions back to image coordinates.

Paper Section IV-A: a face is cropped from its ground-truth landmark box (or the dataset's
face box when it has no landmarks, or a detector box when it has neither), enlarged by 10%
on each side and made square, then resized to the network's S x S input. Every
prediction is mapped back through the crop's exact inverse, so errors are measured in the
original image's pixels:

* landmarks: heatmaps decoded in crop pixels (:func:`lponet_tf.heatmaps.decode_heatmaps`)
  -> image pixels;
* pose: the rotation (6D head) or Euler angles (Euler head) as a matrix; a crop is a
  translation plus a uniform scale, which does not change the head pose;
* visible-face mask: the S/4 x S/4 ``[not-face, visible]`` scores resampled onto the
  ground-truth mask's pixel grid (bilinear), then the argmax; only the pixels inside the
  crop square count (the network sees nothing else).

The crop is the face codec's (:func:`lponet_tf.codec.crop.crop_face`): the same box choice
as the training pipeline (:func:`lponet_tf.data.sample.prepare_sample`) and the same
transform and resampling as training and :class:`~lponet_tf.FaceAnalyzer`, so the
evaluation measures what the analyzer runs on the same boxes.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import cv2
import numpy as np

from lponet_tf import geometry
from lponet_tf.codec.crop import CropTransform, compose, crop_face, face_box, invert, rescale_matrix
from lponet_tf.codec.image import load_image
from lponet_tf.data.records import FaceRecord
from lponet_tf.heatmaps import STRIDE, decode_heatmaps

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


def detect_face_box(image: np.ndarray, detector) -> Optional[np.ndarray]:
    """Landmark-box estimate of the most confident detection, or None when none is found.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        detector: an object with ``detect(image) -> list[Detection]``
            (:func:`lponet_tf.inference.detectors.as_detector`).

    Returns:
        ``(4,)`` float32 box (see :func:`~lponet_tf.inference.detectors.detection_to_face_box`).
    """
    from lponet_tf.inference.detectors import detection_to_face_box

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
        ImageError: the image is missing or undecodable (names the file).

    Example:
        >>> rec = FaceRecord("face.jpg", landmarks=np.array([[10.0, 10.0], [50.0, 60.0]]))
        >>> face = prepare_face(rec, 64, image=np.zeros((100, 100, 3), np.uint8))
        >>> face.crop.shape, face.crop_source
        ((64, 64, 3), 'landmarks')
    """
    if image is None:
        image = load_image(record.image_path)
    if record.landmarks is not None:
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


def landmarks_in_image(heatmaps: np.ndarray, transform: CropTransform) -> np.ndarray:
    """Decode one face's heatmaps and map the points to image pixels.

    Args:
        heatmaps: ``(S/4, S/4, K)`` network output.
        transform: the face's crop.

    Returns:
        ``(K, 2)`` float32 image coordinates.

    Example:
        >>> from lponet_tf.heatmaps import encode_heatmaps
        >>> t = CropTransform.from_box([-0.5, -0.5, 63.5, 63.5], 64, enlarge=0.0)  # identity
        >>> landmarks_in_image(encode_heatmaps([[23.5, 29.5]], 64), t).round(2).tolist()
        [[23.5, 29.5]]
    """
    xy, _ = decode_heatmaps(np.asarray(heatmaps, np.float32))
    return transform.to_image(xy)


def pose_matrix(pose: np.ndarray, representation: str) -> np.ndarray:
    """One face's pose output as a rotation matrix (``geometry`` convention).

    Args:
        pose: ``(3, 3)`` rotation (``"6d"``) or ``(3,)`` yaw, pitch, roll degrees (``"euler"``).
        representation: ``"6d"`` or ``"euler"``.

    Returns:
        ``(3, 3)`` float64 rotation.

    Example:
        >>> pose_matrix(np.zeros(3), "euler").tolist() == np.eye(3).tolist()
        True
    """
    pose = np.asarray(pose, np.float64)
    if representation == "euler":
        return geometry.euler_to_matrix(pose.reshape(3))
    if representation == "6d":
        return pose.reshape(3, 3)
    raise ValueError(f"pose representation must be '6d' or 'euler', got {representation!r}")


def grid_to_crop_matrix(stride: int = STRIDE) -> np.ndarray:
    """2x3 affine from heatmap-grid cells to crop pixels: ``x = stride * (u + 0.5) - 0.5``."""
    off = 0.5 * stride - 0.5
    return np.array([[stride, 0.0, off], [0.0, stride, off]], np.float64)


def visible_mask_in_image(occlusion: np.ndarray, transform: CropTransform,
                          image_shape: Tuple[int, int],
                          mask_shape: Optional[Tuple[int, int]] = None
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """Predicted visible-face mask on the ground-truth mask's grid, and the crop region.

    The two class scores are resampled bilinearly from the S/4 grid (edge cells
    replicated) and compared, i.e. the argmax of the interpolated ``[not-face, visible]``
    scores; interpolating before the argmax avoids 4-pixel staircase edges.

    Args:
        occlusion: ``(S/4, S/4, 2)`` scores ``[not-face, visible]``.
        transform: the face's crop (image -> crop).
        image_shape: ``(height, width)`` of the image.
        mask_shape: ``(height, width)`` of the GT mask (default: the image's); a mask stored
            at another resolution is matched pixel extent to pixel extent.

    Returns:
        ``(visible, region)``: boolean ``mask_shape`` arrays, the predicted visible face and
        the pixels whose centre lies inside the crop square.

    Example:
        >>> t = CropTransform.from_box([-0.5, -0.5, 31.5, 31.5], 32, enlarge=0.0)
        >>> occ = np.zeros((8, 8, 2), np.float32); occ[..., 1] = 1.0
        >>> vis, region = visible_mask_in_image(occ, t, (40, 40))
        >>> int(vis[region].sum()), int(region.sum())
        (1024, 1024)
    """
    image_shape = tuple(image_shape[:2])
    mask_shape = image_shape if mask_shape is None else tuple(mask_shape[:2])
    image_to_mask = rescale_matrix(image_shape, mask_shape)
    grid = int(occlusion.shape[0])
    stride = transform.size // grid
    # grid cell -> crop pixel -> image pixel -> mask pixel
    grid_to_mask = compose(image_to_mask, invert(transform.matrix), grid_to_crop_matrix(stride))
    score = (np.asarray(occlusion[..., 1], np.float32) - np.asarray(occlusion[..., 0], np.float32))
    h, w = mask_shape
    resampled = cv2.warpAffine(score, grid_to_mask, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    visible = resampled > 0.0
    # Region: mask pixel centres whose crop coordinate lies in the crop's pixel extent.
    # Crops are axis-aligned (scale + shift), so the test separates into rows and columns.
    mask_to_crop = compose(transform.matrix, invert(image_to_mask))
    xs = mask_to_crop[0, 0] * np.arange(w) + mask_to_crop[0, 2]
    ys = mask_to_crop[1, 1] * np.arange(h) + mask_to_crop[1, 2]
    lo, hi = -0.5, transform.size - 0.5
    region = ((ys >= lo) & (ys < hi))[:, None] & ((xs >= lo) & (xs < hi))[None, :]
    return visible, region
