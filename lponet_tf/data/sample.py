"""From a :class:`FaceRecord` to network-ready arrays: crop, augment, occlude, encode.

One affine (crop composed with the augmentation) resamples the image and the mask, with
the codec's warp (:meth:`lponet_tf.codec.crop.CropTransform.warp`, the same resampling as
evaluation and ``FaceAnalyzer``), and moves the landmarks exactly; the pose label changes by rotation-matrix
composition. Targets and sample weights follow ``docs/CONVENTIONS.md``: every sample has
all three targets; a task the record has no label for gets a zero target and weight 0.

The crop box is the landmark box, else the record's box, else (C-CM: a mask and nothing
else) a located face (:mod:`lponet_tf.data.face_geometry`: a detector box mapped to a
landmark-box estimate, or the mask's extent), else the whole image. Mask and sunglasses
occluders need landmarks: the labels, else placement landmarks (a record's
``attributes["placement_landmarks"]`` or the located face's), which never become a label.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from lponet_tf.codec.crop import CropTransform, compose, face_box, rescale_matrix
from lponet_tf.codec.image import (
    MAX_PIXELS, check_header_size, decode_image, exif_orientation, image_size, load_image)
from lponet_tf.data import augment as aug
from lponet_tf.data.face_geometry import FaceGeometry, geometry_from_mask
from lponet_tf.data.occlusion import OcclusionConfig, occlude, visible_face_from_landmarks
from lponet_tf.data.out_of_plane import remap_like, rotate_face
from lponet_tf.data.records import FaceRecord
from lponet_tf.errors import DataError, DataWarning, ImageError

POSE_FORMATS = ("matrix", "euler")


def read_record_image(path, data: Optional[bytes] = None) -> np.ndarray:
    """A dataset record's image as ``(H, W, 3)`` uint8 RGB, read by the codec's one loader
    (:func:`lponet_tf.codec.image.load_image` / ``decode_image``: the same pixels as
    :class:`~lponet_tf.FaceAnalyzer` gets from the file), with a dataset file's error.

    Args:
        path: the image file (named in errors).
        data: its bytes when already read (the pipeline's byte cache); None: read ``path``.

    Raises:
        DataError: missing, unreadable or undecodable, naming the file.

    Warns:
        DataWarning: the file carries an EXIF orientation other than upright: it is turned
            upright (as for every image here) and its labels are taken to be in that frame.

    Example:
        >>> read_record_image("lponet_tf/assets/astronaut.png").shape   # doctest: +SKIP
        (512, 512, 3)
    """
    path = os.fspath(path)
    orientation = exif_orientation(path if data is None else data)
    if orientation not in (None, 1):
        warnings.warn(f"{path}: EXIF orientation {orientation}: the image is turned upright as "
                      "viewers show it, and its labels are taken to be in that frame "
                      "(docs/CONVENTIONS.md)", DataWarning, stacklevel=2)
    with _as_data_error(path):
        return load_image(path) if data is None else decode_image(data, path)


def read_record_image_size(path) -> Tuple[int, int]:
    """``(height, width)`` of the image :func:`read_record_image` returns (upright), from
    the file's header when the codec can (:func:`lponet_tf.codec.image.image_size`).

    Raises:
        DataError: missing, unreadable or not an image, naming the file.
    """
    path = os.fspath(path)
    with _as_data_error(path):
        return image_size(path)


@contextlib.contextmanager
def _as_data_error(path: str):
    """The codec's :class:`ImageError` about ``path``, as the data layer's error type."""
    try:
        yield
    except ImageError as exc:
        reason = str(exc)
        raise DataError(path, reason[len(path) + 2:] if reason.startswith(f"{path}: ") else reason) from exc


#: The least share of the landmarks' tight box (by area) that must lie inside the image:
#: labels mostly outside it belong to another copy of the photo (resized or cropped), and
#: their crop would be black border labelled as a face.
MIN_LANDMARKS_INSIDE = 0.5


def landmarks_inside_share(landmarks, image_shape) -> float:
    """The share (0..1, by area) of the landmarks' tight box that lies inside an image of
    ``image_shape`` (its pixel extent ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``, pixel centres
    at whole numbers). A point with a NaN coordinate is a missing point (as for
    :func:`lponet_tf.heatmaps.encode_heatmaps`) and left out; 0.0 when no point is left or
    one is infinite. A box with no width (height) counts by whether its x (y) lies inside.

    Example:
        >>> landmarks_inside_share([[10, 10], [30, 20]], (100, 100))
        1.0
        >>> landmarks_inside_share([[80, 10], [119, 20]], (100, 100))   # x 80..119, the image to 99.5
        0.5
        >>> landmarks_inside_share([[10, 10], [np.nan, 500], [30, 20]], (100, 100))   # one missing
        1.0
    """
    p = np.asarray(landmarks, np.float64).reshape(-1, 2)
    p = p[~np.isnan(p).any(axis=1)]
    if p.size == 0 or not np.all(np.isfinite(p)):
        return 0.0
    lo, hi = p.min(axis=0), p.max(axis=0)
    share = 1.0
    for axis, size in ((0, image_shape[1]), (1, image_shape[0])):
        inside = min(hi[axis], size - 0.5) - max(lo[axis], -0.5)
        extent = hi[axis] - lo[axis]
        share *= max(0.0, inside) / extent if extent > 0 else float(inside >= 0)
    return float(share)


def check_landmarks_in_image(landmarks, image_shape, path) -> None:
    """Refuse landmarks whose tight box lies mostly outside their image (less than
    :data:`MIN_LANDMARKS_INSIDE` of its area inside).

    Raises:
        DataError: naming ``path`` (the annotation file, else the image), the image size
            and the landmarks' range.
    """
    share = landmarks_inside_share(landmarks, image_shape)
    if share >= MIN_LANDMARKS_INSIDE:
        return
    h, w = image_shape[:2]
    p = np.asarray(landmarks, np.float64).reshape(-1, 2)
    p = p[~np.isnan(p).any(axis=1)]
    if not len(p):
        raise DataError(path, "every landmark is missing (NaN): no face to crop")
    with np.errstate(invalid="ignore"):
        lo, hi = p.min(axis=0), p.max(axis=0)
    raise DataError(path, f"the landmarks lie outside the {w}x{h} image (x {lo[0]:.6g}..{hi[0]:.6g}, "
                          f"y {lo[1]:.6g}..{hi[1]:.6g}: {share:.0%} of their box inside): labels of "
                          "another copy of the image (resized or cropped)?")


def check_records(records: Sequence[FaceRecord]) -> Dict[str, Tuple[int, int]]:
    """Pre-flight of a dataset before long work (a training run, an evaluation): every
    record's image sized from its file header (:func:`read_record_image_size`; a fraction
    of a second for 1,200 photos), its landmarks checked against that size
    (:func:`check_landmarks_in_image`) and its mask file present, so that a missing file or
    the labels of another copy of a photo stop the work before it starts rather than when
    that face comes up.

    Returns:
        ``{image_path: (height, width)}`` (upright, as the samples see them).

    Raises:
        DataError: an image missing or not an image, landmarks mostly outside their image,
            or a mask file missing, naming the file.

    Example:
        >>> check_records([FaceRecord("lponet_tf/assets/astronaut.png")])  # doctest: +SKIP
        {'lponet_tf/assets/astronaut.png': (512, 512)}
    """
    sizes: Dict[str, Tuple[int, int]] = {}
    for record in records:
        path = record.image_path
        if path not in sizes:
            sizes[path] = read_record_image_size(path)
        if record.landmarks is not None:
            check_landmarks_in_image(record.landmarks, sizes[path],
                                     record.attributes.get("annotation_path", path))
        if record.mask_path is not None and not os.path.isfile(record.mask_path):
            raise DataError(record.mask_path, f"mask file not found (the mask of {path})")
    return sizes


def decode_mask_pixels(data: bytes, path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """A mask (or edit map) file's raw pixels, decoded by OpenCV with ``flags``, with the
    image loader's size limit and a dataset file's error.

    Raises:
        DataError: naming ``path``: empty, not an image (an OpenCV error included), or
            more than :data:`lponet_tf.codec.image.MAX_PIXELS` pixels.
    """
    buf = np.frombuffer(data, np.uint8)
    if buf.size == 0:
        raise DataError(path, "cannot decode mask image: empty file (0 bytes)")
    try:
        check_header_size(buf, os.fspath(path))
        m = cv2.imdecode(buf, flags)
    except ImageError as exc:  # too large: the loader's reason, as a mask file's error
        reason, prefix = str(exc), f"{os.fspath(path)}: "
        raise DataError(path, "mask " + (reason[len(prefix):] if reason.startswith(prefix) else reason)) from None
    except cv2.error as exc:  # e.g. a header announcing more pixels than OpenCV allows
        raise DataError(path, f"cannot decode mask image: {exc.err or exc}") from None
    if m is None or m.size == 0:
        raise DataError(path, "cannot decode mask image")
    if m.shape[0] * m.shape[1] > MAX_PIXELS:
        raise DataError(path, f"mask image too large ({m.shape[1]} x {m.shape[0]} pixels)")
    return m


def decode_mask(data: bytes, path: str) -> np.ndarray:
    """Decode a visible-face mask to (H, W) float32 {0, 1}.

    A pixel is visible face when it is at least half the file's maximum value, which
    reads 0/1 label maps, 0/255 masks (8 or 16 bit) and JPEG-compressed masks alike. A
    mask with transparency whose colour is one flat value is read from its alpha channel.

    Raises:
        DataError: naming ``path``: not an image, larger than
            :data:`lponet_tf.codec.image.MAX_PIXELS` (refused from the header when Pillow
            reads it, before decoding), a colour-and-alpha mask with both varying, or a
            label map with 0, 1 and 255 (an "ignore" value: which is the face?).
    """
    m = decode_mask_pixels(data, path, cv2.IMREAD_UNCHANGED)
    if m.ndim == 3 and m.shape[2] == 4:
        colour, alpha = m[..., :3], m[..., 3]
        if alpha.min() < alpha.max():
            if colour.min() != colour.max():
                raise DataError(path, "mask has colour and transparency that both vary: save the "
                                      "visible face as one single-channel (grey) image")
            m = alpha
        else:
            m = colour
    if m.ndim == 3:
        m = m[..., 0] if m.shape[2] == 1 else cv2.cvtColor(m, cv2.COLOR_BGR2GRAY)
    top = float(m.max())
    # O(pixels), not a sort: this runs on every mask a training run loads.
    if top == 255 and m.dtype == np.uint8 and (m == 1).any() and not (
            (m > 1) & (m < 255)).any() and (m == 0).any():
        raise DataError(path, "mask holds 0, 1 and 255: a label map with an 'ignore' value? "
                              "Masks here are binary: 0/1 or 0/255 (face = the larger value)")
    if top == 0:
        return np.zeros(m.shape, np.float32)
    return (m >= top / 2.0).astype(np.float32)


def check_mask_size(mask_shape, image_shape, path) -> None:
    """Refuse a mask whose shape is not its image's, at any uniform scale.

    Masks stored at another resolution (CelebAMask-HQ: 512 px for 1024 px photos) are
    scaled to the image; one of another aspect ratio belongs to another image (or is
    transposed), and stretching it would score the wrong pixels.
    """
    (mh, mw), (ih, iw) = mask_shape[:2], image_shape[:2]
    sy, sx = mh / ih, mw / iw
    if abs(sy - sx) > 0.01 * max(sy, sx) + 1.0 / min(ih, iw):
        raise DataError(path, f"mask is {mw}x{mh} px, its image {iw}x{ih} px: not the same "
                              "shape at any scale (another image's mask, or transposed?)")


def load_mask(path: str) -> np.ndarray:
    """Read a visible-face mask file (see :func:`decode_mask`).

    Raises:
        DataError: missing, undecodable or too large file (see :func:`decode_mask`).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(path, "mask file not found")
    with open(path, "rb") as f:
        return decode_mask(f.read(), path)


