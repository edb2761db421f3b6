"""Synthetic out-of-plane head turns (lponet_tf/data/out_of_plane.py) against references
computed here: the weak-perspective projection of the turned mean face, a coordinate image
that shows where each warped pixel came from, and the sample pipeline's targets."""
import dataclasses

import numpy as np
import pytest

from lponet_tf import geometry
from lponet_tf.data import augment as aug
from lponet_tf.data import out_of_plane as oop
from lponet_tf.data.pseudo_pose import mean_face
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import prepare_sample

SIZE = 128


def projected_face(ypr, scale=0.55, centre=(64.0, 66.0)):
    """The mean face at pose ``ypr`` under weak perspective: (landmarks, R, depths)."""
    r = geometry.euler_to_matrix(ypr)
    rm = mean_face() @ r.T
    return scale * rm[:, :2] + np.asarray(centre), r, scale * rm[:, 2]


def coordinate_image(size=SIZE):
    """A float image whose two channels are each pixel's own (x, y)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.stack([xs, ys], -1)


@pytest.mark.parametrize("ypr", [(0, 0, 0), (20, -10, 5), (-30, 8, -12)])
def test_lift_recovers_scale_centre_and_depth_of_a_projected_face(ypr):
    lm, r, depth = projected_face(ypr)
    points, centre, scale = oop.lift_points(lm, r)
    assert scale == pytest.approx(0.55, rel=1e-9)
    np.testing.assert_allclose(centre, [64.0, 66.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(points[:68, :2], lm, atol=1e-12)
    np.testing.assert_allclose(points[:68, 2], depth, atol=1e-9)


@pytest.mark.parametrize("start, turn", [((0, 0, 0), (0, 15)), ((10, 5, 8), (-8, -12)), ((-20, 0, -5), (12, 10))])
def test_turned_landmarks_and_pose_are_the_turned_mean_face(start, turn):
    lm, r, _ = projected_face(start)
    out = oop.rotate_face(np.zeros((SIZE, SIZE, 3), np.uint8), lm, r, *turn)
    assert out.angles == turn
    d_r = geometry.euler_to_matrix([turn[0], turn[1], 0.0])
    np.testing.assert_allclose(out.pose, d_r @ r, atol=1e-6)
    # Reference: project the mean face at the new pose about the same centre.
    rm = mean_face() @ (d_r @ r).T
    expected = 0.55 * rm[:, :2] + np.array([64.0, 66.0])
    mesh = oop.MESH_POINTS
    np.testing.assert_allclose(out.landmarks[mesh], expected[mesh], atol=1e-3)
    # Inner lips ride on the mesh (piecewise affine), so they are close, not exact.
    assert np.abs(out.landmarks - expected).max() < 1.5


def test_a_frontal_face_turned_up_reads_that_pitch():
    lm, r, _ = projected_face((0, 0, 0))
    out = oop.rotate_face(np.zeros((SIZE, SIZE), np.uint8), lm, r, 0.0, 18.0)
    np.testing.assert_allclose(geometry.matrix_to_euler(out.pose), [0.0, 18.0, 0.0], atol=1e-4)
    # Looking up foreshortens the face: the chin comes up towards the eyes.
    assert out.landmarks[8, 1] < lm[8, 1] - 1.0


def test_warped_pixels_carry_the_landmarks_with_them():
    lm, r, _ = projected_face((8, -5, 4))
    image = coordinate_image()
    out = oop.rotate_face(image, lm, r, -10.0, 14.0)
    assert out.angles == (-10.0, 14.0)
    # The warped coordinate image, read at each new landmark, says where it came from.
    ix = np.clip(np.round(out.landmarks).astype(int), 0, SIZE - 1)
    came_from = out.image[ix[:, 1], ix[:, 0]]
    err = np.linalg.norm(came_from - lm, axis=1)
    assert np.median(err) < 0.75  # rounding to the pixel: at most 0.71 px where the warp is affine
    assert np.percentile(err, 90) < 2.0  # a few points are covered by a nearer part (the nose)
    # The crop's border does not move (within 0.1 px: a rasterised edge pixel may take the
    # affine of the triangle next to it).
    np.testing.assert_allclose(out.image[0, :], image[0, :], atol=0.1)
    np.testing.assert_allclose(out.maps[0][SIZE - 1, :], np.arange(SIZE), atol=0.1)
    # remap_like applies the same maps to another aligned image.
    np.testing.assert_allclose(oop.remap_like(image, out.maps), out.image, atol=1e-5)


def test_a_turn_that_folds_too_much_is_halved_or_dropped_and_the_labels_follow():
    lm, r, _ = projected_face((35, 0, 0))
    out = oop.rotate_face(np.zeros((SIZE, SIZE), np.uint8), lm, r, 45.0, 0.0)
    assert out.angles in [(22.5, 0.0), (0.0, 0.0)]
    np.testing.assert_allclose(out.pose, geometry.euler_to_matrix([out.angles[0], 0, 0]) @ r, atol=1e-6)
    if out.angles == (0.0, 0.0):
        assert out.maps is None and np.array_equal(out.landmarks, lm.astype(np.float32))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="68 landmarks"):
        oop.rotate_face(np.zeros((SIZE, SIZE), np.uint8), np.zeros((5, 2)), np.eye(3), 0.0, 10.0)
    with pytest.raises(ValueError, match="out_of_plane_yaw_deg"):
        aug.AugmentConfig(out_of_plane_yaw_deg=90.0)
    with pytest.raises(ValueError, match="out_of_plane_prob"):
        aug.AugmentConfig(out_of_plane_prob=1.5)


def test_off_by_default_and_the_other_draws_keep_their_random_stream():
    assert aug.AugmentConfig().out_of_plane_prob == 0.0
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    p = aug.sample_params(aug.AugmentConfig(), SIZE, a)
    b.random(11)  # what sample_params drew before the turn existed
    assert p.out_of_plane == (0.0, 0.0) and a.random() == b.random()
    on = aug.sample_params(aug.AugmentConfig(out_of_plane_prob=1.0), SIZE, np.random.default_rng(3))
    assert dataclasses.replace(on, out_of_plane=(0.0, 0.0)) == p
    assert abs(on.out_of_plane[0]) <= 15.0 and abs(on.out_of_plane[1]) <= 20.0 and on.out_of_plane != (0.0, 0.0)


def test_prepare_sample_turns_image_landmarks_heatmaps_and_pose_together(rng):
    from lponet_tf.heatmaps import decode_heatmaps

    lm_crop, r, _ = projected_face((5, 3, 0))
    # A record in image coordinates: a textured image, the face where a crop will find it.
    image = (rng.random((200, 200, 3)) * 255).astype(np.uint8)
    record = FaceRecord("synthetic.png", landmarks=lm_crop + 36.0, pose=r.astype(np.float32))
    config = dataclasses.replace(aug.AugmentConfig.none(), out_of_plane_prob=1.0)
    plain = prepare_sample(record, SIZE, rng=np.random.default_rng(0), augment=aug.AugmentConfig.none(), image=image)
    turned = prepare_sample(record, SIZE, rng=np.random.default_rng(0), augment=config, image=image)
    yaw, pitch = turned.params.out_of_plane
    assert (yaw, pitch) != (0.0, 0.0)
    d_r = geometry.euler_to_matrix([yaw, pitch, 0.0])
    np.testing.assert_allclose(turned.pose, d_r @ plain.pose, atol=1e-5)
    assert np.abs(turned.landmarks - plain.landmarks).max() > 1.0
    assert not np.array_equal(turned.image, plain.image)
    # The heatmap targets are encoded from the turned landmarks.
    decoded = decode_heatmaps(turned.targets["heatmaps"][None])[0][0]
    assert np.abs(decoded - turned.landmarks).max() < 0.5
    # The same generator state gives the same sample.
    again = prepare_sample(record, SIZE, rng=np.random.default_rng(0), augment=config, image=image)
    assert np.array_equal(again.image, turned.image) and again.params == turned.params


def test_outward_share_reuses_the_turn_draw():
    base = aug.AugmentConfig(out_of_plane_prob=0.5)
    out = dataclasses.replace(base, out_of_plane_outward=0.6)
    fired = outward = 0
    for seed in range(2000):
        p = aug.sample_params(base, SIZE, np.random.default_rng(seed))
        q = aug.sample_params(out, SIZE, np.random.default_rng(seed))
        # The same numbers: only the flag is new, and only on turns that fire.
        assert dataclasses.replace(q, out_of_plane_outward=False) == p and not p.out_of_plane_outward
        fired += p.out_of_plane != (0.0, 0.0)
        outward += q.out_of_plane_outward
        assert not q.out_of_plane_outward or q.out_of_plane != (0.0, 0.0)
    assert fired == pytest.approx(1000, abs=100) and outward / fired == pytest.approx(0.6, abs=0.06)


@pytest.mark.parametrize("own_yaw", [20.0, -20.0])
def test_outward_turns_take_the_face_further_from_the_camera(rng, own_yaw):
    lm_crop, r, _ = projected_face((own_yaw, 0, 0))
    image = (rng.random((200, 200, 3)) * 255).astype(np.uint8)
    record = FaceRecord("synthetic.png", landmarks=lm_crop + 36.0, pose=r.astype(np.float32))
    signs = {}
    for outward in (0.0, 1.0):
        config = dataclasses.replace(aug.AugmentConfig.none(), out_of_plane_prob=1.0, out_of_plane_yaw_deg=20.0,
                                     out_of_plane_pitch_deg=0.0, out_of_plane_outward=outward,
                                     out_of_plane_max_hidden=0.3)
        signs[outward] = set()
        for seed in range(12):
            s = prepare_sample(record, SIZE, rng=np.random.default_rng(seed), augment=config, image=image)
            yaw = s.params.out_of_plane[0]
            assert yaw != 0.0
            signs[outward].add(np.sign(yaw))
            if outward:
                # Applied where the sign of the face's yaw says, and the label follows.
                assert np.sign(yaw) == np.sign(own_yaw)
                assert abs(geometry.matrix_to_euler(s.pose)[0]) == pytest.approx(abs(own_yaw) + abs(yaw), abs=1e-3)
    assert signs[0.0] == {-1.0, 1.0}


def test_max_hidden_lets_a_turned_face_turn_further():
    lm, r, _ = projected_face((45, 0, 0), centre=(64.0, 64.0))
    crop = np.zeros((SIZE, SIZE, 3), np.uint8)
    assert oop.rotate_face(crop, lm, r, 25.0, 0.0).angles == (0.0, 0.0)  # hides too much at the default
    out = oop.rotate_face(crop, lm, r, 25.0, 0.0, max_hidden=0.2)
    assert out.angles == (25.0, 0.0)
    assert geometry.matrix_to_euler(out.pose)[0] == pytest.approx(70.0, abs=1e-3)
    # The sample pipeline hands the config's share to the mesh.
    record = FaceRecord("synthetic.png", landmarks=lm + 36.0, pose=r.astype(np.float32))
    image = np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    applied = {}
    for hidden in (0.1, 0.2):
        config = dataclasses.replace(aug.AugmentConfig.none(), out_of_plane_prob=1.0, out_of_plane_yaw_deg=25.0,
                                     out_of_plane_pitch_deg=0.0, out_of_plane_outward=1.0,
                                     out_of_plane_max_hidden=hidden)
        rng = np.random.default_rng(0)
        samples = [prepare_sample(record, SIZE, rng=rng, augment=config, image=image) for _ in range(20)]
        applied[hidden] = [abs(s.params.out_of_plane[0]) for s in samples]
    assert max(applied[0.2]) > 20.0 and max(applied[0.1]) < max(applied[0.2])
    with pytest.raises(ValueError, match="out_of_plane_max_hidden"):
        aug.AugmentConfig(out_of_plane_max_hidden=0.0)
    with pytest.raises(ValueError, match="out_of_plane_outward"):
        aug.AugmentConfig(out_of_plane_outward=1.2)


def test_faces_without_a_pose_label_are_not_turned(rng):
    lm_crop, _, _ = projected_face((0, 0, 0))
    record = FaceRecord("synthetic.png", landmarks=lm_crop + 36.0)
    config = dataclasses.replace(aug.AugmentConfig.none(), out_of_plane_prob=1.0)
    image = (rng.random((200, 200, 3)) * 255).astype(np.uint8)
    s = prepare_sample(record, SIZE, rng=np.random.default_rng(0), augment=config, image=image)
    plain = prepare_sample(record, SIZE, rng=np.random.default_rng(0), augment=aug.AugmentConfig.none(), image=image)
    assert s.params.out_of_plane == (0.0, 0.0)
    np.testing.assert_array_equal(s.image, plain.image)


def test_triangle_affines_match_opencv_per_triangle():
    """The batched solve against cv2.getAffineTransform, triangle by triangle, on a real
    mesh move (turned face) plus a degenerate triangle (OpenCV's zero map)."""
    import cv2
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(3)
    src = rng.uniform(0, 128, (60, 2))
    dst = src + rng.normal(0, 4, src.shape)
    triangles = Delaunay(src).simplices
    src = np.concatenate([src, [[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]]])  # collinear
    dst = np.concatenate([dst, [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    triangles = np.concatenate([triangles, [[60, 61, 62]]])
    got = oop._affines(src, dst, triangles)
    want = np.stack([cv2.getAffineTransform(src[t].astype(np.float32), dst[t].astype(np.float32))
                     for t in triangles])
    assert got.shape == (len(triangles), 2, 3)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert not got[-1].any()


def test_inner_lips_in_a_hidden_triangle_take_their_turned_3d_place(monkeypatch):
    """The inner lips ride on the mesh only through triangles that stay in view; in a
    triangle that turns away the mesh's affine is meaningless, and the lip point keeps its
    lifted 3D point turned (the turned mean face exactly). Every triangle marked hidden
    (and any share allowed) takes that path for all eight."""
    start, turn = (10, 5, 8), (-8, -12)
    lm, r, _ = projected_face(start)
    d_r = geometry.euler_to_matrix([turn[0], turn[1], 0.0])
    expected = 0.55 * (mean_face() @ (d_r @ r).T)[:, :2] + np.array([64.0, 66.0])
    lips = oop.CARRIED_POINTS
    shown = oop.rotate_face(np.zeros((SIZE, SIZE), np.uint8), lm, r, *turn)
    assert np.abs(shown.landmarks[lips] - expected[lips]).max() > 0.01  # carried by the mesh
    monkeypatch.setattr(oop, "front_facing", lambda src, dst, tri: np.zeros(len(tri), bool))
    hidden = oop.rotate_face(np.zeros((SIZE, SIZE), np.uint8), lm, r, *turn, max_hidden=1e9)
    assert hidden.angles == turn
    np.testing.assert_allclose(hidden.landmarks[lips], expected[lips], atol=1e-3)
