"""Heatmap codec against naive per-landmark references (CONVENTIONS.md rules)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lponet_tf.heatmaps import (
    DECODERS,
    OFF_GRID_TARGETS,
    decode_heatmaps,
    decode_heatmaps_ops,
    encode_heatmaps,
    grid_to_crop,
)

S = 256
H = S // 4


def ref_encode(points, input_size, sigma=1.0, radius=3, off_grid="zero"):
    """Loop over landmarks and window cells, straight from the CONVENTIONS.md text."""
    size = input_size // 4
    out = np.zeros((size, size, len(points)), np.float64)
    for k, (x, y) in enumerate(points):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        u, v = (x + 0.5) / 4 - 0.5, (y + 0.5) / 4 - 0.5
        cu, cv = int(np.floor(u + 0.5)), int(np.floor(v + 0.5))
        if off_grid == "zero" and not (0 <= cu < size and 0 <= cv < size):
            continue
        for r in range(cv - radius, cv + radius + 1):
            for c in range(cu - radius, cu + radius + 1):
                if 0 <= r < size and 0 <= c < size:
                    out[r, c, k] = np.exp(-((c - u) ** 2 + (r - v) ** 2) / (2 * sigma**2))
    return out


def ref_decode(hm):
    """Per channel: stable sort of the flattened map, weighted mean of the top-2 cells."""
    h, w, k = hm.shape
    xy, sc = np.zeros((k, 2)), np.zeros(k)
    for j in range(k):
        flat = hm[:, :, j].reshape(-1).astype(np.float64)
        order = np.argsort(-flat, kind="stable")
        (i1, i2), (s1, s2) = order[:2], flat[order[:2]]
        w1, w2 = max(s1, 0.0), max(s2, 0.0)
        p1, p2 = np.array([i1 % w, i1 // w]), np.array([i2 % w, i2 // w])
        p = p1 if w1 + w2 == 0 else (w1 * p1 + w2 * p2) / (w1 + w2)
        xy[j] = 4 * (p + 0.5) - 0.5
        sc[j] = s1
    return xy, sc


def random_points(rng, n, k=68, lo=-20.0, hi=S + 20.0):
    return rng.uniform(lo, hi, size=(n, k, 2))


def test_encode_matches_reference_including_edges():
    rng = np.random.default_rng(0)
    pts = random_points(rng, 3, k=40)
    pts[0, :6] = [[-0.5, 10], [-0.51, 10], [S - 0.5, 10], [S - 0.51, 10], [np.nan, 3], [2.0, 2.0]]
    L = encode_heatmaps(pts, S)
    assert L.shape == (3, H, H, 40) and L.dtype == np.float32
    for n in range(3):
        np.testing.assert_allclose(L[n], ref_encode(pts[n], S), atol=1e-6)
    # Unbatched input, other sigma.
    np.testing.assert_allclose(encode_heatmaps(pts[1], S, sigma=1.5), ref_encode(pts[1], S, sigma=1.5), atol=1e-6)


def test_encode_peak_values_and_outside_points():
    centre = grid_to_crop(np.array([[10.0, 20.0]]))
    L = encode_heatmaps(centre, S)
    assert L.max() == pytest.approx(1.0)
    assert np.count_nonzero(L) == 49  # 7 x 7 window
    assert tuple(np.argwhere(L[..., 0] == L.max())[0]) == (20, 10)  # (row, col)
    corner = grid_to_crop(np.array([[10.5 - 1e-9, 20.5 - 1e-9]]))
    assert encode_heatmaps(corner, S).max() == pytest.approx(np.exp(-0.25), abs=1e-6)
    rng = np.random.default_rng(1)
    pts = rng.uniform(-0.5, S - 0.5, size=(500, 2))
    peaks = encode_heatmaps(pts, S).max(axis=(0, 1))
    assert peaks.min() >= np.exp(-0.25) - 1e-6 and peaks.max() <= 1.0
    outside = np.array([[-0.6, 50.0], [50.0, S - 0.5], [1e6, 1e6], [np.nan, 10.0], [np.inf, 10.0]])
    assert not encode_heatmaps(outside, S).any()


def test_off_grid_points_give_the_gaussians_tail_on_request():
    rng = np.random.default_rng(2)
    pts = random_points(rng, 2, k=60, lo=-40.0, hi=S + 40.0)  # a third of them off the grid
    for off_grid in OFF_GRID_TARGETS:
        L = encode_heatmaps(pts, S, off_grid=off_grid)
        for n in range(2):
            np.testing.assert_allclose(L[n], ref_encode(pts[n], S, off_grid=off_grid), atol=1e-6)
    # By hand: centred on grid column -d (crop x = 4 (-d + 0.5) - 0.5), row 30; the edge
    # column 0 holds the peak exp(-d^2 / 2), columns beyond 3 - d nothing.
    for d in (1, 2, 3):
        x, y = 4 * (-d + 0.5) - 0.5, 4 * 30.5 - 0.5
        tail = encode_heatmaps([[x, y]], S, off_grid="tail")[..., 0]
        assert tail.max() == pytest.approx(np.exp(-d * d / 2.0), rel=1e-6)
        assert tail[30, 0] == tail.max()
        assert np.flatnonzero(tail.any(axis=0)).tolist() == list(range(0, 4 - d))
        assert not encode_heatmaps([[x, y]], S).any()
    # Beyond the window, and not finite: nothing in either mode.
    far = [[4 * (-4 + 0.5) - 0.5, 100.0], [100.0, 4 * (H + 3 + 0.5) - 0.5], [np.nan, 5.0]]
    assert not encode_heatmaps(far, S, off_grid="tail").any()
    with pytest.raises(ValueError, match="off_grid must be one of"):
        encode_heatmaps([[1.0, 1.0]], S, off_grid="clip")


def test_decode_matches_reference_with_ties_and_negatives():
    rng = np.random.default_rng(3)
    hm = rng.integers(-3, 4, size=(2, 8, 8, 12)).astype(np.float32)  # many ties
    hm[0, ..., 0] = 0.0        # all zero -> p1 = cell 0
    hm[0, ..., 1] = -1.0       # all negative -> p1
    hm[1, ..., 2] = 0.0
    hm[1, 3, 5, 2] = 2.0       # single positive cell: s2 = 0 -> exactly that cell
    xy, sc = decode_heatmaps(hm, decode="top2")
    assert xy.shape == (2, 12, 2) and sc.shape == (2, 12) and xy.dtype == np.float32
    for n in range(2):
        rxy, rsc = ref_decode(hm[n])
        np.testing.assert_allclose(xy[n], rxy, atol=1e-5)
        np.testing.assert_allclose(sc[n], rsc)
    np.testing.assert_allclose(xy[1, 2], [4 * 5.5 - 0.5, 4 * 3.5 - 0.5])
    np.testing.assert_allclose(xy[0, 0], [1.5, 1.5])
    xy1, sc1 = decode_heatmaps(hm[1], decode="top2")
    np.testing.assert_allclose(xy1, xy[1])
    np.testing.assert_allclose(sc1, sc[1])


def test_decode_tf_matches_numpy():
    rng = np.random.default_rng(4)
    ties = rng.integers(-2, 3, size=(3, 16, 16, 10)).astype(np.float32)
    smooth = 60.0 * encode_heatmaps(random_points(rng, 3, k=10, lo=0, hi=S - 1), S)
    smooth += rng.normal(scale=0.5, size=smooth.shape).astype(np.float32)
    for decode in DECODERS:
        for hm in (ties, smooth):
            xy_np, s_np = decode_heatmaps(hm, decode=decode)
            xy_tf, s_tf = decode_heatmaps_ops(tf.constant(hm), decode=decode)
            np.testing.assert_allclose(xy_tf.numpy(), xy_np, atol=1e-3)
            np.testing.assert_allclose(s_tf.numpy(), s_np, atol=1e-6)
        xy_tf, s_tf = decode_heatmaps_ops(tf.constant(ties[0], tf.float16), decode=decode)
        np.testing.assert_allclose(xy_tf.numpy(), decode_heatmaps(ties[0], decode=decode)[0],
                                   atol=1e-3)


def test_encode_decode_error_is_bounded():
    """Top-2 refinement on exact Gaussians: the estimate lies between the best cell and a
    neighbour, so the error stays below half a cell; on a cell centre it is the known
    bias 4 e^-1/2 / (1 + e^-1/2) px towards the (lowest-index) neighbour."""
    rng = np.random.default_rng(5)
    pts = random_points(rng, 100, lo=8.0, hi=S - 8.0)
    L = encode_heatmaps(pts, S)
    for scale in (1.0, 60.0):  # decoding is scale invariant: target L or omega * L
        xy, scores = decode_heatmaps(scale * L, decode="top2")
        err = np.linalg.norm(xy - pts, axis=-1)
        print(f"encode->decode error (px, S={S}): mean {err.mean():.3f} median {np.median(err):.3f} "
              f"p95 {np.percentile(err, 95):.3f} max {err.max():.3f}")
        assert err.max() < 0.5 * 4
        assert err.mean() < 0.3 * 4
        np.testing.assert_allclose(scores, scale * L.max(axis=(1, 2)), rtol=1e-6)
    centre = grid_to_crop(np.array([[30.0, 40.0]]))
    xy, _ = decode_heatmaps(encode_heatmaps(centre, S), decode="top2")
    bias = 4 * np.exp(-0.5) / (1 + np.exp(-0.5))
    np.testing.assert_allclose(xy[0], centre[0] - [0.0, bias], atol=1e-4)
    # Half-way between two cells the top-2 rule is exact.
    half = grid_to_crop(np.array([[30.5 - 1e-7, 40.0]]))
    np.testing.assert_allclose(decode_heatmaps(encode_heatmaps(half, S), decode="top2")[0], half,
                               atol=1e-3)
