"""Head-pose pseudo-labels for landmark-only data (300W, WFLW, ...), by PnP on a mean face.

300W and WFLW label landmarks only. A pose label for them comes from fitting a 3D mean
face to the 68 points with ``cv2.solvePnP``; the resulting rotation is in the convention
of :mod:`lponet_tf.geometry` directly, because the mean face is stored in its head frame
(``x`` to the subject's left ear = image right, ``y`` to the chin, ``z`` into the head)
and OpenCV's camera frame is the project's camera frame (``x`` right, ``y`` down, ``z``
forward).

The mean face (``lponet_tf/assets/mean_face_68.npy``, 68 x 3, millimetres, centred) is
derived from data by ``scripts/derive_mean_face.py``: the ``pt3d_68`` of the real AFLW2000-3D
samples, each rotated back by its own ``Pose_Para`` pose, averaged and made left-right
symmetric.

Choices, and why:

* Points: brows, nose, eyes and the two mouth corners (:data:`PNP_POINTS`, 33 points).
  The jaw is left out because 2D-style annotations (300W, WFLW) put the contour on the
  visible outline, which slides over the 3D face as the head turns; the lips move with
  expression.
* Camera: a pinhole with the principal point at the image centre and a focal length of
  ``focal_scale * max(width, height)`` (default 4, a narrow ~14 degree field of view).
  The 3DDFA labels of 300W-LP and AFLW2000, which these pseudo-labels must agree with,
  are weak-perspective; a long focal length approaches that while staying a real camera.
  On the AFLW2000 samples (leave-one-out mean faces) the mean geodesic error falls from
  5.1 to 3.6 degrees going from 1x to 4x. Known cost, kept for now (the bundled model and
  every documented pose figure use these labels): a face off the photo's centre is seen
  along an oblique ray, and its label carries that ray's angle, which a centred crop does
  not show -- on the 1,207 300W faces (mostly near their photo's centre) the labels move
  by median 0.04, mean 0.43, 90th percentile 1.5, at most 3.3 degrees (yaw 0.23, pitch
  0.28 degrees mean) when solved with the face at the principal point. That is ``centre="face"``
  (:data:`PSEUDO_POSE_CENTRES`; config ``pseudo_pose_centre: face``): the principal point at
  the centre of the landmarks' box, the point a training crop is centred on, so that the
  label is the pose the crop shows.

Accuracy against the real 3DDFA labels (tests/test_pseudo_pose.py): AFLW2000 samples
1.6 / 4.3 / 3.0 / 2.6 degrees geodesic with the shipped face (which they helped build;
2.3 / 5.6 / 3.5 / 3.1 leave-one-out), yaw / pitch / roll MAE 1.3 / 2.7 / 0.7 degrees;
the 300W-LP sample (not in the mean face, 44 degrees yaw) 3.5 degrees.
* Solver: ``SOLVEPNP_SQPNP`` (globally optimal); the default iterative solver returned
  a 180-degree flipped pose on some samples.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from lponet_tf.data.records import FaceRecord

MEAN_FACE_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "mean_face_68.npy")

#: iBUG-68 indices used for the fit: brows 17-26, nose 27-35, eyes 36-47, mouth corners.
PNP_POINTS = np.array(list(range(17, 48)) + [48, 54], dtype=np.int64)

#: Focal length of the assumed camera, as a multiple of the image's longer side.
DEFAULT_FOCAL_SCALE = 4.0

#: Where :func:`fill_pseudo_poses` puts the camera's principal point: the photo's centre
#: (the default; the bundled model's labels) or the centre of the face's landmark box.
PSEUDO_POSE_CENTRES = ("photo", "face")


@functools.lru_cache(maxsize=1)
def mean_face() -> np.ndarray:
    """The shipped 3D mean face: ``(68, 3)`` float64, millimetres, head frame, centred.

    Example:
        >>> mean_face().shape
        (68, 3)
    """
    face = np.load(MEAN_FACE_PATH).astype(np.float64)
    face.setflags(write=False)  # cached and shared: callers must not modify it
    return face


def camera_matrix(image_size: Tuple[int, int], focal_scale: float = DEFAULT_FOCAL_SCALE,
                  principal_point: Optional[Sequence[float]] = None) -> np.ndarray:
    """Pinhole intrinsics for an image of ``(height, width)``.

    Args:
        image_size: ``(height, width)``.
        focal_scale: focal length as a multiple of the longer side.
        principal_point: ``(x, y)`` in pixels; default the image's centre.

    Returns:
        ``3 x 3`` float64 ``K`` with ``f = focal_scale * max(h, w)`` and the principal
        point at ``principal_point``, by default the centre ``((w - 1) / 2, (h - 1) / 2)``
        (pixel centres at integers).

    Example:
        >>> camera_matrix((450, 450))[0].tolist()
        [1800.0, 0.0, 224.5]
    """
    h, w = (int(v) for v in image_size)
    if h <= 0 or w <= 0:
        raise ValueError(f"image_size must be positive (height, width), got {image_size}")
    f = float(focal_scale) * max(h, w)
    if principal_point is None:
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    else:
        cx, cy = (float(v) for v in np.asarray(principal_point, np.float64).reshape(2))
        if not (np.isfinite(cx) and np.isfinite(cy)):
            raise ValueError(f"principal_point must be finite (x, y), got {principal_point}")
    return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])


def pseudo_pose(landmarks, image_size: Tuple[int, int],
                focal_scale: float = DEFAULT_FOCAL_SCALE, face_model=None,
                principal_point: Optional[Sequence[float]] = None) -> np.ndarray:
    """Head pose from 68 image landmarks by PnP against the mean face.

    Args:
        landmarks: ``(68, 2)`` pixel coordinates in iBUG order.
        image_size: ``(height, width)`` of the image the landmarks are in.
        focal_scale: focal length as a multiple of the longer image side.
        face_model: ``(68, 3)`` 3D face in the geometry head frame; default
            :func:`mean_face`.
        principal_point: ``(x, y)`` of the camera's principal point; default the
            image's centre (:func:`camera_matrix`).

    Returns:
        ``(3, 3)`` float64 rotation in the convention of :mod:`lponet_tf.geometry`
        (``geometry.matrix_to_euler`` gives yaw, pitch, roll in degrees).

    Raises:
        ValueError: landmarks not ``(68, 2)`` or not finite, or the solver fails.

    Example:
        >>> from lponet_tf import geometry
        >>> R = geometry.euler_to_matrix([20.0, 5.0, 0.0])
        >>> K = camera_matrix((256, 256))
        >>> cam = mean_face() @ R.T + [0.0, 0.0, 1000.0]
        >>> pts = (cam[:, :2] / cam[:, 2:]) * K[0, 0] + K[:2, 2]
        >>> geometry.matrix_to_euler(pseudo_pose(pts, (256, 256))).round(1).tolist()
        [20.0, 5.0, 0.0]
    """
    import cv2  # deferred: importing lponet_tf.data must stay light

    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"landmarks must be a finite (68, 2) array, got shape {lm.shape}")
    model = mean_face() if face_model is None else np.asarray(face_model, dtype=np.float64)
    if model.shape != (68, 3):
        raise ValueError(f"face_model must be (68, 3), got {model.shape}")
    K = camera_matrix(image_size, focal_scale, principal_point)
    ok, rvec, _ = cv2.solvePnP(
        np.ascontiguousarray(model[PNP_POINTS]), np.ascontiguousarray(lm[PNP_POINTS]),
        K, None, flags=cv2.SOLVEPNP_SQPNP,
    )
    if not ok:
        raise ValueError("solvePnP found no pose for these landmarks")
    R, _ = cv2.Rodrigues(rvec)
    return R


def image_size_of(path) -> Tuple[int, int]:
    """``(height, width)`` of an image file as the training samples see it: upright, by its
    EXIF orientation (the frame its landmarks are in), read from the header when it can
    (:func:`lponet_tf.data.sample.read_record_image_size`).

    Raises:
        DataError: the file is missing or not an image.
    """
    from lponet_tf.data.sample import read_record_image_size  # deferred: sample imports cv2

    return read_record_image_size(path)


def face_centre(landmarks) -> np.ndarray:
    """``(x, y)`` centre of the landmarks' box: where a training crop of the face is centred
    (:func:`lponet_tf.codec.crop.face_box`), the principal point of ``centre="face"``."""
    from lponet_tf.codec.crop import box_from_landmarks  # deferred: the codec imports cv2

    x0, y0, x1, y1 = (float(v) for v in box_from_landmarks(landmarks))
    return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])


def fill_pseudo_poses(records: Iterable[FaceRecord],
                      image_size: Optional[Callable[[str], Tuple[int, int]]] = None,
                      focal_scale: float = DEFAULT_FOCAL_SCALE,
                      centre: str = "photo") -> List[FaceRecord]:
    """Give a PnP pose to every record that has 68 landmarks but no pose.

    Records that already have a pose, or have no landmarks, are returned unchanged (the
    same objects); the others are copies with ``pose`` set and
    ``attributes["pose_source"] = "solvepnp"``. The inputs are not modified.

    Args:
        records: FaceRecords (e.g. from ``read_dataset("300w", ...)``).
        image_size: ``path -> (height, width)``; default decodes the image
            (:func:`image_size_of`). Pass a lookup when sizes are known.
        focal_scale: see :func:`pseudo_pose`.
        centre: the principal point (:data:`PSEUDO_POSE_CENTRES`): ``"photo"``, the image's
            centre, or ``"face"``, the centre of the record's landmark box.

    Returns:
        list of FaceRecords, same order and length as ``records``.

    Raises:
        ValueError: ``centre`` not one of :data:`PSEUDO_POSE_CENTRES`.

    Example:
        >>> from lponet_tf.data import read_dataset
        >>> recs = fill_pseudo_poses(read_dataset("300w", "/data/300w/afw"))  # doctest: +SKIP
        >>> recs[0].attributes["pose_source"], recs[0].pose.shape  # doctest: +SKIP
        ('solvepnp', (3, 3))
    """
    if centre not in PSEUDO_POSE_CENTRES:
        raise ValueError(f"centre must be one of {PSEUDO_POSE_CENTRES}, got {centre!r}")
    size_of = image_size or image_size_of
    out = []
    for record in records:
        if record.pose is not None or record.landmarks is None or len(record.landmarks) != 68:
            out.append(record)
            continue
        point = face_centre(record.landmarks) if centre == "face" else None
        R = pseudo_pose(record.landmarks, size_of(record.image_path), focal_scale,
                        principal_point=point)
        out.append(dataclasses.replace(
            record, pose=R, attributes={**record.attributes, "pose_source": "solvepnp"}))
    return out


__all__ = ["MEAN_FACE_PATH", "PNP_POINTS", "DEFAULT_FOCAL_SCALE", "PSEUDO_POSE_CENTRES", "mean_face",
           "camera_matrix", "pseudo_pose", "face_centre", "image_size_of", "fill_pseudo_poses"]