@dataclasses.dataclass
class PreparedSample:
    """One network-ready sample, plus what produced it (for tests and debug views).

    Attributes:
        image: (S, S, 3) RGB, uint8 or float32 0..255.
        targets: ``{"heatmaps": (S/4, S/4, K), "pose": (3, 3) or (3,),
            "occlusion": (S/4, S/4, 2)}`` float32.
        weights: ``{task: float32 scalar}``, 0 for a task without a label.
        landmarks: (K, 2) landmarks in the crop (after augmentation), or None.
        pose: (3, 3) rotation after augmentation, or None.
        visible: (S, S) float32 visible-face fraction at full resolution (after
            occlusion), or None when neither a mask nor landmarks exist.
        mask_source: "label" (mask file), "landmarks" (approximation) or None.
        transform: the image -> crop affine actually used (crop then augmentation).
        params: the augmentation draw.
        occluders: kinds of synthetic occluders drawn.
        face_source: where the crop box came from: "landmarks", "box", "detector",
            "mask" or "image".
        placement_landmarks: (K, 2) landmarks in the crop that placed the occluders of a
            sample without landmark labels (C-CM), or None; never a training target.
    """

    image: np.ndarray
    targets: Dict[str, np.ndarray]
    weights: Dict[str, np.float32]
    landmarks: Optional[np.ndarray]
    pose: Optional[np.ndarray]
    visible: Optional[np.ndarray]
    mask_source: Optional[str]
    transform: CropTransform
    params: aug.AugmentParams
    occluders: List[str]
    face_source: str = "landmarks"
    placement_landmarks: Optional[np.ndarray] = None


