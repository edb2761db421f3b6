"""The face codec's crop (lponet_tf.codec.crop): one box -> crop transform and one warp for
training, evaluation, export and FaceAnalyzer.

References are independent of the module: the pre-shrink written out as the Java core's
``FaceCrop`` does it (from the square box, android_demo/core), cv2 calls by hand, and
area-averaged ideals.
"""
import math

import cv2
import numpy as np
import pytest

from lponet_tf.codec.crop import CropTransform, box_from_landmarks, crop_face, square_box
from lponet_tf.data.augment import AugmentParams, params_matrix
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import prepare_sample


def _java_face_crop(image, box, size):
    """``FaceCrop.crop`` of the Java core, line by line (integers from the square box)."""
    t = CropTransform.from_box(box, size)
    factor = int(1.0 / t.matrix[0, 0])
    if factor < 2:
        return cv2.warpAffine(image, t.matrix, (size, size), flags=cv2.INTER_LINEAR)
    sq = square_box(box)
    h, w = image.shape[:2]
    x0, y0 = max(0, math.floor(sq[0]) - factor), max(0, math.floor(sq[1]) - factor)
    x1, y1 = min(w, math.ceil(sq[2]) + factor + 1), min(h, math.ceil(sq[3]) + factor + 1)
    if x1 - x0 < 2 * factor or y1 - y0 < 2 * factor:
        return cv2.warpAffine(image, t.matrix, (size, size), flags=cv2.INTER_LINEAR)
    roi = image[y0:y1, x0:x1]
    nw, nh = max(1, round(roi.shape[1] / factor)), max(1, round(roi.shape[0] / factor))
    small = cv2.resize(roi, (nw, nh), interpolation=cv2.INTER_AREA)
    sx, sy = nw / roi.shape[1], nh / roi.shape[0]
    # crop <- image <- small: x = (x_s + 0.5) / sx - 0.5 + x0
    from_small = np.array([[1 / sx, 0, x0 + 0.5 / sx - 0.5], [0, 1 / sy, y0 + 0.5 / sy - 0.5], [0, 0, 1]])
    m = (np.vstack([t.matrix, [0, 0, 1]]) @ from_small)[:2]
    return cv2.warpAffine(small, m, (size, size), flags=cv2.INTER_LINEAR)


def _boxes(rng, n):
    """Random boxes, half of them on integer coordinates (floor / ceil edge cases), some
    partly or wholly outside a 900 x 700 image."""
    out = []
    for i in range(n):
        x0, y0 = rng.uniform(-300, 800, 2)
        side = rng.uniform(20, 700)
        b = np.float32([x0, y0, x0 + side * rng.uniform(0.7, 1.3), y0 + side])
        out.append(np.round(b) if i % 2 else b)
    return out


def test_warp_is_the_java_cores_face_crop_bit_for_bit():
    """The analyzer's crop did not move (so the Android goldens hold) now that the
    pre-shrink lives in the warp, for shrink factors 1..10 and edge cases."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (700, 900, 3), np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 2.0)  # some structure for the resampling
    factors = set()
    for i, box in enumerate(_boxes(rng, 60)):
        size = (64, 128, 256)[i % 3]
        crop, t = crop_face(image, box, size)
        factors.add(t.shrink_factor)
        np.testing.assert_array_equal(crop, _java_face_crop(image, box, size), err_msg=str(box))
    assert {1, 2, 3}.issubset(factors) and max(factors) >= 8


def test_training_crop_is_the_analyzer_crop():
    """prepare_sample (no augmentation) crops a labelled face exactly as crop_face crops its
    landmark box, also when the face is shrunk more than 2x (the pre-shrink)."""
    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur(rng.integers(0, 256, (900, 900, 3), np.uint8), (0, 0), 1.5)
    pts = rng.uniform(150, 750, (68, 2)).astype(np.float32)
    sample = prepare_sample(FaceRecord("face.png", landmarks=pts), 64, image=image)
    crop, t = crop_face(image, box_from_landmarks(pts), 64)
    assert t.shrink_factor >= 2
    np.testing.assert_array_equal(sample.transform.matrix, t.matrix)
    np.testing.assert_array_equal(sample.image, crop)


def test_an_augmented_shrinking_warp_is_antialiased():
    """A rotated, scaled crop (training augmentation) of a face 8x the crop: the warp's
    pre-shrink brings it much closer to the ideal (the image area-averaged to the crop's
    scale first, then warped) than a straight bilinear warp."""
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (900, 900, 3), np.uint8)
    big = np.repeat(np.repeat(big[::6, ::6], 6, 0), 6, 1)  # detail at 6 px
    params = AugmentParams(angle=20.0, scale=0.9)
    t = CropTransform.from_box([130, 130, 770, 770], 96).then(params_matrix(params, 96))
    assert t.shrink_factor >= 4
    ours = t.warp(big).astype(float)
    plain = cv2.warpAffine(big, t.matrix, (96, 96), flags=cv2.INTER_LINEAR).astype(float)
    f = t.shrink_factor
    small = cv2.resize(big, (900 // f, 900 // f), interpolation=cv2.INTER_AREA)
    to_small = np.array([[1 / f, 0, 0.5 / f - 0.5], [0, 1 / f, 0.5 / f - 0.5]])
    ideal_m = (np.vstack([t.matrix, [0, 0, 1]]) @ np.linalg.inv(np.vstack([to_small, [0, 0, 1]])))[:2]
    ideal = cv2.warpAffine(small, ideal_m, (96, 96), flags=cv2.INTER_LINEAR).astype(float)
    inner = (slice(12, -12), slice(12, -12))
    err_ours, err_plain = np.abs(ours - ideal)[inner].mean(), np.abs(plain - ideal)[inner].mean()
    assert err_ours < 0.5 * err_plain, (err_ours, err_plain)


def test_nearest_and_upscaling_warps_are_plain_warp_affine():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (300, 300), np.uint8)
    big = CropTransform.from_box([0, 0, 280, 280], 64)
    np.testing.assert_array_equal(
        big.warp(image, interpolation=cv2.INTER_NEAREST),
        cv2.warpAffine(image, big.matrix, (64, 64), flags=cv2.INTER_NEAREST))
    up = CropTransform.from_box([100, 100, 140, 140], 64)
    np.testing.assert_array_equal(up.warp(image), cv2.warpAffine(image, up.matrix, (64, 64)))


def test_box_from_landmarks_ignores_non_finite_points():
    pts = np.array([[1, 2], [5, 3], [np.nan, 100], [np.inf, 0], [2, 9]], np.float32)
    assert box_from_landmarks(pts).tolist() == [1, 2, 5, 9]
    with pytest.raises(ValueError, match="finite"):
        box_from_landmarks(np.full((3, 2), np.nan))


# -- what prepare_sample refuses --------------------------------------------------------
@pytest.mark.parametrize("size", [0, -8, 2, 6, 64.0, True, "64"])
def test_prepare_sample_refuses_an_input_size_that_is_no_crop(size):
    """A whole number >= 4 and a multiple of 4: -8 used to end in numpy's "negative
    dimensions", 0 in a 0 x 0 sample."""
    record = FaceRecord("face.png", landmarks=np.random.default_rng(0).uniform(20, 80, (68, 2)))
    with pytest.raises(ValueError, match=r"input_size must be a whole number >= 4 and a multiple of 4, got"):
        prepare_sample(record, size, image=np.zeros((100, 100, 3), np.uint8))


