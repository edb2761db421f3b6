"""lponet_tf.draw: colours by visibility, mask tint inside the crop only, pose axes, BGR."""
import numpy as np
import pytest

import lponet_tf
from analyzer_fixtures import FACE_BOX as BOX, make_face
from lponet_tf.codec.crop import square_box
from lponet_tf.errors import ImageError
from lponet_tf.visualize import AXIS_COLORS, MASK_COLOR, draw, visibility_color


def near(pixel, color, tol=40):
    return np.all(np.abs(pixel.astype(int) - color) <= tol)


def test_public_draw_returns_a_copy_and_no_faces_is_identity():
    img = np.full((200, 220, 3), 90, np.uint8)
    assert lponet_tf.draw is draw
    out = draw(img, [])
    assert out.shape == img.shape and out.dtype == np.uint8 and out is not img
    np.testing.assert_array_equal(out, img)


def test_landmarks_are_green_when_visible_and_red_when_occluded():
    img = np.full((200, 220, 3), 90, np.uint8)
    vis = np.ones(68, np.float32)
    vis[48:] = 0.0  # mouth occluded
    face = make_face(vis)
    out = draw(img, [face], mask=False, axes=False, label=False, box=False)
    np.testing.assert_array_equal(img, 90)  # input untouched
    eye = np.round(face.landmarks[37]).astype(int)
    lip = np.round(face.landmarks[51]).astype(int)
    assert near(out[eye[1], eye[0]], visibility_color(1.0))
    assert near(out[lip[1], lip[0]], visibility_color(0.0))
    assert visibility_color(0.5) == (245, 210, 40)


def test_mask_tints_only_the_crop_region():
    img = np.full((200, 220, 3), 90, np.uint8)
    out = draw(img, [make_face(mask_value=1.0)], landmarks=False, axes=False, label=False,
               box=False)
    x0, y0, x1, y1 = square_box(BOX)
    inside, outside = out[int(y0) + 20, int(x0) + 5], out[int(y0) + 20, int(x0) - 5]
    assert inside[2] > 130 and inside[0] < 80       # blue tint
    np.testing.assert_array_equal(outside, [90, 90, 90])
    # Zero probability: no tint anywhere.
    plain = draw(img, [make_face(mask_value=0.0)], landmarks=False, axes=False, label=False,
                 box=False)
    np.testing.assert_array_equal(plain, img)


def test_pose_axes_follow_the_rotation():
    img = np.zeros((200, 220, 3), np.uint8)
    face = make_face()
    nose = face.landmarks[30]
    out = draw(img, [face], mask=False, landmarks=False, label=False, box=False)
    # Frontal: the x axis (red) points to the image right, y (green) down.
    assert near(out[int(round(nose[1])), int(nose[0] + 30)], AXIS_COLORS[0])
    assert near(out[int(nose[1] + 30), int(round(nose[0]))], AXIS_COLORS[1])
    # Roll 90 degrees clockwise: the x axis now points down.
    rolled = draw(img, [make_face(ypr=(0, 0, 90))], mask=False, landmarks=False, label=False,
                  box=False)
    assert near(rolled[int(nose[1] + 30), int(round(nose[0]))], AXIS_COLORS[0])


def test_bgr_in_bgr_out():
    img = np.zeros((200, 220, 3), np.uint8)
    face = make_face()
    rgb = draw(img, [face])
    bgr = draw(img, [face], rgb=False)
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])


def test_broken_faces_do_not_crash():
    img = np.zeros((50, 50, 3), np.uint8)
    face = make_face()
    face.box = np.array([np.nan, 0, 1, 1], np.float32)
    np.testing.assert_array_equal(draw(img, [face]), img)
    far = make_face()
    far.landmarks = far.landmarks + 5000
    far.box = far.box + 5000
    far.crop_box = far.crop_box + 5000
    assert draw(img, [far]).shape == img.shape


def test_facing_axis_points_where_a_yawed_face_looks():
    # yaw > 0: the face turns to the image left (lponet_tf.geometry), so its facing axis
    # (-z, third colour) goes left of the nose tip, by sin(45) x half the face size.
    img = np.zeros((200, 220, 3), np.uint8)
    face = make_face(ypr=(45.0, 0.0, 0.0))
    nose = face.landmarks[30]
    out = draw(img, [face], mask=False, landmarks=False, label=False, box=False)
    y = int(round(nose[1]))
    assert near(out[y, int(round(nose[0] - 25))], AXIS_COLORS[2])
    assert not near(out[y, int(round(nose[0] + 25))], AXIS_COLORS[2])


def test_mask_tint_is_the_documented_35_percent_blend():
    img = np.full((200, 220, 3), 90, np.uint8)
    out = draw(img, [make_face(mask_value=1.0)], landmarks=False, axes=False, label=False,
               box=False)
    x0, y0, _, _ = square_box(BOX)
    want = 90 * 0.65 + np.asarray(MASK_COLOR, np.float64) * 0.35
    assert np.all(np.abs(out[int(y0) + 20, int(x0) + 5].astype(float) - want) <= 1.0)


def test_draw_takes_the_value_range_analyze_takes():
    """A float frame holding 8-bit values, as FaceAnalyzer.create(value_range=(0, 255))
    analyses it: draw() with the same value_range gives the uint8 frame's picture; without
    it, the ImageError's advice (pass value_range) is an argument draw() takes."""
    img = np.full((200, 220, 3), 90, np.uint8)
    img[:, :110] = 200
    faces = [make_face(mask_value=0.5)]
    want = draw(img, faces)
    np.testing.assert_array_equal(draw(img.astype(np.float32), faces, value_range=(0, 255)), want)
    np.testing.assert_array_equal(
        draw(img.astype(np.float64) / 127.5 - 1.0, faces, value_range=(-1, 1)), want)
    with pytest.raises(ImageError, match="value_range=\\(0, 255\\)"):
        draw(img.astype(np.float32), faces)
