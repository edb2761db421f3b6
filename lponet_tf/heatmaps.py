"""Landmark heatmap codec (paper Sections III-E and IV-B; ``docs/CONVENTIONS.md``).

Grid. The heatmaps are ``stride = 4`` times smaller than the input crop (S/4 x S/4 for an
S x S crop). A crop pixel coordinate ``x`` (0-based, pixel centre at the integer) sits at
grid coordinate ``u = (x + 0.5) / 4 - 0.5``; the inverse is ``x = 4 * (u + 0.5) - 0.5``.
The same map applies to ``y`` / rows.

Target. Per landmark, ``L`` is an unnormalised Gaussian centred at the sub-pixel grid
location ``u`` (sigma = 1 cell), truncated to the 7 x 7 window around the nearest cell
(the paper's "7x7 gaussian kernel")::

    L[r, c] = exp(-((c - u)^2 + (r - v)^2) / (2 sigma^2))   for |c - round(u)| <= 3,
                                                             and |r - round(v)| <= 3

Its peak is 1.0 when the landmark falls on a cell centre and ``exp(-d^2 / 2 sigma^2)``
otherwise, ``d`` the distance to the nearest cell centre: at least ``exp(-0.25) = 0.779``
for sigma = 1 (a point on a cell corner). A landmark that is not finite gives an all-zero
map. One whose nearest cell is off the grid (crop coordinate outside ``[-0.5, S - 0.5)``)
gives, by ``off_grid`` (:data:`OFF_GRID_TARGETS`), an all-zero map (``"zero"``, the default:
the bundled weights were trained so) or the part of its 7 x 7 window that falls on the grid
(``"tail"``, as HRNet renders joints at the border): a point just outside the crop then
still pulls the edge cells, where ``"zero"`` trains the map to stay empty while a point just
inside gets a whole Gaussian.
The network is trained to predict ``omega * L`` (Eq. 5, omega = 60), so a confident
prediction peaks near 60.

Decoding (``decode=`` :data:`DECODERS`; :data:`DEFAULT_DECODER` is ``"dark"``):

* ``"dark"``: distribution-aware sub-pixel decoding (Zhang et al., CVPR 2020, "DARK"). Around
  the argmax cell the map is smoothed with the training Gaussian (``sigma`` cells, kernel
  ``2 ceil(3 sigma) + 1`` wide), its log taken (values clipped at 1e-4 of the largest of the
  3 x 3, at least 1e-10) and one Newton step taken: ``p = c - H^-1 g`` with the gradient ``g``
  and Hessian ``H`` by central differences on the 3 x 3 cells around the stencil centre ``c``.
  A log-Gaussian is a quadratic, so the step lands on an untruncated Gaussian's centre
  exactly, from any centre. Guard: when ``H`` is not negative definite (no maximum there: a
  flat, noisy or all-zero map) the argmax cell itself is returned; the offset from the cell
  is clipped to one cell per axis. Edge rule: zeros outside the map would pull the estimate
  inwards (1.65 px at S = 256 on the edge cell, 0.65 px half a cell inside with zero padding),
  so ``c`` is the argmax moved one cell in from an edge cell, and per axis the kernel keeps
  only its middle taps, the widest window around the stencil that fits in the map (none for
  an argmax on the two outermost cells: a raw log-Gaussian is a quadratic too). Measured on training
  targets: no bias at any distance from the edge (max error 0.016 px at S = 256).
* ``"top2"``: the paper's rule (Section IV-B), the argmax refined by the two highest cells
  weighted by their scores: ``p = (s1 p1 + s2 p2) / (s1 + s2)`` with scores clipped at 0
  (``p = p1`` when both are <= 0). It is biased on exact Gaussians (the second cell pulls
  the estimate by up to ``exp(-1/2) / (1 + exp(-1/2)) = 0.38`` cell when the point sits on a
  cell centre). The paper's tables were measured with this rule.

Both take the argmax with ties to the lower flat index (row-major), in numpy and TF alike,
and both return the raw peak value as the score. The measured encode -> decode floor of
each rule is in ``docs/evaluation.md`` (``benchmarks/bench_decoders.py``).

Decoding is kept outside the model graph (docs/CONVENTIONS.md): numpy :func:`decode_heatmaps`
runs per frame (inference, evaluation, export parity, through :mod:`lponet_tf.codec.decode`);
:func:`decode_heatmaps_ops` is the in-graph twin (``keras.ops``, any backend) for a Keras
metric: the training NME metric (:mod:`lponet_tf.keras_metrics`) decodes in the graph.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

STRIDE = 4
WINDOW_RADIUS = 3  # 7 x 7 window
#: Target Gaussian sigma in heatmap cells (docs/CONVENTIONS.md); DARK smooths with it.
SIGMA = 1.0
#: Heatmap decoding rules; see the module docstring.
DECODERS = ("dark", "top2")
DEFAULT_DECODER = "dark"
#: Targets of landmarks off the heatmap grid (module docstring): all-zero, or the Gaussian's tail.
OFF_GRID_TARGETS = ("zero", "tail")
#: log() floor of the DARK decoder (as in the DARK paper's code) ...
_LOG_FLOOR = 1e-10
#: ... raised to this fraction of the stencil's largest smoothed value: a cell that is 0
#: exactly can come out of the smoothing sums as +-1e-9 (float32) or +-1e-17 (float64), and
#: rounding must not decide the step. A Gaussian's 3 x 3 never falls below 0.3 of its peak.
_LOG_FLOOR_REL = 1e-4


def crop_to_grid(xy, stride: int = STRIDE):
    """Crop pixel coordinates -> heatmap grid coordinates, ``u = (x + 0.5) / stride - 0.5``.

    Args:
        xy: array-like of coordinates (any shape).
        stride: input / heatmap size ratio.

    Returns:
        float64 array of grid coordinates.

    Example:
        >>> crop_to_grid([1.5, 5.5]).tolist()
        [0.0, 1.0]
    """
    return (np.asarray(xy, dtype=np.float64) + 0.5) / stride - 0.5


def grid_to_crop(uv, stride: int = STRIDE):
    """Heatmap grid coordinates -> crop pixel coordinates, ``x = stride * (u + 0.5) - 0.5``.

    Args:
        uv: array-like of grid coordinates.
        stride: input / heatmap size ratio.

    Returns:
        float64 array of crop coordinates.

    Example:
        >>> grid_to_crop([0.0, 63.0]).tolist()
        [1.5, 253.5]
    """
    return stride * (np.asarray(uv, dtype=np.float64) + 0.5) - 0.5


def grid_to_crop_matrix(stride: int = STRIDE) -> np.ndarray:
    """:func:`grid_to_crop` as a 2x3 affine (for composing with a crop's transform).

    Example:
        >>> grid_to_crop_matrix(4).tolist()
        [[4.0, 0.0, 1.5], [0.0, 4.0, 1.5]]
    """
    off = 0.5 * stride - 0.5
    return np.array([[stride, 0.0, off], [0.0, stride, off]], np.float64)


def nearest_cell(uv) -> np.ndarray:
    """The heatmap cell nearest to grid coordinates (``round half up``): the centre of a
    target's 7 x 7 window. A landmark is on the grid when this is in ``[0, S/4 - 1]``.

    Example:
        >>> nearest_cell([-0.5, -0.51, 2.5]).tolist()
        [0.0, -1.0, 3.0]
    """
    return np.floor(np.asarray(uv, dtype=np.float64) + 0.5)


def _axis_profiles(u, size, sigma, radius):
    """1-D Gaussian profiles along one axis: u (..., K) -> (..., K, size), 0 outside window."""
    centre = nearest_cell(u)
    cells = np.arange(size, dtype=np.float64)
    d = cells - u[..., None]
    g = np.exp(-(d * d) / (2.0 * sigma * sigma))
    return np.where(np.abs(cells - centre[..., None]) <= radius, g, 0.0)


def encode_heatmaps(
    landmarks,
    input_size: int,
    sigma: float = 1.0,
    radius: int = WINDOW_RADIUS,
    stride: int = STRIDE,
    off_grid: str = "zero",
) -> np.ndarray:
    """Landmarks in crop pixels -> target heatmaps ``L`` in ``[0, 1]`` (numpy).

    The 2-D Gaussian is separable, so each map is the outer product of a row and a
    column profile: no per-landmark loop.

    Args:
        landmarks: ``(K, 2)`` or ``(N, K, 2)`` ``(x, y)`` crop pixel coordinates. NaN
            points give all-zero maps (missing).
        input_size: crop side S; the heatmap side is ``S // stride``.
        sigma: Gaussian sigma in heatmap cells (CONVENTIONS.md: 1).
        radius: half-width of the truncation window in cells (3 -> 7 x 7).
        stride: input / heatmap size ratio (4).
        off_grid: a point whose nearest cell is off the grid gets an all-zero map
            (``"zero"``) or the part of its window on the grid (``"tail"``; all zero
            when the window misses the grid too).

    Returns:
        float32 ``(S/4, S/4, K)`` or ``(N, S/4, S/4, K)``; peak 1.0 on a cell centre, at
        least ``exp(-1 / (4 sigma^2))`` for an on-grid point.

    Example:
        >>> L = encode_heatmaps([[129.5, 65.5]], input_size=256)
        >>> L.shape, float(L.max()), np.unravel_index(L.argmax(), L.shape)[:2]
        ((64, 64, 1), 1.0, (np.int64(16), np.int64(32)))
        >>> [float(encode_heatmaps([[-2.5, 65.5]], 256, off_grid=g).max()) for g in OFF_GRID_TARGETS]
        [0.0, 0.6065306663513184]
    """
    if off_grid not in OFF_GRID_TARGETS:
        raise ValueError(f"off_grid must be one of {OFF_GRID_TARGETS}, got {off_grid!r}")
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim not in (2, 3) or pts.shape[-1] != 2:
        raise ValueError(f"landmarks must be (K, 2) or (N, K, 2), got {pts.shape}")
    size = int(input_size) // stride
    uv = crop_to_grid(pts, stride)
    u, v = uv[..., 0], uv[..., 1]
    valid = np.isfinite(u) & np.isfinite(v)
    if off_grid == "zero":
        valid &= (u >= -0.5) & (u < size - 0.5) & (v >= -0.5) & (v < size - 0.5)
    u, v = np.where(valid, u, 0.0), np.where(valid, v, 0.0)
    gx = _axis_profiles(u, size, sigma, radius) * valid[..., None]  # (..., K, W)
    gy = _axis_profiles(v, size, sigma, radius)                      # (..., K, H)
    return np.einsum("...kh,...kw->...hwk", gy, gx).astype(np.float32)


def check_decoder(decode: str) -> str:
    """``decode`` if it names a rule of :data:`DECODERS`, else ValueError naming it."""
    if decode not in DECODERS:
        raise ValueError(f"decode must be one of {DECODERS}, got {decode!r}")
    return decode


def smoothing_kernel(sigma: float = SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian of the DARK smoothing, ``2 ceil(3 sigma) + 1`` taps (float64).

    Example:
        >>> smoothing_kernel(1.0).shape
        (7,)
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    r = int(np.ceil(3.0 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(t * t) / (2.0 * sigma * sigma))
    return g / g.sum()


def _derivatives(L):
    """Gradient and Hessian of 3 x 3 values ``L[..., row, col]`` at the centre, by central
    differences (plain arithmetic: numpy arrays and keras tensors alike)."""
    gx = 0.5 * (L[..., 1, 2] - L[..., 1, 0])
    gy = 0.5 * (L[..., 2, 1] - L[..., 0, 1])
    hxx = L[..., 1, 2] - 2.0 * L[..., 1, 1] + L[..., 1, 0]
    hyy = L[..., 2, 1] - 2.0 * L[..., 1, 1] + L[..., 0, 1]
    hxy = 0.25 * (L[..., 2, 2] - L[..., 2, 0] - L[..., 0, 2] + L[..., 0, 0])
    return gx, gy, hxx, hyy, hxy


def _newton(L, where, ops=np):
    """Unclipped Newton step ``-H^-1 g`` on 3 x 3 log values and the guard ``ok`` (``H``
    negative definite; the step is 0 elsewhere). ``ops`` = numpy or ``keras.ops``."""
    gx, gy, hxx, hyy, hxy = _derivatives(L)
    det = hxx * hyy - hxy * hxy
    ok = ops.logical_and(ops.logical_and(hxx < 0, det > 0), ops.isfinite(det))
    safe = where(ok, det, ops.ones_like(det))
    zero = ops.zeros_like(det)
    dx = where(ok, -(hyy * gx - hxy * gy) / safe, zero)
    return dx, where(ok, -(hxx * gy - hxy * gx) / safe, zero), ok


def newton_step(logs):
    """One Newton step on 3 x 3 log values around a cell (DARK), with the guard.

    Args:
        logs: ``(..., 3, 3)`` log-heatmap values, ``[row, col]``, the cell at ``[1, 1]``.

    Returns:
        ``(dx, dy)`` float64 offsets in cells, 0 where the Hessian is not negative definite,
        clipped to ``[-1, 1]``.
    """
    dx, dy, _ = _newton(np.asarray(logs, np.float64), np.where)
    return np.clip(dx, -1.0, 1.0), np.clip(dy, -1.0, 1.0)


def _stencil(cells, size, r, ops=np):
    """Stencil centre and smoothing radius along one axis (numpy and keras tensors alike).

    The 3-cell stencil is centred on ``cells`` moved inside the map (``1 .. size - 2``), so an
    argmax on the edge cell takes its derivatives one cell further in (exact for a log-
    Gaussian, a quadratic). The smoothing radius is the kernel's ``r`` shrunk to the largest
    that keeps the stencil's whole window in the map (``r + 1`` cells each side at most), so
    no zeros from outside pull the estimate inwards; 0 (the raw values) on the cells next
    to the edge. A map under 3 cells wide keeps the cell (zeros outside).
    """
    centre = cells if size < 3 else ops.clip(cells, 1, size - 2)
    return centre, ops.clip(ops.minimum(centre - 1, size - 2 - centre), 0, r)


def _bands(kern):
    """The (r + 1, 3, side) stencil bands of one axis, by smoothing radius q = 0 .. r: the
    kernel's 2q + 1 middle taps; patch index ``r + a`` is stencil cell ``a``."""
    r = (len(kern) - 1) // 2
    side = 2 * r + 3
    bands = np.zeros((r + 1, 3, side))
    for q in range(r + 1):
        for a in range(3):
            bands[q, a, r + a - q:r + a + q + 1] = kern[r - q:r + q + 1]
    return bands


def _dark_offsets(hm, rows, cols, sigma):
    """DARK offsets at the argmax cells: hm (N, H, W, K), rows/cols (N, K) -> (dx, dy)."""
    n, h, w, k = hm.shape
    kern = smoothing_kernel(sigma)
    r = (len(kern) - 1) // 2
    side = 2 * r + 3  # the smoothed 3 x 3 needs a (2r + 3)^2 patch
    cy, sy = _stencil(rows, h, r)
    cx, sx = _stencil(cols, w, r)
    pad = np.pad(hm, ((0, 0), (r + 1, r + 1), (r + 1, r + 1), (0, 0)))
    steps = np.arange(side)
    # Padded index of patch row a is cy - 1 - r + a + (r + 1) = cy + a.
    ri = (cy[..., None] + steps)[..., :, None]            # (N, K, side, 1)
    ci = (cx[..., None] + steps)[..., None, :]            # (N, K, 1, side)
    ni = np.arange(n)[:, None, None, None]
    ki = np.arange(k)[None, :, None, None]
    patch = pad[ni, ri, ci, ki].astype(np.float64)        # (N, K, side, side)
    bands = _bands(kern)
    by, bx = bands[sy], bands[sx]                          # (N, K, 3, side)
    smooth = by @ patch @ np.swapaxes(bx, -1, -2)             # (N, K, 3, 3)
    floor = np.maximum(_LOG_FLOOR_REL * smooth.max(axis=(-2, -1), keepdims=True), _LOG_FLOOR)
    dx, dy, ok = _newton(np.log(np.maximum(smooth, floor)), np.where)
    # The guard keeps the argmax cell itself (not the moved stencil centre).
    return (np.where(ok, np.clip(cx - cols + dx, -1.0, 1.0), 0.0),
            np.where(ok, np.clip(cy - rows + dy, -1.0, 1.0), 0.0))


def decode_heatmaps(heatmaps, stride: int = STRIDE, decode: str = DEFAULT_DECODER,
                    sigma: float = SIGMA) -> Tuple[np.ndarray, np.ndarray]:
    """Heatmaps -> landmarks in crop pixels and peak scores (numpy, per frame).

    Args:
        heatmaps: ``(H, W, K)`` or ``(N, H, W, K)`` (predicted ``omega * L`` or a target
            ``L``; both rules are scale invariant).
        stride: input / heatmap size ratio (4).
        decode: ``"dark"`` (default) or ``"top2"`` (the paper's rule); module docstring.
        sigma: the training targets' Gaussian sigma in cells (DARK's smoothing).

    Returns:
        ``(landmarks, scores)``: float32 ``(N, K, 2)`` ``(x, y)`` in input-crop pixels and
        float32 ``(N, K)`` peak values (the unclipped maximum of each map). Unbatched
        input gives ``(K, 2)`` and ``(K,)``.

    Example:
        >>> L = encode_heatmaps([[100.0, 60.0]], input_size=256)
        >>> xy, s = decode_heatmaps(L)
        >>> xy.shape, s.shape
        ((1, 2), (1,))
    """
    check_decoder(decode)
    hm = np.asarray(heatmaps)
    single = hm.ndim == 3
    if single:
        hm = hm[None]
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be (H, W, K) or (N, H, W, K), got {hm.shape}")
    n, h, w, k = hm.shape
    hm = hm.astype(np.float32, copy=False)
    flat = hm.reshape(n, h * w, k)
    i1 = np.argmax(flat, axis=1)  # first occurrence = lowest flat index on ties
    s1 = np.take_along_axis(flat, i1[:, None], axis=1)[:, 0]
    if decode == "dark":
        dx, dy = _dark_offsets(hm, i1 // w, i1 % w, sigma)
        col, row = (i1 % w) + dx, (i1 // w) + dy
    else:
        masked = flat.copy()
        np.put_along_axis(masked, i1[:, None], -np.inf, axis=1)
        i2 = np.argmax(masked, axis=1)
        s2 = np.take_along_axis(flat, i2[:, None], axis=1)[:, 0]
        w1, w2 = np.maximum(s1, 0.0), np.maximum(s2, 0.0)
        den = w1 + w2
        safe = np.where(den > 0, den, 1.0)
        a1 = np.where(den > 0, w1 / safe, 1.0)
        a2 = np.where(den > 0, w2 / safe, 0.0)
        col = a1 * (i1 % w) + a2 * (i2 % w)
        row = a1 * (i1 // w) + a2 * (i2 // w)
    xy = np.stack([col, row], axis=-1)
    xy = (stride * (xy + 0.5) - 0.5).astype(np.float32)
    s1 = s1.astype(np.float32)
    return (xy[0], s1[0]) if single else (xy, s1)


def _dark_offsets_ops(hm, rows, cols, sigma):
    """keras.ops twin of :func:`_dark_offsets`: hm (N, H, W, K), rows/cols int (N, K)."""
    from keras import ops

    kern = smoothing_kernel(sigma)
    r = (len(kern) - 1) // 2
    side = 2 * r + 3
    _, h, w, k = hm.shape
    cy, sy = _stencil(rows, h, r, ops)
    cx, sx = _stencil(cols, w, r, ops)
    # One (h + 2r + 2)^2 zero-padded image per (face, landmark); gather the side x side patch
    # whose top-left padded index is (cy, cx), as numpy does.
    x = ops.transpose(hm, (0, 3, 1, 2))
    x = ops.pad(x, [[0, 0], [0, 0], [r + 1, r + 1], [r + 1, r + 1]])
    pw = w + 2 * r + 2
    x = ops.reshape(x, (-1, k, (h + 2 * r + 2) * pw))
    steps = ops.arange(side, dtype="int32")
    rr = ops.expand_dims(ops.cast(cy, "int32"), -1) + steps          # (N, K, side)
    cc = ops.expand_dims(ops.cast(cx, "int32"), -1) + steps
    idx = ops.reshape(ops.expand_dims(rr, -1) * pw + ops.expand_dims(cc, -2), (-1, k, side * side))
    patch = ops.reshape(ops.take_along_axis(x, idx, axis=2), (-1, k, side, side))
    bands = ops.convert_to_tensor(_bands(kern).astype(np.float32))
    by = ops.take(bands, ops.cast(sy, "int32"), axis=0)               # (N, K, 3, side)
    bx = ops.take(bands, ops.cast(sx, "int32"), axis=0)
    smooth = ops.einsum("nkai,nkij,nkbj->nkab", by, patch, bx)
    floor = ops.maximum(_LOG_FLOOR_REL * ops.max(smooth, axis=(-2, -1), keepdims=True), _LOG_FLOOR)
    dx, dy, ok = _newton(ops.log(ops.maximum(smooth, floor)), ops.where, ops)
    off_x = ops.clip(ops.cast(cx - cols, "float32") + dx, -1.0, 1.0)
    off_y = ops.clip(ops.cast(cy - rows, "float32") + dy, -1.0, 1.0)
    return ops.where(ok, off_x, ops.zeros_like(dx)), ops.where(ok, off_y, ops.zeros_like(dy))


def decode_heatmaps_ops(heatmaps, stride: int = STRIDE, decode: str = DEFAULT_DECODER,
                        sigma: float = SIGMA):
    """In-graph twin of :func:`decode_heatmaps` in ``keras.ops`` (any Keras backend).

    Same rules, same tie rule (``ops.top_k`` keeps the lower index first on TensorFlow
    and JAX); float32 arithmetic, so it agrees with numpy within 1e-3 px. For a Keras
    metric or a graph that must decode (the library decodes outside the graph).

    Args:
        heatmaps: ``(N, H, W, K)`` or ``(H, W, K)`` tensor (any float dtype) with static
            ``H, W, K``.
        stride: input / heatmap size ratio (4).
        decode: ``"dark"`` (default) or ``"top2"``.
        sigma: the training targets' Gaussian sigma in cells (DARK's smoothing).

    Returns:
        ``(landmarks, scores)``: float32 tensors ``(N, K, 2)`` and ``(N, K)`` (or
        ``(K, 2)``, ``(K,)`` for unbatched input).

    Example:
        >>> xy, s = decode_heatmaps_ops(np.zeros((2, 64, 64, 68), "float32"))
        >>> tuple(xy.shape), tuple(s.shape)
        ((2, 68, 2), (2, 68))
    """
    from keras import ops

    check_decoder(decode)
    hm = ops.cast(ops.convert_to_tensor(heatmaps), "float32")
    single = len(hm.shape) == 3
    if single:
        hm = ops.expand_dims(hm, 0)
    _, h, w, k = hm.shape
    flat = ops.reshape(ops.transpose(hm, (0, 3, 1, 2)), (-1, k, h * w))
    vals, idx = ops.top_k(flat, k=2, sorted=True)  # ties: lower index first
    col = ops.cast(ops.mod(idx, w), "float32")
    row = ops.cast(ops.floor_divide(idx, w), "float32")
    if decode == "dark":
        first = idx[..., 0]
        dx, dy = _dark_offsets_ops(hm, ops.floor_divide(first, w), ops.mod(first, w), sigma)
        x, y = col[..., 0] + dx, row[..., 0] + dy
    else:
        s = ops.maximum(vals, 0.0)
        den = s[..., 0] + s[..., 1]
        positive = den > 0
        safe = ops.where(positive, den, ops.ones_like(den))
        a1 = ops.where(positive, s[..., 0] / safe, ops.ones_like(den))
        a2 = ops.where(positive, s[..., 1] / safe, ops.zeros_like(den))
        x = a1 * col[..., 0] + a2 * col[..., 1]
        y = a1 * row[..., 0] + a2 * row[..., 1]
    xy = stride * (ops.stack([x, y], axis=-1) + 0.5) - 0.5
    score = vals[..., 0]
    return (xy[0], score[0]) if single else (xy, score)


__all__ = [
    "STRIDE",
    "WINDOW_RADIUS",
    "SIGMA",
    "DECODERS",
    "OFF_GRID_TARGETS",
    "DEFAULT_DECODER",
    "check_decoder",
    "smoothing_kernel",
    "newton_step",
    "crop_to_grid",
    "nearest_cell",
    "grid_to_crop",
    "grid_to_crop_matrix",
    "encode_heatmaps",
    "decode_heatmaps",
    "decode_heatmaps_ops",
]