@pytest.mark.parametrize("shift", [5000.0, 1e7, -130.0])
def test_landmarks_off_the_image_are_refused_naming_the_annotation_file(tmp_path, shift):
    """Labels of another copy of the photo (resized or cropped) used to crop black border
    and label it as a face (heatmap weight 1)."""
    from lponet_tf.data import read_dataset
    from lponet_tf.data.pts import write_pts
    from lponet_tf.errors import DataError
    from synthetic_faces import write_300w_folder

    root = write_300w_folder(tmp_path / "w300", 2)
    pts = root / "face_001.pts"
    records = read_dataset("300w", root)
    write_pts(pts, records[1].landmarks + shift)
    moved = read_dataset("300w", root)[1]
    assert prepare_sample(records[0], 64).weights["heatmaps"] == 1.0  # the other face is fine
    with pytest.raises(DataError) as err:
        prepare_sample(moved, 64)
    assert err.value.path == str(pts) and "the landmarks lie outside the 120x120 image" in str(err.value)
    # without an annotation file, the image is named
    bare = FaceRecord(moved.image_path, landmarks=moved.landmarks)
    with pytest.raises(DataError) as err:
        prepare_sample(bare, 64)
    assert err.value.path == moved.image_path


def test_landmarks_partly_off_the_image_are_kept():
    """A face at the border (more than half of the landmark box inside) is a real face."""
    from lponet_tf.data.sample import landmarks_inside_share

    lm = np.stack([np.linspace(60, 120, 68), np.linspace(20, 80, 68)], axis=1)  # x to 120 in 100 px
    assert landmarks_inside_share(lm, (100, 100, 3)) == pytest.approx(39.5 / 60)
    sample = prepare_sample(FaceRecord("face.png", landmarks=lm), 64,
                            image=np.full((100, 100, 3), 90, np.uint8))
    assert sample.weights["heatmaps"] == 1.0 and sample.image.max() == 90


def test_missing_landmarks_marked_nan_are_left_out_of_the_image_check():
    """NaN marks a missing point (encode_heatmaps gives it an empty map): one such point made
    the whole face read "outside the image" (its share was 0); an all-NaN face is named so."""
    from lponet_tf.data.sample import landmarks_inside_share
    from lponet_tf.errors import DataError

    lm = np.random.default_rng(0).uniform(30, 90, (68, 2))
    lm[5] = np.nan
    sample = prepare_sample(FaceRecord("x.png", landmarks=lm), 64, image=np.zeros((120, 120, 3), np.uint8))
    maps = sample.targets["heatmaps"]
    assert maps[..., 5].max() == 0.0 and maps[..., 4].max() > 0.5 and sample.weights["heatmaps"] == 1.0
    assert landmarks_inside_share([[10, 10], [np.nan, 3], [np.inf, 5]], (100, 100)) == 0.0  # inf: not missing
    lm[:, 0] += 500.0  # still refused when the points there are outside
    with pytest.raises(DataError, match=r"lie outside the 120x120 image \(x 5\d\d"):
        prepare_sample(FaceRecord("x.png", landmarks=lm), 64, image=np.zeros((120, 120, 3), np.uint8))
    with pytest.raises(DataError, match="every landmark is missing"):
        prepare_sample(FaceRecord("x.png", landmarks=np.full((68, 2), np.nan)), 64,
                       image=np.zeros((120, 120, 3), np.uint8))
