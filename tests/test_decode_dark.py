"""DARK sub-pixel heatmap decoding (Zhang et al., CVPR 2020) against an independent reference.

The reference smooths whole maps with OpenCV's Gaussian blur (zero border), takes the log and
solves the 2 x 2 Newton system per landmark in a loop; the library gathers only the patch it
needs and solves in closed form, in numpy and TF.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from lponet_tf.heatmaps import (
    decode_heatmaps,
    decode_heatmaps_tf,
    encode_heatmaps,
    grid_to_crop,
    newton_step,
    smoothing_kernel,
)

S = 256
H = S // 4


def ref_dark(hm, sigma=1.0, stride=4):
    """Loop reference: blur (cv2, zero border), log, gradient/Hessian, solve, guard."""
    h, w, k = hm.shape
    r = int(np.ceil(3 * sigma))
    xy = np.zeros((k, 2))
    for j in range(k):
        m = hm[:, :, j].astype(np.float64)
        i = int(np.argmax(m))
        row, col = divmod(i, w)
        big = cv2.copyMakeBorder(m, r + 1, r + 1, r + 1, r + 1, cv2.BORDER_CONSTANT, value=0)
        blur = cv2.GaussianBlur(big, (2 * r + 1, 2 * r + 1), sigma, sigma,
                                borderType=cv2.BORDER_CONSTANT)
        L = np.log(np.maximum(blur[row:row + 3 + 2 * r, col:col + 3 + 2 * r], 1e-10))
        c = r + 1  # the argmax cell in the padded frame, relative to the slice
        grad = np.array([(L[c, c + 1] - L[c, c - 1]) / 2, (L[c + 1, c] - L[c - 1, c]) / 2])
        hess = np.array([
            [L[c, c + 1] - 2 * L[c, c] + L[c, c - 1],
             (L[c + 1, c + 1] - L[c + 1, c - 1] - L[c - 1, c + 1] + L[c - 1, c - 1]) / 4],
            [0.0, L[c + 1, c] - 2 * L[c, c] + L[c - 1, c]],
        ])
        hess[1, 0] = hess[0, 1]
        step = np.zeros(2)
        if np.all(np.linalg.eigvalsh(hess) < 0):
            step = np.clip(-np.linalg.solve(hess, grad), -1, 1)
        xy[j] = stride * (np.array([col, row]) + step + 0.5) - 0.5
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
    xy_tf, _ = decode_heatmaps_tf(hm, decode="dark")
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
