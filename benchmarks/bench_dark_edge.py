#!/usr/bin/env python
"""DARK decoding near the heatmap's edge: the library's edge rule vs plain zero padding.

Training targets (:func:`lponet_tf.heatmaps.encode_heatmaps`, 7x7 Gaussian of sigma 1 cell)
of known centre are rendered at a distance ``d`` from an edge cell's centre (left and bottom
edges, 11 sub-pixel positions along each) on a 256 px crop (64 x 64 map), decoded, and the
error measured in crop pixels (positive = pulled inwards). "zero padding" is DARK as first
implemented (the whole map smoothed with zeros outside, the Newton step at the argmax cell),
written here with OpenCV as the comparison; "edge rule" is :func:`decode_heatmaps`. A second
table adds N(0, 3) noise to ``60 * L`` (400 points per distance) and gives the mean error.

    .venv/bin/python benchmarks/bench_dark_edge.py
"""
from __future__ import annotations

import cv2
import numpy as np

from lponet_tf.heatmaps import decode_heatmaps, encode_heatmaps, grid_to_crop

S, H = 256, 64


def zero_padded_dark(hm: np.ndarray) -> np.ndarray:
    """DARK with zeros outside the map: (N, H, W, 1) -> (N, 2) crop pixels."""
    out = []
    for m in hm[..., 0].astype(np.float64):
        row, col = divmod(int(np.argmax(m)), m.shape[1])
        big = cv2.copyMakeBorder(m, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=0)
        blur = cv2.GaussianBlur(big, (7, 7), 1.0, 1.0, borderType=cv2.BORDER_CONSTANT)
        L = np.log(np.maximum(blur[row + 3:row + 6, col + 3:col + 6], 1e-10))
        g = np.array([(L[1, 2] - L[1, 0]) / 2, (L[2, 1] - L[0, 1]) / 2])
        hxy = (L[2, 2] - L[2, 0] - L[0, 2] + L[0, 0]) / 4
        hess = np.array([[L[1, 2] - 2 * L[1, 1] + L[1, 0], hxy],
                         [hxy, L[2, 1] - 2 * L[1, 1] + L[0, 1]]])
        step = np.zeros(2)
        if np.all(np.linalg.eigvalsh(hess) < 0):
            step = np.clip(-np.linalg.solve(hess, g), -1, 1)
        out.append(grid_to_crop(np.array([col, row]) + step))
    return np.array(out)


def decoders(hm):
    return {"zero padding": zero_padded_dark(hm), "edge rule": decode_heatmaps(hm)[0][:, 0]}


def bias_table() -> str:
    lines = ["| d (cells) | zero padding: mean inward px (max abs) | edge rule |", "|---|---|---|"]
    along = np.linspace(20.0, 21.0, 11)
    for d in (-0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0):
        near = np.full_like(along, d)
        uv = np.concatenate([np.stack([near, along], -1), np.stack([along, H - 1 - near], -1)])
        truth = grid_to_crop(uv)
        hm = 60.0 * encode_heatmaps(truth[:, None], S)
        cells = []
        for xy in decoders(hm).values():
            e = np.concatenate([xy[:11, 0] - truth[:11, 0], truth[11:, 1] - xy[11:, 1]])
            cells.append(f"{e.mean():+.3f} ({np.abs(e).max():.3f})")
        lines.append(f"| {d:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def noise_table(n: int = 400, seed: int = 5) -> str:
    rng = np.random.default_rng(seed)
    lines = ["| d (cells) | zero padding: mean error px | edge rule |", "|---|---|---|"]
    for d in (0.0, 0.5, 1.0, 2.0, 3.0, 4.5, 8.0):
        uv = np.stack([d + rng.uniform(-0.25, 0.25, n), rng.uniform(15, 45, n)], -1)
        truth = grid_to_crop(uv)
        hm = 60.0 * encode_heatmaps(truth[:, None], S) + rng.normal(scale=3.0, size=(n, H, H, 1))
        errs = [np.linalg.norm(xy - truth, axis=-1).mean() for xy in decoders(hm).values()]
        lines.append(f"| {d:g} | " + " | ".join(f"{e:.3f}" for e in errs) + " |")
    return "\n".join(lines)


def main() -> None:
    print("Training targets, 256 px crop, error vs distance d from an edge cell's centre:\n")
    print(bias_table())
    print("\nWith N(0, 3) noise on 60 * L:\n")
    print(noise_table())


if __name__ == "__main__":
    main()