def _visible_target(visible: np.ndarray, size: int) -> np.ndarray:
    """[not-face, visible] soft one-hot on the S/4 grid (area average of 4x4 pixels)."""
    g = size // 4
    v = cv2.resize(visible, (g, g), interpolation=cv2.INTER_AREA)
    v = np.clip(v, 0.0, 1.0)
    return np.stack([1.0 - v, v], axis=-1).astype(np.float32)


def prepare_sample(
    record: FaceRecord,
    input_size: int,
    rng: Optional[np.random.Generator] = None,
    augment: Optional[aug.AugmentConfig] = None,
    occlusion: Optional[OcclusionConfig] = None,
    pose_format: str = "matrix",
    num_landmarks: int = 68,
    image_dtype: str = "uint8",
    image: Optional[np.ndarray] = None,
    mask: Optional[np.ndarray] = None,
    located: Optional[FaceGeometry] = None,
    locate_faces: str = "mask",
) -> PreparedSample:
    """Crop, augment and occlude one record and encode its three targets.

    Args:
        record: the face (landmarks / pose / mask_path may each be None).
        input_size: crop side S (a whole number >= 4, a multiple of 4).
        rng: numpy Generator for augmentation and occlusion (deterministic given its
            state); a fresh unseeded one when None.
        augment: geometric/photometric augmentation, or None for the plain crop.
        occlusion: synthetic occluders, or None.
        pose_format: "matrix" -> (3, 3) target, "euler" -> (3,) (yaw, pitch, roll) degrees.
        num_landmarks: K, the heatmap depth when the record has no landmarks.
        image_dtype: "uint8" or "float32" for the returned image.
        image: the decoded (H, W, 3) RGB image, to skip reading ``record.image_path``.
        mask: the decoded (H, W) mask, to skip reading ``record.mask_path``.
        located: the located face (:class:`~lponet_tf.data.face_geometry.FaceGeometry`,
            e.g. from a detector) of a record with neither landmarks nor a box.
        locate_faces: without ``located``, how such a record is cropped: ``"mask"``
            (the mask label's extent, :func:`~lponet_tf.data.face_geometry.geometry_from_mask`)
            or ``"image"`` (the whole image). Detection is the pipeline's job
            (:func:`lponet_tf.data.pipeline.make_dataset`), which caches it per record.

    Returns:
        :class:`PreparedSample`.

    Raises:
        DataError: missing or undecodable image / mask, naming the file; landmarks whose
            tight box lies mostly outside the image (less than half of its area inside,
            :func:`check_landmarks_in_image`), naming the annotation file
            (``record.attributes["annotation_path"]``) or else the image.
        ValueError: a bad argument (``input_size``, ``pose_format``, ``locate_faces``).

    Example:
        >>> rec = FaceRecord("face.jpg", landmarks=np.random.rand(68, 2) * 100)
        >>> s = prepare_sample(rec, 64, image=np.zeros((120, 120, 3), np.uint8))
        >>> s.targets["heatmaps"].shape, float(s.weights["pose"])
        ((16, 16, 68), 0.0)
    """
    from lponet_tf import geometry, heatmaps  # siblings; imported late to keep imports light

    if pose_format not in POSE_FORMATS:
        raise ValueError(f"pose_format must be one of {POSE_FORMATS}, got {pose_format!r}")
    if isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer)) \
            or input_size < 4 or input_size % 4:
        raise ValueError(f"input_size must be a whole number >= 4 and a multiple of 4, "
                         f"got {input_size!r}")
    if rng is None and (augment is not None or occlusion is not None):
        rng = np.random.default_rng()
    if locate_faces not in ("mask", "image"):
        raise ValueError(f"locate_faces must be 'mask' or 'image' here, got {locate_faces!r}")
    size = int(input_size)
    if image is None:
        image = read_record_image(record.image_path)
    if record.landmarks is not None:  # labels of another copy of the photo crop black border
        check_landmarks_in_image(record.landmarks, image.shape,
                                 record.attributes.get("annotation_path", record.image_path))
    if mask is None and record.mask_path is not None:
        mask = load_mask(record.mask_path)
    if mask is not None:
        check_mask_size(mask.shape, image.shape, record.mask_path)

    if record.landmarks is None and record.box is None and located is None and locate_faces == "mask" \
            and mask is not None:
        located = geometry_from_mask(mask, image.shape)
    if record.landmarks is not None:
        face_source, box = "landmarks", face_box(landmarks=record.landmarks)
    elif record.box is not None:
        face_source, box = "box", face_box(box=record.box)
    elif located is not None:
        face_source, box = located.source, located.box
    else:
        face_source, box = "image", face_box(image_shape=image.shape)
    placement = record.attributes.get("placement_landmarks")
    if placement is not None and np.shape(placement) != (68, 2):
        raise DataError(record.image_path, f"placement_landmarks must be 68 x 2, got shape {np.shape(placement)}")
    if placement is None and located is not None and face_source == located.source:
        placement = located.landmarks

    transform = CropTransform.from_box(box, size)
    params = aug.sample_params(augment, size, rng) if augment is not None else aug.AugmentParams()
    if augment is not None:
        transform = transform.then(aug.params_matrix(params, size))
    crop = transform.warp(image)

    landmarks = None
    if record.landmarks is not None:
        landmarks = transform.to_crop(record.landmarks)
        if params.flip:
            if augment.flip_label_x_offset:
                landmarks = landmarks + aug.flipped_label_shift(transform.matrix, augment.flip_label_x_offset)
            landmarks = aug.flip_landmarks_order(landmarks)
    placement_crop = None
    if landmarks is None and placement is not None:
        placement_crop = transform.to_crop(np.asarray(placement, np.float32).reshape(-1, 2))
        if params.flip:
            placement_crop = aug.flip_landmarks_order(placement_crop)
    pose = aug.augment_pose(record.pose, params)
    turn_maps = None
    if params.out_of_plane != (0.0, 0.0):
        if landmarks is not None and landmarks.shape == (68, 2) and pose is not None:
            yaw, pitch = params.out_of_plane
            if params.out_of_plane_outward:
                from lponet_tf.geometry import matrix_to_euler

                yaw = abs(yaw) if matrix_to_euler(pose)[0] >= 0 else -abs(yaw)
            turned = rotate_face(crop, landmarks, pose, yaw, pitch, augment.out_of_plane_max_hidden)
            crop, landmarks, pose, turn_maps = turned.image, turned.landmarks, turned.pose, turned.maps
            params = dataclasses.replace(params, out_of_plane=turned.angles)
        else:
            params = dataclasses.replace(params, out_of_plane=(0.0, 0.0))

    occ_cfg = occlusion or OcclusionConfig()
    visible, mask_source = None, None
    if record.mask_path is not None:
        # Masks may be stored at another resolution than the image (CelebAMask-HQ).
        m = compose(transform.matrix, rescale_matrix(mask.shape, image.shape))
        visible = remap_like(CropTransform(m, size).warp(mask.astype(np.float32)), turn_maps)
        mask_source = "label"
    elif landmarks is not None and (occlusion is not None or occ_cfg.approx_mask_weight > 0):
        visible = visible_face_from_landmarks(landmarks, (size, size), occ_cfg.forehead)
        mask_source = "landmarks"

    occluders: List[str] = []
    if occlusion is not None:
        scratch = visible if visible is not None else np.zeros((size, size), np.float32)
        occluders = occlude(crop, scratch, landmarks if landmarks is not None else placement_crop,
                            occlusion, rng)
    # After the occluders: a blurred or dark photo blurs and darkens the mask on the face
    # too (a sharp occluder on a blurred face is an edge no real photo has).
    crop = aug.blur(crop, params.blur_sigma)
    crop = aug.photometric(crop, params.photometric)

    g = size // 4
    targets: Dict[str, np.ndarray] = {}
    weights: Dict[str, np.float32] = {}
    if landmarks is not None:
        off_grid = augment.off_grid_targets if augment is not None else "zero"
        targets["heatmaps"] = np.asarray(
            heatmaps.encode_heatmaps(landmarks, size, off_grid=off_grid), np.float32)
        weights["heatmaps"] = np.float32(1.0)
    else:
        targets["heatmaps"] = np.zeros((g, g, num_landmarks), np.float32)
        weights["heatmaps"] = np.float32(0.0)
    if pose is not None:
        targets["pose"] = (
            np.asarray(pose, np.float32)
            if pose_format == "matrix"
            else np.asarray(geometry.matrix_to_euler(pose), np.float32)
        )
        weights["pose"] = np.float32(1.0)
    else:
        targets["pose"] = np.zeros((3, 3) if pose_format == "matrix" else (3,), np.float32)
        weights["pose"] = np.float32(0.0)
    occ_weight = {"label": 1.0, "landmarks": occ_cfg.approx_mask_weight}.get(mask_source, 0.0)
    if visible is not None and occ_weight > 0:
        targets["occlusion"] = _visible_target(visible, size)
    else:
        targets["occlusion"] = np.zeros((g, g, 2), np.float32)
    weights["occlusion"] = np.float32(occ_weight if visible is not None else 0.0)

    out_image = crop if image_dtype == "uint8" else crop.astype(np.float32)
    return PreparedSample(
        image=out_image,
        targets=targets,
        weights=weights,
        landmarks=landmarks,
        pose=pose,
        visible=visible,
        mask_source=mask_source,
        transform=transform,
        params=params,
        occluders=occluders,
        face_source=face_source,
        placement_landmarks=placement_crop,
    )
