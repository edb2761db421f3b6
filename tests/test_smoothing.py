"""One-Euro filter, landmark / rotation smoothing and the multi-face tracker."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lponet_tf.errors import LPONetError
from lponet_tf.inference.smoothing import (
    LandmarkFilter, OneEuroFilter, RotationFilter, SmoothingError, Tracker,
)

FPS = 30.0


def face(seed=0, size=200.0):
    """A face-like point set: 68 points in a size x size box."""
    rng = np.random.default_rng(seed)
    return rng.uniform(100, 100 + size, (68, 2))


def yaw(deg):
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def angle_deg(a, b):
    return math.degrees(math.acos(np.clip((np.trace(a @ b.T) - 1) / 2, -1, 1)))


def small_rotation(rng, deg):
    v = rng.normal(0, math.radians(deg), 3)
    th = np.linalg.norm(v)
    k = v / th
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(th) * kx + (1 - math.cos(th)) * kx @ kx


# ------------------------------------------------------------------ OneEuroFilter
def test_constant_signal_passes_unchanged():
    f = OneEuroFilter(min_cutoff=0.5, beta=3.0)
    for i in range(50):
        assert f(7.25, i / FPS) == pytest.approx(7.25, abs=1e-12)
    pts = face()
    lf = LandmarkFilter()
    for i in range(30):
        np.testing.assert_allclose(lf(pts, i / FPS), pts, atol=1e-4)
    rf = RotationFilter()
    r = yaw(35.0) @ small_rotation(np.random.default_rng(3), 20.0)
    for i in range(30):
        np.testing.assert_allclose(rf(r, i / FPS), r, atol=1e-5)


def test_first_sample_passes_and_beta_zero_is_the_exponential_filter():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    assert f(10.0, 0.0) == 10.0
    # alpha = r / (r + 1), r = 2 pi fc dt
    r = 2 * math.pi * 1.0 * 0.1
    a = r / (r + 1)
    assert f(20.0, 0.1) == pytest.approx(10.0 + a * 10.0)
    # non-uniform dt: each step uses its own alpha
    r2 = 2 * math.pi * 0.5
    a2 = r2 / (r2 + 1)
    prev = 10.0 + a * 10.0
    assert f(0.0, 0.6) == pytest.approx(prev + a2 * (0.0 - prev))


def one_euro_by_hand(xs, ts, min_cutoff, beta, d_cutoff, speed=np.abs):
    """Casiez, Roussel, Vogel (CHI 2012), Eq. 1-5 step by step: alpha = 1 / (1 + tau / Te)
    with tau = 1 / (2 pi fc); the derivative is low-passed at the fixed d_cutoff, and its
    magnitude raises the cutoff of the value, fc = min_cutoff + beta |dx_hat|. The derivative
    is taken from the previous raw sample, as in the authors' reference code (the first two
    steps do not depend on that choice: the first output is the first raw sample)."""
    def alpha(fc, te):
        tau = 1.0 / (2.0 * math.pi * fc)
        return 1.0 / (1.0 + tau / te)

    out = [np.array(xs[0], float)]
    x_hat, dx_hat, raw = out[0], np.zeros_like(out[0]), out[0]
    for x, t, t_prev in zip(xs[1:], ts[1:], ts[:-1]):
        te = t - t_prev
        x = np.array(x, float)
        dx_hat = dx_hat + alpha(d_cutoff, te) * ((x - raw) / te - dx_hat)
        x_hat = x_hat + alpha(min_cutoff + beta * speed(dx_hat), te) * (x - x_hat)
        raw = x
        out.append(x_hat)
    return out


def test_one_euro_steps_with_beta_match_the_paper_by_hand():
    """beta > 0 and a derivative cutoff far from min_cutoff: the speed term is computed
    from the derivative filtered at d_cutoff (a filter that low-passes the derivative at
    min_cutoff or at the adaptive cutoff gives other values at the second sample already)."""
    ts = [0.0, 0.04, 0.10, 0.13]
    xs = [1.0, 1.6, 1.1, 1.3]
    params = dict(min_cutoff=0.5, beta=0.8, d_cutoff=3.0)
    f = OneEuroFilter(**params)
    got = [float(f(x, t)) for x, t in zip(xs, ts)]
    want = one_euro_by_hand(xs, ts, **params)
    np.testing.assert_allclose(got, np.array(want, float), rtol=1e-12)
    # The second sample, written out: dx = 15 per s, alpha(3 Hz, 0.04 s) = 0.430.
    a_d = 1 / (1 + 1 / (2 * math.pi * 3.0 * 0.04))
    fc = 0.5 + 0.8 * a_d * 15.0
    assert got[1] == pytest.approx(1.0 + 0.6 / (1 + 1 / (2 * math.pi * fc * 0.04)), rel=1e-12)
    # Had the derivative been filtered at min_cutoff, the second output would differ by >1%.
    wrong = one_euro_by_hand(xs, ts, 0.5, 0.8, 0.5)
    assert abs(wrong[1] - got[1]) > 0.01 * got[1]
    # Per-point speed (norm of the filtered 2-D derivative) with a scale, same formulas.
    pts = [np.array([[0.0, 0.0], [5.0, 1.0]]), np.array([[3.0, 4.0], [5.0, 1.0]]),
           np.array([[2.0, 6.0], [4.0, 0.5]])]
    g = OneEuroFilter(speed="point", **params)
    got2 = [g(p, t, scale=2.0) for p, t in zip(pts, ts)]
    want2 = one_euro_by_hand(pts, ts[:3], **params,
                             speed=lambda d: np.linalg.norm(d, axis=-1, keepdims=True) / 2.0)
    np.testing.assert_allclose(np.array(got2), np.array(want2), rtol=1e-12)


def test_noise_variance_drops():
    rng = np.random.default_rng(0)
    pts = face()
    noisy = pts[None] + rng.normal(0, 1.0, (300, 68, 2))
    lf = LandmarkFilter()
    out = np.stack([lf(p, i / FPS) for i, p in enumerate(noisy)])[60:]
    var_in = np.var(noisy[60:] - pts, axis=0).mean()
    var_out = np.var(out - pts, axis=0).mean()
    assert var_out < 0.15 * var_in
    jitter_in = np.linalg.norm(np.diff(noisy[60:], axis=0), axis=2).mean()
    jitter_out = np.linalg.norm(np.diff(out, axis=0), axis=2).mean()
    assert jitter_out < 0.2 * jitter_in


def test_ramp_followed_with_bounded_lag_and_beta_helps():
    """Fast motion (2 face sizes / s) is followed closely; without the speed term (beta=0)
    the same resting cutoff lags far behind."""
    pts = face(size=200.0)
    v = 400.0  # px / s
    ts = np.arange(120) / FPS
    lags = {}
    for beta in (8.0, 0.0):
        lf = LandmarkFilter(min_cutoff=0.3, beta=beta)
        out = [lf(pts + [v * t, 0.0], t) for t in ts]
        lags[beta] = np.mean([(pts[:, 0] + v * t - o[:, 0]).mean() for t, o in zip(ts[60:], out[60:])])
    assert 0 < lags[8.0] < 0.02 * v  # < 20 ms behind
    assert lags[0.0] > 10 * lags[8.0]


def test_step_is_reached_quickly():
    f = OneEuroFilter(min_cutoff=0.3, beta=8.0)
    for i in range(30):
        f(0.0, i / FPS)
    t = 30 / FPS
    out = [float(f(1.0, t + k / FPS)) for k in range(1, 16)]  # half a second after the step
    assert out[0] > 0.5  # the speed term opens the filter at once
    assert out[-1] > 0.95
    assert all(b >= a for a, b in zip(out, out[1:]))  # no overshoot / ringing


def test_lag_in_time_does_not_depend_on_frame_rate():
    """Timestamps, not sample counts, set the dynamics: the same motion sampled at 30 and
    at irregular ~90 fps gives about the same lag in seconds."""
    v = 100.0
    lags = []
    rng = np.random.default_rng(0)
    for ts in (np.arange(0, 4, 1 / 30), np.cumsum(rng.uniform(0.5, 1.5, 360) / 90)):
        f = OneEuroFilter(min_cutoff=0.5, beta=0.02)
        out = np.array([float(f(v * t, t)) for t in ts])
        steady = ts > 2.0
        lags.append(np.mean(v * ts[steady] - out[steady]) / v)
    assert lags[0] == pytest.approx(lags[1], rel=0.2)


@pytest.mark.parametrize("bad_t", [0.5, 0.4, float("nan"), float("inf")])
def test_non_increasing_or_bad_timestamps_raise(bad_t):
    f = OneEuroFilter()
    f(1.0, 0.0)
    f(1.0, 0.5)
    with pytest.raises(SmoothingError, match="timestamp"):
        f(1.0, bad_t)
    # The failed call left the state alone: the next sample steps from t = 0.5 (dt = 0.1)
    # from the constant 1.0 (beta = 0: one exponential step at min_cutoff = 1 Hz).
    r = 2 * math.pi * 1.0 * 0.1
    assert float(f(2.0, 0.6)) == pytest.approx(1.0 + r / (r + 1) * 1.0, rel=1e-12)
    assert f.timestamp == 0.6


def test_bad_values_shapes_and_reset():
    f = OneEuroFilter(speed="point")
    f(np.zeros((3, 2)), 0.0)
    with pytest.raises(SmoothingError):
        f(np.zeros((4, 2)), 0.1)
    with pytest.raises(SmoothingError):
        f(np.full((3, 2), np.nan), 0.2)
    with pytest.raises(SmoothingError):
        f(np.zeros((3, 2)), 0.3, scale=0.0)
    f.reset()
    assert f.value is None and f.timestamp is None
    np.testing.assert_array_equal(f(np.ones((4, 2)), 0.0), np.ones((4, 2)))  # new sequence
    assert issubclass(SmoothingError, LPONetError) and issubclass(SmoothingError, ValueError)
    for kwargs in ({"min_cutoff": 0}, {"beta": -1}, {"speed": "fast"}, {"frequency": 0}):
        with pytest.raises(ValueError):
            OneEuroFilter(**kwargs)


def test_timestamp_none_uses_frequency():
    a, b = OneEuroFilter(beta=0.0, frequency=25.0), OneEuroFilter(beta=0.0)
    xs = [0.0, 1.0, 3.0, 2.0]
    out_a = [float(a(x)) for x in xs]
    out_b = [float(b(x, i / 25.0)) for i, x in enumerate(xs)]
    assert out_a == pytest.approx(out_b)
    assert a.timestamp == pytest.approx(3 / 25.0)


def test_landmark_filter_rejects_bad_shapes():
    lf = LandmarkFilter()
    for bad in (np.zeros(68), np.zeros((68, 4)), np.zeros((1, 2)), np.full((68, 2), np.inf)):
        with pytest.raises(SmoothingError):
            lf(bad, 0.0)


# ------------------------------------------------------------------ rotations
def test_rotation_noise_drops_and_output_is_a_rotation():
    rng = np.random.default_rng(0)
    truth = yaw(20.0)
    rf = RotationFilter()
    raw = [small_rotation(rng, 1.0) @ truth for _ in range(200)]
    out = [rf(r, i / FPS) for i, r in enumerate(raw)]
    for o in out[::20]:
        np.testing.assert_allclose(o @ o.T, np.eye(3), atol=1e-5)
        assert np.linalg.det(o) == pytest.approx(1.0, abs=1e-5)
    err_in = np.mean([angle_deg(r, truth) for r in raw[60:]])
    err_out = np.mean([angle_deg(o, truth) for o in out[60:]])
    assert err_out < 0.5 * err_in
    jit_in = np.mean([angle_deg(a, b) for a, b in zip(raw[61:], raw[60:])])
    jit_out = np.mean([angle_deg(a, b) for a, b in zip(out[61:], out[60:])])
    assert jit_out < 0.25 * jit_in


def test_rotation_through_180_degrees_has_no_jump():
    """Yaw sweeping through +-180 (where Euler angles wrap and quaternions change sign)
    is followed smoothly."""
    rf = RotationFilter()
    ts = np.arange(90) / FPS
    truth = [yaw(150.0 + 60.0 * t) for t in ts]  # 150 -> ~210 degrees
    out = [rf(r, t) for r, t in zip(truth, ts)]
    # steady lag at 60 deg/s is ~2-3 degrees; a sign or wrap bug would give ~360 or jumps
    assert max(angle_deg(o, r) for o, r in zip(out, truth)) < 5.0
    assert max(angle_deg(a, b) for a, b in zip(out[1:], out[:-1])) < 3.0


def test_rotation_filter_accepts_near_rotations_and_rejects_garbage():
    rf = RotationFilter()
    noisy = yaw(10.0) + 1e-2 * np.random.default_rng(0).normal(size=(3, 3))
    out = rf(noisy, 0.0)
    np.testing.assert_allclose(out @ out.T, np.eye(3), atol=1e-5)
    assert angle_deg(out, yaw(10.0)) < 2.0
    with pytest.raises(SmoothingError):
        rf(np.eye(4), 0.1)
    with pytest.raises(SmoothingError):
        rf(np.full((3, 3), np.nan), 0.1)


# ------------------------------------------------------------------ tracker
def box(x, y, s=100.0):
    return [x, y, x + s, y + s]


def test_tracker_keeps_ids_when_order_changes_and_smooths():
    tr = Tracker()
    lm_a, lm_b = face(1, 100) + [0, 0], face(2, 100) + [400, 0]
    out = tr.update([box(100, 100), box(500, 100)], 0.0, landmarks=[lm_a, lm_b],
                    rotations=[yaw(0), yaw(30)])
    assert [o.track_id for o in out] == [1, 2] and all(o.is_new for o in out)
    np.testing.assert_allclose(out[0].landmarks, lm_a, atol=1e-4)  # first frame: unsmoothed
    rng = np.random.default_rng(0)
    for i in range(1, 20):
        na, nb = lm_a + rng.normal(0, 1, lm_a.shape), lm_b + rng.normal(0, 1, lm_b.shape)
        # faces given in swapped order on odd frames
        if i % 2:
            out = tr.update([box(503, 101), box(102, 99)], i / FPS, landmarks=[nb, na],
                            rotations=[yaw(30), yaw(0)])
            assert [o.track_id for o in out] == [2, 1]
        else:
            out = tr.update([box(101, 100), box(501, 102)], i / FPS, landmarks=[na, nb],
                            rotations=[yaw(0), yaw(30)])
            assert [o.track_id for o in out] == [1, 2]
        assert not any(o.is_new for o in out)
    by_id = {o.track_id: o for o in out}
    assert np.abs(by_id[1].landmarks - lm_a).mean() < 0.5  # smoothed towards the truth
    assert angle_deg(by_id[2].rotation, yaw(30)) < 0.05  # float32 output
    assert by_id[1].age == 19 and len(tr.tracks) == 2


def test_tracker_new_faces_missed_frames_and_expiry():
    tr = Tracker(max_missed=2)
    assert tr.update([box(0, 0)], 0.0)[0].track_id == 1
    # a far-away face is a new track; the first is missed
    assert tr.update([box(600, 600)], 0.1)[0].track_id == 2
    assert tr.update([], 0.2) == []
    # track 1 missed 2 frames (still alive), track 2 missed 1
    assert tr.update([box(2, 1)], 0.3)[0].track_id == 1
    for t in (0.4, 0.5, 0.6):
        tr.update([box(2, 1)], t)
    # track 2 has been missed more than max_missed frames: gone, the face gets a new id
    out = tr.update([box(600, 600), box(2, 1)], 0.7)
    assert [o.track_id for o in out] == [3, 1] and out[0].is_new


def test_tracker_continues_the_track_a_face_was_followed_from():
    """A face that moved 60% of its width in a frame, onto the last box of a neighbour that
    is gone: by IoU it takes the neighbour's id (the 30%-motion clip of
    benchmarks/results/fast_motion.md got 3 ids so); with the id it was followed from it
    keeps its own, and the neighbour's track is the one missed."""
    for ids, expected in ((None, 2), ([1], 1)):
        tr = Tracker(max_missed=2)
        assert [o.track_id for o in tr.update([box(0, 0), box(130, 0)], 0.0)] == [1, 2]
        out = tr.update([box(120, 0)], 0.1, track_ids=ids)  # IoU 0.08 with its own, 0.85 with 2
        assert [o.track_id for o in out] == [expected] and not out[0].is_new
        assert sorted(t.track_id for t in tr.tracks) == [1, 2]  # the other one missed, kept


