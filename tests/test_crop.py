"""Crop protocol: 10% larger square box, affine image -> crop with an exact inverse."""
import cv2
import numpy as np
import pytest

from lponet_tf.codec import crop


def _blob(shape, x, y, sigma=3.0):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)).astype(np.float32)


def _centroid(img):
    img = np.where(img > img.max() * 0.05, img, 0)
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return np.array([(img * xx).sum(), (img * yy).sum()]) / img.sum()


def test_square_box_enlarges_each_side_by_ten_percent_and_is_square():
    box = crop.square_box([10, 20, 110, 70])
    x0, y0, x1, y1 = box
    assert x1 - x0 == pytest.approx(120.0) and y1 - y0 == pytest.approx(120.0)
    assert (x0 + x1) / 2 == pytest.approx(60.0) and (y0 + y1) / 2 == pytest.approx(45.0)
    tall = crop.square_box([0, 0, 10, 50], enlarge=0.0)
    assert tall[2] - tall[0] == pytest.approx(50.0)


def test_box_edges_map_to_crop_pixel_extents():
    t = crop.CropTransform.from_box([30, 40, 130, 140], size=64)
    sq = crop.square_box([30, 40, 130, 140])
    corners = t.to_crop(np.array([[sq[0], sq[1]], [sq[2], sq[3]]]))
    np.testing.assert_allclose(corners, [[-0.5, -0.5], [63.5, 63.5]], atol=1e-4)


def test_round_trip_is_exact():
    rng = np.random.default_rng(0)
    lm = rng.uniform(50, 300, (68, 2))
    t = crop.CropTransform.from_landmarks(lm, 256).then(
        cv2.getRotationMatrix2D((127.5, 127.5), 23.0, 1.07)
    )
    back = t.to_image(t.to_crop(lm))
    np.testing.assert_allclose(back, lm, atol=1e-3)
    np.testing.assert_allclose(crop.compose(t.inverse_matrix, t.matrix), np.eye(3)[:2], atol=1e-12)


@pytest.mark.parametrize("size", [64, 256])
def test_warped_image_puts_points_where_the_transform_says(size):
    # A blob at a sub-pixel location: after warping, its centroid must be at to_crop(p).
    # A half-pixel convention error would show up as a 0.5 * scale offset.
    shape = (300, 340)
    p = np.array([151.3, 122.8])
    img = _blob(shape, *p)
    t = crop.CropTransform.from_box([90, 60, 230, 200], size=size)
    warped = t.warp(img)
    np.testing.assert_allclose(_centroid(warped), t.to_crop(p[None])[0], atol=0.05)


def test_inverse_maps_crop_coordinates_back_onto_the_image():
    shape = (240, 260)
    p = np.array([120.4, 100.9])
    t = crop.CropTransform.from_box([60, 50, 180, 170], size=128)
    found_in_crop = _centroid(t.warp(_blob(shape, *p, sigma=4.0)))
    np.testing.assert_allclose(t.to_image(found_in_crop[None])[0], p, atol=0.1)


def test_face_box_prefers_landmarks_then_box_then_image():
    lm = np.array([[10.0, 20.0], [50.0, 80.0]])
    np.testing.assert_allclose(crop.face_box(lm, [0, 0, 5, 5]), [10, 20, 50, 80])
    np.testing.assert_allclose(crop.face_box(None, [0, 0, 5, 5]), [0, 0, 5, 5])
    np.testing.assert_allclose(crop.face_box(None, None, (100, 200)), [-0.5, -0.5, 199.5, 99.5])
    with pytest.raises(ValueError):
        crop.face_box()


def test_rescale_matrix_maps_pixel_extents():
    m = crop.rescale_matrix((512, 512), (1024, 1024))
    pts = crop.transform_points(m, np.array([[-0.5, -0.5], [511.5, 511.5], [0.0, 0.0]]))
    np.testing.assert_allclose(pts, [[-0.5, -0.5], [1023.5, 1023.5], [0.5, 0.5]], atol=1e-9)


def test_negative_box_is_rejected():
    with pytest.raises(ValueError):
        crop.square_box([10, 10, 0, 20])
