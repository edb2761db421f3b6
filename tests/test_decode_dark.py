"""DARK sub-pixel heatmap decoding (Zhang et al., CVPR 2020) against an independent reference.

The reference smooths whole maps with OpenCV's separable filter (per axis, the Gaussian's taps
cut to the widest window that fits in the map), takes the log and solves the 2 x 2 Newton system per landmark
in a loop; the library gathers only the patch it needs and solves in closed form, in numpy and
TF. Near the map's edge the decoder must stay unbiased: checked against the known centres of
training targets rendered at every distance from the edge.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from lponet_tf.heatmaps import (
    decode_heatmaps,
    decode_heatmaps_ops,
    encode_heatmaps,
    grid_to_crop,
    newton_step,
    smoothing_kernel,
)

S = 256
H = S // 4


def ref_dark(hm, sigma=1.0, stride=4):
    """Loop reference: blur (cv2, per axis the widest window that fits), log, gradient/Hessian
    at the stencil centre (the argmax cell, one cell in from an edge cell), solve, guard."""
    h, w, k = hm.shape
    r = int(np.ceil(3 * sigma))
    g = cv2.getGaussianKernel(2 * r + 1, sigma)[:, 0]
    xy = np.zeros((k, 2))
    for j in range(k):
        m = hm[:, :, j].astype(np.float64)
        row, col = divmod(int(np.argmax(m)), w)
        cy, cx = min(max(row, 1), h - 2), min(max(col, 1), w - 2)
        qy = max(0, min(r, cy - 1, h - 2 - cy))  # the largest window that fits in the map
        qx = max(0, min(r, cx - 1, w - 2 - cx))
        ky, kx = g[r - qy:r + qy + 1], g[r - qx:r + qx + 1]
        blur = cv2.sepFilter2D(m, -1, kx, ky, borderType=cv2.BORDER_CONSTANT)
        near = blur[cy - 1:cy + 2, cx - 1:cx + 2]
        L = np.log(np.maximum(near, max(1e-4 * near.max(), 1e-10)))  # the documented floor
        grad = np.array([(L[1, 2] - L[1, 0]) / 2, (L[2, 1] - L[0, 1]) / 2])
        hxy = (L[2, 2] - L[2, 0] - L[0, 2] + L[0, 0]) / 4
        hess = np.array([[L[1, 2] - 2 * L[1, 1] + L[1, 0], hxy],
                         [hxy, L[2, 1] - 2 * L[1, 1] + L[0, 1]]])
        off = np.zeros(2)  # the guard: no maximum, the argmax cell itself
        if np.all(np.linalg.eigvalsh(hess) < 0):
            off = np.clip(np.array([cx - col, cy - row]) - np.linalg.solve(hess, grad), -1, 1)
        xy[j] = stride * (np.array([col, row]) + off + 0.5) - 0.5
    return xy


def gaussian_maps(uv, size=H, sigma=1.0):
    """Untruncated Gaussians centred at grid points uv (K, 2) -> (size, size, K)."""
    c = np.arange(size, dtype=np.float64)
    gx = np.exp(-((c[None, :] - uv[:, :1]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((c[None, :] - uv[:, 1:]) ** 2) / (2 * sigma**2))
    return np.einsum("kh,kw->hwk", gy, gx)


def test_dark_recovers_a_gaussian_of_known_subpixel_centre():
    rng = np.random.default_rng(0)
    uv = rng.uniform(4.0, H - 5.0, size=(68, 2))
    truth = grid_to_crop(uv)
    hm = (60.0 * gaussian_maps(uv)).astype(np.float32)
    dark, scores = decode_heatmaps(hm)  # the default rule
    top2, _ = decode_heatmaps(hm, decode="top2")
    err_dark = np.abs(dark - truth).max()
    err_top2 = np.abs(top2 - truth).max()
    print(f"exact Gaussians, max |error| px: dark {err_dark:.4f}  top2 {err_top2:.3f}")
    assert err_dark < 0.02
    assert err_top2 > 0.5  # the top-2 rule's known bias, side by side
    np.testing.assert_allclose(scores, hm.max(axis=(0, 1)))


def test_dark_matches_the_loop_reference_on_noisy_and_edge_maps():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-2.0, S + 1.0, size=(2, 30, 2))  # includes peaks on the border cells
    hm = 60.0 * encode_heatmaps(pts, S)
    hm += rng.normal(scale=3.0, size=hm.shape)
    hm = hm.astype(np.float32)
    xy, _ = decode_heatmaps(hm, decode="dark")
    xy_tf, _ = decode_heatmaps_ops(hm, decode="dark")
    for n in range(2):
        np.testing.assert_allclose(xy[n], ref_dark(hm[n]), atol=1e-3)
    np.testing.assert_allclose(xy_tf.numpy(), xy, atol=1e-3)


def test_dark_on_the_training_targets_beats_top2():
    """Encode -> decode on the truncated 7x7 training targets (the codec floor, per point)."""
    rng = np.random.default_rng(2)
    pts = rng.uniform(8.0, S - 8.0, size=(50, 68, 2))
    L = encode_heatmaps(pts, S)
    err = {d: np.linalg.norm(decode_heatmaps(60.0 * L, decode=d)[0] - pts, axis=-1)
           for d in ("dark", "top2")}
    print({d: (round(float(e.mean()), 4), round(float(e.max()), 4)) for d, e in err.items()})
    assert err["dark"].max() < 0.1           # px at S = 256, measured 0.05
    assert err["dark"].mean() < 0.01         # measured 0.001
    assert err["top2"].mean() > 50 * err["dark"].mean()


def test_guard_returns_the_cell_where_there_is_no_maximum():
    # All-zero / negative maps: the argmax cell (lowest index), as top-2 gives on ties.
    hm = np.zeros((8, 8, 2), np.float32)
    hm[..., 1] = -5.0
    xy, _ = decode_heatmaps(hm)
    np.testing.assert_allclose(xy, [[1.5, 1.5]] * 2)
    # A single spike: the smoothed spike is symmetric, so no offset.
    spike = np.zeros((8, 8, 1), np.float32)
    spike[3, 5, 0] = 10.0
    np.testing.assert_allclose(decode_heatmaps(spike)[0], [[4 * 5.5 - 0.5, 4 * 3.5 - 0.5]],
                               atol=1e-6)
    # Saddle and minimum patterns: no step; a steep but valid maximum: clipped to one cell.
    x, y = np.meshgrid([-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0])
    saddle, bowl = x * x - y * y, x * x + y * y
    tilted = -0.01 * (x * x + y * y) + 5.0 * x
    dx, dy = newton_step(np.stack([saddle, bowl, tilted]))
    np.testing.assert_allclose(dx, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(dy, [0.0, 0.0, 0.0])


def test_kernel_and_bad_arguments():
    k = smoothing_kernel(1.0)
    assert k.shape == (7,) and abs(k.sum() - 1.0) < 1e-12 and np.argmax(k) == 3
    with pytest.raises(ValueError, match="decode must be one of"):
        decode_heatmaps(np.zeros((4, 4, 1)), decode="soft")
    with pytest.raises(ValueError, match="sigma"):
        smoothing_kernel(0.0)


@pytest.mark.parametrize("u", [-0.45, -0.25, 0.0, 0.3, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.5])
def test_dark_is_unbiased_near_the_edge(u):
    """Training targets (truncated 7x7, as encode renders them) whose centre is ``u`` cells from
    an edge cell's centre, on all four edges and sub-pixel positions along the edge: DARK
    recovers the known centre (zero padding used to pull it 1.65 px inwards at u = 0)."""
    along = np.linspace(20.0, 21.0, 7)
    near = np.full_like(along, u)
    far = H - 1.0 - near
    uv = np.concatenate([np.stack(p, -1) for p in
                         ((near, along), (far, along), (along, near), (along, far))])
    truth = grid_to_crop(uv)
    hm = 60.0 * encode_heatmaps(truth, S)
    xy, _ = decode_heatmaps(hm)
    xy_tf, _ = decode_heatmaps_ops(hm)
    assert np.abs(xy - truth).max() < 0.01  # px at S = 256; measured < 1e-3
    np.testing.assert_allclose(xy_tf.numpy(), xy, atol=1e-3)