def test_tracker_ids_of_ended_tracks_and_unknown_ids_fall_back_to_overlap():
    tr = Tracker(max_missed=0)
    tr.update([box(0, 0)], 0.0)
    tr.update([], 0.1)  # track 1 ends (missed once, max_missed 0)
    out = tr.update([box(2, 1), box(600, 600)], 0.2, track_ids=[1, 99])
    assert [o.track_id for o in out] == [2, 3] and out[0].is_new and out[1].is_new
    out = tr.update([box(600, 600), box(3, 1)], 0.3, track_ids=[None, 77])  # by overlap
    assert [o.track_id for o in out] == [3, 2]


def test_tracker_refuses_an_id_given_twice_before_any_change():
    tr = Tracker()
    tr.update([box(0, 0), box(300, 0)], 0.0)
    with pytest.raises(SmoothingError, match="a track id given to two faces"):
        tr.update([box(0, 0), box(300, 0)], 0.1, track_ids=[1, 1])
    with pytest.raises(SmoothingError, match="1 track_ids for 2 boxes"):
        tr.update([box(0, 0), box(300, 0)], 0.1, track_ids=[1])
    out = tr.update([box(300, 0), box(0, 0)], 0.1, track_ids=[2, 1])  # the same time is still free
    assert [o.track_id for o in out] == [2, 1]


