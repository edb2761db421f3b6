"""Augmentation: one affine moves image, landmarks and mask; the pose follows exactly."""
import dataclasses

import cv2
import numpy as np
import pytest

from lponet_tf import geometry
from lponet_tf.data import augment as aug
from lponet_tf.codec.crop import compose, transform_points
from lponet_tf.data.sample import prepare_sample
from synthetic_faces import template_68, write_face

S = 128
FLIP_ONLY = dataclasses.replace(aug.AugmentConfig.none(), flip_prob=1.0)


def _symmetric_head(seed=0):
    """A random 3D head model symmetric under the 68-point mirror: m[FLIP] = F m."""
    m0 = np.random.default_rng(seed).normal(size=(68, 3))
    f = np.diag([-1.0, 1.0, 1.0])
    return (m0 + m0[aug.FLIP_68] @ f) / 2.0


def _project(r, m, s=40.0, t=(64.0, 64.0)):
    return s * (m @ np.asarray(r).T)[:, :2] + np.asarray(t)


def test_flip_permutation_pairs_and_involution():
    f = aug.FLIP_68
    assert sorted(f.tolist()) == list(range(68))
    np.testing.assert_array_equal(f[f], np.arange(68))
    pairs = {0: 16, 8: 8, 17: 26, 21: 22, 27: 27, 30: 30, 31: 35, 33: 33, 36: 45, 37: 44, 38: 43, 39: 42,
             40: 47, 41: 46, 48: 54, 49: 53, 50: 52, 51: 51, 55: 59, 56: 58, 57: 57, 60: 64, 61: 63,
             62: 62, 65: 67, 66: 66}
    for a, b in pairs.items():
        assert f[a] == b and f[b] == a


def test_template_is_mirror_symmetric():
    # Sanity of the synthetic face used below: mirroring it gives itself.
    lm = template_68(0.0, 0.0, 100.0)
    mirrored = lm[aug.FLIP_68] * [-1.0, 1.0]
    np.testing.assert_allclose(mirrored, lm, atol=1e-4)


def test_flip_twice_is_identity():
    p = aug.AugmentParams(flip=True)
    m = aug.params_matrix(p, S)
    np.testing.assert_allclose(compose(m, m), np.eye(3)[:2], atol=1e-12)
    lm = np.random.default_rng(1).uniform(0, S, (68, 2))
    once = aug.flip_landmarks_order(transform_points(m, lm))
    twice = aug.flip_landmarks_order(transform_points(m, once))
    np.testing.assert_allclose(twice, lm, atol=1e-4)
    r = geometry.euler_to_matrix([35.0, -12.0, 8.0])
    np.testing.assert_allclose(aug.augment_pose(aug.augment_pose(r, p), p), r, atol=1e-6)


