"""Synthetic occlusion: each occluder paints the image and removes itself from the label."""
import dataclasses

import numpy as np
import pytest

from lponet_tf.data import occlusion as occ
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import prepare_sample
from lponet_tf.errors import DataError
from synthetic_faces import draw_face, template_68, write_face

S = 128
ALWAYS = occ.OcclusionConfig(prob=1.0)


def _face(seed=0, roll=0.0):
    lm = template_68(S / 2, S / 2 + 4, size=S * 0.6, roll_deg=roll)
    return draw_face((S, S), lm, seed), lm


def _at(mask, p):
    return mask[int(round(p[1])), int(round(p[0]))]


def test_landmark_face_region_covers_landmarks_and_a_forehead_band():
    _, lm = _face()
    vis = occ.visible_face_from_landmarks(lm, (S, S), forehead=0.25)
    xi, yi = np.round(lm).astype(int).T
    assert (vis[yi, xi] > 0.4).all()  # hull edge pixels are anti-aliased
    brow_top = lm[17:27, 1].min()
    chin_to_bridge = np.hypot(*(lm[27] - lm[8]))
    assert vis[int(brow_top - 0.2 * chin_to_bridge), S // 2] == 1.0  # forehead included
    assert vis[int(brow_top - 0.35 * chin_to_bridge), S // 2] == 0.0  # hair line excluded
    assert vis[2, 2] == 0.0 and vis[S - 3, S - 3] == 0.0


@pytest.mark.parametrize("kind", occ.OCCLUDER_KINDS)
@pytest.mark.parametrize("seed", range(4))
def test_occluder_changes_image_and_label_together(kind, seed):
    img, lm = _face(seed, roll=10.0 * (seed - 1.5))
    before = img.copy()
    vis = np.ones((S, S), np.float32)
    drawn = occ.occlude(img, vis, lm, ALWAYS, np.random.default_rng(seed), kinds=[kind])
    assert drawn == [kind]
    covered = vis < 1.0
    assert covered.mean() > 0.01  # something was drawn
    assert (vis >= 0).all() and (vis <= 1).all()
    # Outside the coverage the picture is untouched; fully covered pixels changed label.
    np.testing.assert_array_equal(img[~covered], before[~covered])
    assert (vis[covered] < 1).all()


def test_face_mask_covers_mouth_and_nose_tip_but_not_the_eyes():
    for seed in range(6):
        img, lm = _face(seed)
        vis = np.ones((S, S), np.float32)
        occ.occlude(img, vis, lm, ALWAYS, np.random.default_rng(seed), kinds=["mask"])
        assert _at(vis, lm[48:68].mean(0)) == 0.0
        assert _at(vis, lm[57]) == 0.0
        assert _at(vis, lm[33]) < 0.5
        assert _at(vis, lm[36:42].mean(0)) == 1.0 and _at(vis, lm[42:48].mean(0)) == 1.0


def test_varied_masks_cover_the_lower_face_with_any_fit_and_colour():
    varied = dataclasses.replace(ALWAYS, mask_variety=1.0)
    chin_cover, colours = [], []
    for seed in range(16):
        img, lm = _face(seed)
        vis = np.ones((S, S), np.float32)
        occ.occlude(img, vis, lm, varied, np.random.default_rng(seed), kinds=["mask"])
        assert _at(vis, lm[48:68].mean(0)) == 0.0 and _at(vis, lm[33]) < 0.5
        assert _at(vis, lm[36:42].mean(0)) == 1.0 and _at(vis, lm[42:48].mean(0)) == 1.0
        # how far below the chin point the mask reaches, in face heights
        below = np.nonzero(vis[:, int(round(lm[8, 0]))] < 0.5)[0].max() - lm[8, 1]
        chin_cover.append(below / (lm[8, 1] - lm[27, 1]))
        colours.append(img[vis < 0.5].mean(0))
    assert min(chin_cover) < 0.01 < 0.06 < max(chin_cover)   # skin-tight to sagging
    assert np.ptp(np.stack(colours), axis=0).max() > 100      # not a few fixed colours
    # the fixed styles never fit tight: their edge stands off the jaw and sags
    for seed in range(16):
        img, lm = _face(seed)
        vis = np.ones((S, S), np.float32)
        occ.occlude(img, vis, lm, ALWAYS, np.random.default_rng(seed), kinds=["mask"])
        below = np.nonzero(vis[:, int(round(lm[8, 0]))] < 0.5)[0].max() - lm[8, 1]
        assert below / (lm[8, 1] - lm[27, 1]) > 0.01


def test_mask_variety_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="mask_variety"):
        occ.OcclusionConfig(mask_variety=1.5)


def test_sunglasses_cover_both_eyes_but_not_the_mouth():
    for seed in range(6):
        img, lm = _face(seed)
        vis = np.ones((S, S), np.float32)
        occ.occlude(img, vis, lm, ALWAYS, np.random.default_rng(seed), kinds=["sunglasses"])
        assert _at(vis, lm[36:42].mean(0)) == 0.0 and _at(vis, lm[42:48].mean(0)) == 0.0
        assert _at(vis, lm[48:68].mean(0)) == 1.0


def test_hand_is_skin_toned():
    from lponet_tf.data.occluders.hands import SKIN_TONES

    img, lm = _face(1)
    vis = np.ones((S, S), np.float32)
    occ.occlude(img, vis, lm, ALWAYS, np.random.default_rng(5), kinds=["hand"])
    pixels = img[vis == 0].astype(float)
    assert len(pixels) > 50
    # Skin: red >= green >= blue on average, like every tone of the palette.
    r, g, b = pixels.mean(0)
    assert r >= g >= b
    assert (SKIN_TONES[:, 0] >= SKIN_TONES[:, 2]).all()


def test_sampling_respects_probability_weights_and_landmark_needs():
    img, lm = _face()
    vis = np.ones((S, S), np.float32)
    assert occ.occlude(img, vis, lm, occ.OcclusionConfig(prob=0.0), np.random.default_rng(0)) == []
    only_hands = occ.OcclusionConfig(prob=1.0, mask_weight=0, sunglasses_weight=0, patch_weight=0)
    assert occ.occlude(img, vis, lm, only_hands, np.random.default_rng(0)) == ["hand"]
    seen = set()
    for seed in range(40):
        seen.update(occ.occlude(img.copy(), vis.copy(), None, ALWAYS, np.random.default_rng(seed)))
    assert seen == {"hand", "patch"}  # no landmarks: no masks or sunglasses
    with pytest.raises(ValueError):
        occ.occlude(img, vis, None, ALWAYS, np.random.default_rng(0), kinds=["mask"])
    two = occ.OcclusionConfig(prob=1.0, max_occluders=2)
    counts = {len(occ.occlude(img.copy(), vis.copy(), lm, two, np.random.default_rng(s))) for s in range(20)}
    assert counts == {1, 2}


def test_occlusion_is_deterministic_given_the_generator():
    outs = []
    for _ in range(2):
        img, lm = _face(2)
        vis = np.ones((S, S), np.float32)
        occ.occlude(img, vis, lm, dataclasses.replace(ALWAYS, max_occluders=3), np.random.default_rng(9))
        outs.append((img, vis))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


# --- in prepare_sample: labels, weights and the approximate mask -----------------------


def test_occluded_label_is_the_mask_label_minus_the_occluder(tmp_path):
    rec = write_face(tmp_path, "f", seed=4, mask=True)
    for seed in range(5):
        plain = prepare_sample(rec, S, np.random.default_rng(seed))
        hit = prepare_sample(rec, S, np.random.default_rng(seed), occlusion=ALWAYS)
        assert hit.mask_source == "label" and hit.weights["occlusion"] == 1.0
        assert (hit.visible <= plain.visible + 1e-6).all()
        assert (hit.visible < plain.visible - 0.5).any()
        t = hit.targets["occlusion"]
        np.testing.assert_allclose(t.sum(-1), 1.0, atol=1e-6)
        np.testing.assert_allclose(t[..., 1], hit.visible.reshape(S // 4, 4, S // 4, 4).mean((1, 3)), atol=1e-5)


def test_blur_covers_the_occluder_as_the_face(tmp_path, monkeypatch):
    """A blurred photo blurs what covers the face too: the sample equals the unblurred one
    (the same draws) blurred afterwards. Blurring before the occluders left them sharp on a
    blurred face, an edge the network could learn to find occluders by."""
    import cv2

    from lponet_tf.data import augment as aug

    rec = write_face(tmp_path, "f", seed=6, mask=True)
    cfg = dataclasses.replace(aug.AugmentConfig(), blur_prob=1.0, blur_sigma=(4.0, 4.0),
                              flip_prob=0.0)
    blurred = prepare_sample(rec, S, np.random.default_rng(3), augment=cfg, occlusion=ALWAYS)
    assert blurred.occluders
    sigmas = []
    monkeypatch.setattr(aug, "blur", lambda image, sigma: sigmas.append(sigma) or image)
    sharp = prepare_sample(rec, S, np.random.default_rng(3), augment=cfg, occlusion=ALWAYS)
    assert sharp.occluders == blurred.occluders and sigmas[0] == pytest.approx(4.0 * S / 256)
    by_hand = cv2.GaussianBlur(sharp.image, (0, 0), sigmaX=sigmas[0], sigmaY=sigmas[0])
    assert np.abs(blurred.image.astype(float) - by_hand.astype(float)).max() <= 1.0


def test_landmark_only_samples_keep_the_mask_loss_off_unless_asked(tmp_path):
    rec = write_face(tmp_path, "f", seed=5)
    s = prepare_sample(rec, S, np.random.default_rng(0), occlusion=ALWAYS)
    assert s.mask_source == "landmarks" and s.visible is not None
    assert s.weights["occlusion"] == 0.0 and not s.targets["occlusion"].any()
    cfg = dataclasses.replace(ALWAYS, approx_mask_weight=0.5)
    s = prepare_sample(rec, S, np.random.default_rng(0), occlusion=cfg)
    assert s.weights["occlusion"] == 0.5
    assert s.targets["occlusion"][..., 1].max() == 1.0


def test_partial_labels_give_zero_targets_and_weights(tmp_path):
    from lponet_tf.geometry import euler_to_matrix

    full = write_face(tmp_path, "f", seed=6, mask=True)
    cases = {
        "landmarks": FaceRecord(full.image_path, landmarks=full.landmarks),
        "pose": FaceRecord(full.image_path, pose=euler_to_matrix([10, 5, 3]), box=[40, 40, 160, 160]),
        "mask": FaceRecord(full.image_path, mask_path=full.mask_path),
    }
    expect = {"landmarks": (1, 0, 0), "pose": (0, 1, 0), "mask": (0, 0, 1)}
    for name, rec in cases.items():
        for fmt, pose_shape in (("matrix", (3, 3)), ("euler", (3,))):
            s = prepare_sample(rec, S, np.random.default_rng(0), occlusion=ALWAYS, pose_format=fmt)
            w = tuple(float(s.weights[k]) for k in ("heatmaps", "pose", "occlusion"))
            assert w == expect[name], name
            assert s.targets["heatmaps"].shape == (S // 4, S // 4, 68)
            assert s.targets["pose"].shape == pose_shape
            assert s.targets["occlusion"].shape == (S // 4, S // 4, 2)
            for task, weight in zip(("heatmaps", "pose", "occlusion"), w):
                assert bool(s.targets[task].any()) == bool(weight), (name, task)
            assert s.image.shape == (S, S, 3) and s.image.dtype == np.uint8


def test_missing_or_bad_image_raises_data_error_naming_the_file(tmp_path):
    with pytest.raises(DataError, match="nope.jpg"):
        prepare_sample(FaceRecord(str(tmp_path / "nope.jpg"), box=[0, 0, 9, 9]), S)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match="broken.jpg"):
        prepare_sample(FaceRecord(str(bad), box=[0, 0, 9, 9]), S)
    good = write_face(tmp_path, "g", seed=1)
    with pytest.raises(DataError, match="gone_mask.png"):
        prepare_sample(FaceRecord(good.image_path, mask_path=str(tmp_path / "gone_mask.png")), S)


def test_composite_rounds_the_blend_to_the_nearest_level_and_scales_the_label():
    from lponet_tf.data.occluders.base import Layer, composite

    image = np.zeros((2, 2, 3), np.uint8)
    visible = np.ones((2, 2), np.float32)
    layer = Layer(np.full((2, 2), 128, np.uint8), np.full((2, 2, 3), 201, np.uint8))
    composite(image, visible, layer)
    # 201 * 128/255 = 100.89 -> 101 (nearest), 1 - 128/255 = 0.498 of the face stays visible
    np.testing.assert_array_equal(image, 101)
    np.testing.assert_allclose(visible, 1 - 128 / 255, rtol=1e-6)