def test_tracker_input_checks():
    tr = Tracker()
    tr.update([box(0, 0)], 1.0)
    with pytest.raises(SmoothingError):
        tr.update([box(0, 0)], 1.0)  # same timestamp
    with pytest.raises(SmoothingError):
        tr.update([box(0, 0)], 2.0, landmarks=[face(), face()])
    with pytest.raises(SmoothingError):
        tr.update([[0, 0, np.nan, 5]], 3.0)
    tr.reset()
    assert tr.update([box(0, 0)], 0.0)[0].track_id == 1  # reset restarts time and ids
    with pytest.raises(ValueError):
        Tracker(iou_threshold=1.5)


def test_landmark_filter_one_cutoff_from_the_mean_point_speed_by_hand():
    """Casiez's One-Euro step written out for a non-rigid set: two still points and one
    moving 30 px in a frame, face size sqrt(100 x 100). The cutoff is min_cutoff + beta *
    (mean of the three points' filtered speeds) / face size, the same for every point (not
    each point's own speed, nor the norm of all of them)."""
    min_cutoff, beta, d_cutoff, dt = 1.0, 0.5, 1.0, 1 / 30

    def alpha(cutoff):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    x0 = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    x1 = x0 + [[0, 0], [0, 0], [30, 0]]
    dx_hat = alpha(d_cutoff) * (x1 - x0) / dt
    speed = np.mean(np.linalg.norm(dx_hat, axis=1))  # 900 px/s * alpha_d / 3
    cutoff = min_cutoff + beta * speed / 100.0
    expected = x0 + alpha(cutoff) * (x1 - x0)
    f = LandmarkFilter(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
    f(x0, 0.0)
    np.testing.assert_allclose(f(x1, dt), expected, rtol=1e-6)
    assert 0 < expected[2, 0] < 30 and np.all(expected[:2] == x0[:2])


def test_tracker_takes_track_ids_as_any_sequence():
    """An array of ids (``np.array([1, 2])``) used to hit numpy's "truth value of an array"."""
    tr = Tracker()
    tr.update([box(0, 0), box(300, 0)], 0.0)
    out = tr.update([box(300, 0), box(0, 0)], 0.1, track_ids=np.array([2, 1]))
    assert [o.track_id for o in out] == [2, 1]


def test_a_moving_face_missed_for_frames_is_looked_for_where_its_motion_puts_it():
    """A face moving 40 px a frame (boxes 100 wide), hidden for 3 frames (behind another
    face), comes back 160 px on from its last box: no overlap with that box, IoU 0.67 with
    the box its motion predicts, so it keeps its id. A still face missed is looked for where
    it was; a face elsewhere is a new track."""
    tr = Tracker(max_missed=5)
    for i in range(3):
        assert tr.update([box(40 * i, 0)], 0.1 * i)[0].track_id == 1
    for i in range(3, 6):
        tr.update([], 0.1 * i)
    back = tr.update([box(40 * 6 + 20, 0)], 0.6)[0]  # 20 px off its predicted place
    assert back.track_id == 1 and not back.is_new
    tr = Tracker(max_missed=5)
    tr.update([box(0, 0)], 0.0)
    tr.update([box(0, 0)], 0.1)
    tr.update([], 0.2)
    assert tr.update([box(5, 0)], 0.3)[0].track_id == 1
    tr = Tracker(max_missed=5)
    for i in range(3):
        tr.update([box(40 * i, 0)], 0.1 * i)
    tr.update([], 0.3)
    assert tr.update([box(80 - 160, 0)], 0.4)[0].track_id == 2  # behind it, not ahead: new