@pytest.mark.parametrize("angle", [90.0, -30.0, 17.5])
def test_known_rotation_moves_landmarks_and_roll(angle):
    p = aug.AugmentParams(angle=angle)
    m = aug.params_matrix(p, S)
    c = (S - 1) / 2.0
    point = np.array([[c + 20.0, c]])
    moved = transform_points(m, point)[0]
    # Counter-clockwise on screen (y down) for a positive angle.
    a = np.deg2rad(angle)
    np.testing.assert_allclose(moved, [c + 20.0 * np.cos(a), c - 20.0 * np.sin(a)], atol=1e-4)
    # Positive roll is clockwise on screen, so a frontal face's roll changes by -angle.
    roll = geometry.matrix_to_euler(aug.augment_pose(geometry.euler_to_matrix([0.0, 0.0, 5.0]), p))[2]
    assert roll == pytest.approx(5.0 - angle, abs=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_pose_label_stays_consistent_with_the_moved_landmarks(seed):
    # Weak perspective: landmarks of a head at pose R, moved by the augmentation, must be
    # the projection of the same head at the augmented pose (up to scale and shift).
    rng = np.random.default_rng(seed)
    head = _symmetric_head(seed)
    r = geometry.euler_to_matrix(rng.uniform([-60, -30, -30], [60, 30, 30]))
    lm = _project(r, head)
    params = aug.sample_params(aug.AugmentConfig(flip_prob=0.5), S, rng)
    moved = transform_points(aug.params_matrix(params, S), lm)
    if params.flip:
        moved = aug.flip_landmarks_order(moved)
    expected = _project(aug.augment_pose(r, params), head, s=40.0 * params.scale, t=(0, 0))
    offset = moved - expected
    np.testing.assert_allclose(offset, np.broadcast_to(offset.mean(0), offset.shape), atol=1e-3)


def test_flipped_pose_projects_onto_flipped_landmarks():
    head = _symmetric_head(3)
    r = geometry.euler_to_matrix([40.0, 10.0, -15.0])
    lm = _project(r, head)
    p = aug.AugmentParams(flip=True)
    moved = aug.flip_landmarks_order(transform_points(aug.params_matrix(p, S), lm))
    expected = _project(aug.augment_pose(r, p), head, t=(0, 0))
    offset = moved - expected
    np.testing.assert_allclose(offset, np.broadcast_to(offset.mean(0), offset.shape), atol=1e-3)
    # Yaw and roll change sign, pitch stays.
    np.testing.assert_allclose(geometry.matrix_to_euler(aug.augment_pose(r, p)), [-40, 10, 15], atol=1e-4)


def test_sample_params_is_deterministic_and_in_range():
    cfg = aug.AugmentConfig()
    a = [aug.sample_params(cfg, 256, np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    draws = [aug.sample_params(cfg, 128, np.random.default_rng(i)) for i in range(300)]
    assert max(abs(d.angle) for d in draws) <= 30.0
    assert max(abs(d.shift[0]) for d in draws) <= 12.5 + 1e-9  # 25 px at 256 -> 12.5 at 128
    assert all(0.9 <= d.scale <= 1.1 for d in draws)
    assert 0.35 < np.mean([d.flip for d in draws]) < 0.65
    assert 0.1 < np.mean([d.blur_sigma > 0 for d in draws]) < 0.3
    assert max(abs(d.angle) for d in draws) > 25.0  # the range is actually used


def test_config_validation():
    with pytest.raises(ValueError):
        aug.AugmentConfig(flip_prob=1.5)
    with pytest.raises(ValueError):
        aug.AugmentConfig(scale=1.0)
    with pytest.raises(ValueError):
        aug.flip_landmarks_order(np.zeros((98, 2)))


# --- through prepare_sample: image, landmarks and mask stay aligned --------------------


@pytest.fixture
def face(tmp_path):
    r = geometry.euler_to_matrix([20.0, 5.0, -10.0])
    return write_face(tmp_path, "face", seed=3, shape=(220, 240), mask=True, pose=r)


def test_flipped_sample_is_the_mirror_image_of_the_plain_one(face):
    plain = prepare_sample(face, S)
    flipped = prepare_sample(face, S, np.random.default_rng(0), augment=FLIP_ONLY)
    assert flipped.params.flip
    diff = np.abs(flipped.image.astype(int) - plain.image[:, ::-1].astype(int))
    assert diff.max() <= 2  # warpAffine's fixed-point sampling can differ by one level
    mirrored = plain.landmarks[aug.FLIP_68] * [-1, 1] + [S - 1, 0]
    np.testing.assert_allclose(flipped.landmarks, mirrored, atol=1e-4)
    np.testing.assert_allclose(flipped.visible, plain_visible(face)[:, ::-1], atol=1e-3)


def plain_visible(record):
    from lponet_tf.data.sample import load_mask
    from lponet_tf.codec.crop import CropTransform, face_box

    t = CropTransform.from_box(face_box(record.landmarks), S)
    return t.warp(load_mask(record.mask_path))


@pytest.mark.parametrize("seed", range(6))
def test_dot_drawn_at_a_landmark_lands_on_the_augmented_landmark(face, seed):
    img = cv2.cvtColor(cv2.imread(face.image_path), cv2.COLOR_BGR2RGB)
    idx = 36  # an eye corner: under a flip it becomes point 45
    x, y = face.landmarks[idx]
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    blob = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.5**2))
    img = img.astype(np.float32) * 0.2
    img[..., 1] += 200 * blob  # a bright green dot
    img = np.clip(img, 0, 255).astype(np.uint8)
    cfg = dataclasses.replace(aug.AugmentConfig(), blur_prob=0.0)
    s = prepare_sample(face, S, np.random.default_rng(seed), augment=cfg, image=img)
    g = s.image[..., 1].astype(np.float32) - 0.2 * 255
    g = np.where(g > 0.3 * g.max(), g, 0)
    found = np.array([(g * np.mgrid[0:S, 0:S][1]).sum(), (g * np.mgrid[0:S, 0:S][0]).sum()]) / g.sum()
    where = aug.FLIP_68[idx] if s.params.flip else idx
    np.testing.assert_allclose(found, s.landmarks[where], atol=0.35)


@pytest.mark.parametrize("seed", range(8))
def test_augmented_mask_still_covers_the_augmented_landmarks(face, seed):
    s = prepare_sample(face, S, np.random.default_rng(seed), augment=aug.AugmentConfig())
    inside = (s.landmarks >= 0).all(1) & (s.landmarks <= S - 1).all(1)
    assert inside.sum() > 50
    xi, yi = np.round(s.landmarks[inside]).astype(int).T
    assert (s.visible[yi, xi] > 0.5).all()
    assert s.weights["occlusion"] == 1.0
    # The S/4 target is the area average of the full-resolution mask.
    v = s.targets["occlusion"][..., 1]
    np.testing.assert_allclose(v, s.visible.reshape(S // 4, 4, S // 4, 4).mean((1, 3)), atol=1e-5)


def test_same_generator_state_gives_the_same_sample(face):
    cfg = aug.AugmentConfig(blur_prob=1.0)
    a = prepare_sample(face, S, np.random.default_rng(11), augment=cfg)
    b = prepare_sample(face, S, np.random.default_rng(11), augment=cfg)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    c = prepare_sample(face, S, np.random.default_rng(12), augment=cfg)
    assert not np.array_equal(a.landmarks, c.landmarks)


def test_flip_keeps_the_labels_x_offset(face):
    """Labels sitting ``d`` image px right of the true points stay ``d`` px right after a
    flip (by hand: mirror the true crop points, then add ``d`` crop-scaled)."""
    from lponet_tf.codec.crop import CropTransform, face_box

    d = 1.8
    plain = prepare_sample(face, S)
    keep = dataclasses.replace(FLIP_ONLY, flip_label_x_offset=d)
    flipped = prepare_sample(face, S, np.random.default_rng(0), augment=keep)
    s = CropTransform.from_box(face_box(face.landmarks), S).matrix[0, 0]
    true_crop = plain.landmarks - [d * s, 0.0]
    expected = (true_crop * [-1, 1] + [S - 1, 0])[aug.FLIP_68] + [d * s, 0.0]
    np.testing.assert_allclose(flipped.landmarks, expected, atol=1e-4)
    # without the setting the flip teaches the opposite offset: 2 d s to the left
    bare = prepare_sample(face, S, np.random.default_rng(0), augment=FLIP_ONLY)
    np.testing.assert_allclose(flipped.landmarks - bare.landmarks, np.tile([2 * d * s, 0.0], (68, 1)), atol=1e-4)
    with pytest.raises(ValueError, match="flip_label_x_offset"):
        aug.AugmentConfig(flip_label_x_offset=50.0)


# --- photometric changes (not in the paper; off by default) -------------------------------


def test_photometric_against_the_formula_by_hand():
    rng = np.random.default_rng(5)
    crop = rng.integers(0, 256, (6, 7, 3)).astype(np.uint8)
    gamma, contrast, brightness = 1.7, 0.6, 0.8
    x = (crop / 255.0) ** gamma
    want = np.clip(((x - x.mean()) * contrast + x.mean()) * brightness * 255.0, 0, 255)
    np.testing.assert_allclose(aug.photometric(crop, (gamma, contrast, brightness, False)), want, atol=0.51)
    luma = crop @ np.array([0.299, 0.587, 0.114])
    gray = aug.photometric(crop, (1.0, 1.0, 1.0, True))
    np.testing.assert_allclose(gray[..., 0], luma, atol=0.51)
    assert (gray[..., 0] == gray[..., 2]).all()
    # Float crops (raw 0..255 values) keep their dtype; no change is the input itself.
    f = aug.photometric(crop.astype(np.float32), (gamma, contrast, brightness, False))
    assert f.dtype == np.float32 and np.abs(f - want).max() < 1e-3
    assert aug.photometric(crop, (1.0, 1.0, 1.0, False)) is crop


def test_photometric_draws_use_their_ranges_and_keep_the_other_streams():
    off = aug.AugmentConfig(out_of_plane_prob=0.5)
    on = dataclasses.replace(off, photometric_prob=0.5, photometric_gray=0.4)
    draws = [aug.sample_params(on, 128, np.random.default_rng(i)) for i in range(2000)]
    fired = [d.photometric for d in draws if d.photometric != (1.0, 1.0, 1.0, False)]
    assert 0.45 < len(fired) / len(draws) < 0.55
    gamma, contrast, brightness, gray = np.array(fired, dtype=float).T
    assert gamma.min() >= 0.5 and gamma.max() <= 2.0 and gamma.min() < 0.55 and gamma.max() > 1.9
    assert 0.45 < np.mean(gamma > 1) < 0.55  # log-uniform: as often darker as lighter
    assert contrast.min() >= 0.5 and contrast.max() <= 1.5 and brightness.min() >= 0.5
    assert 0.35 < gray.mean() < 0.45
    for i in range(200):  # the geometric draws and the turns are the ones drawn without it
        a = aug.sample_params(off, 128, np.random.default_rng(i))
        b = aug.sample_params(on, 128, np.random.default_rng(i))
        assert dataclasses.replace(b, photometric=(1.0, 1.0, 1.0, False)) == a
    with pytest.raises(ValueError, match="photometric_gamma"):
        aug.AugmentConfig(photometric_gamma=0.5)
    with pytest.raises(ValueError, match="photometric_brightness"):
        aug.AugmentConfig(photometric_brightness=1.0)


def test_a_photometric_change_moves_no_label(face):
    cfg = dataclasses.replace(aug.AugmentConfig(), blur_prob=0.0)
    plain = prepare_sample(face, S, np.random.default_rng(3), augment=cfg)
    dark = prepare_sample(face, S, np.random.default_rng(3),
                          augment=dataclasses.replace(cfg, photometric_prob=1.0, photometric_gray=1.0))
    g, c, b, gray = dark.params.photometric
    assert gray and (g, c, b) != (1.0, 1.0, 1.0)
    np.testing.assert_allclose(dark.landmarks, plain.landmarks, atol=1e-5)
    np.testing.assert_allclose(dark.targets["heatmaps"], plain.targets["heatmaps"], atol=1e-6)
    np.testing.assert_allclose(dark.visible, plain.visible, atol=1e-6)
    # The image is the plain sample's with the change applied (its geometry untouched).
    np.testing.assert_array_equal(dark.image, aug.photometric(plain.image, dark.params.photometric))


def test_off_grid_targets_change_the_targets_only(face):
    """``off_grid_targets`` draws nothing: the same generator state gives the same crop and
    points, and only the maps of the points pushed off the grid differ (their tails)."""
    from lponet_tf.heatmaps import encode_heatmaps

    shifted = dataclasses.replace(aug.AugmentConfig.none(), translation_px=60.0, reference_size=S)
    seed = next(s for s in range(50) if (prepare_sample(
        face, S, np.random.default_rng(s), augment=shifted).landmarks < -1.5).any())
    a = prepare_sample(face, S, np.random.default_rng(seed), augment=shifted)
    b = prepare_sample(face, S, np.random.default_rng(seed),
                       augment=dataclasses.replace(shifted, off_grid_targets="tail"))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    np.testing.assert_allclose(a.targets["heatmaps"], encode_heatmaps(a.landmarks, S), atol=1e-7)
    np.testing.assert_allclose(b.targets["heatmaps"], encode_heatmaps(b.landmarks, S, off_grid="tail"),
                               atol=1e-7)
    cell = np.floor((a.landmarks + 0.5) / 4.0)  # the nearest grid cell, u rounded
    off = ((cell < 0) | (cell > S // 4 - 1)).any(axis=1)
    assert off.any()
    assert not a.targets["heatmaps"][..., off].any() and b.targets["heatmaps"][..., off].any()
    np.testing.assert_array_equal(a.targets["heatmaps"][..., ~off], b.targets["heatmaps"][..., ~off])
    with pytest.raises(ValueError, match="off_grid_targets must be one of"):
        aug.AugmentConfig(off_grid_targets="clip")
