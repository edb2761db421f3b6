#!/usr/bin/env python
"""Write a PNG grid of augmented, occluded training samples with their labels drawn.

For a person to look at: each tile is one prepared sample (what the network sees) with
the landmarks (green dots; index 36, the outer corner of the subject's right eye, in red:
it must sit on the image-left eye of a frontal face, flipped or not), the pose axes when the sample has a pose (red: head x / subject's left ear, green:
up, blue: facing direction) and the visible-face mask as a translucent overlay (cyan:
label from a mask file; yellow: approximated from the landmarks, see
``lponet_tf.data.occlusion``). A caption lists the flip / angle and the occluders drawn.

Usage:
    python scripts/augmentation_grid.py --data /data/300w --out grid.png
    python scripts/augmentation_grid.py --data /data/300w \\
        --data aflw2000=/data/AFLW2000 --rows 6 --cols 8 --out grid.png

``--data`` takes ``PATH`` (read as 300W) or ``NAME=PATH`` with any
``lponet_tf.data.read_dataset`` name; several are interleaved.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import List, Optional

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from lponet_tf.data import read_dataset  # noqa: E402
from lponet_tf.data.augment import AugmentConfig  # noqa: E402
from lponet_tf.data.occlusion import OcclusionConfig  # noqa: E402
from lponet_tf.data.sample import PreparedSample, prepare_sample  # noqa: E402

OVERLAY = {"label": np.array([0, 255, 255]), "landmarks": np.array([255, 230, 0])}


def draw_pose_axes(img: np.ndarray, pose: np.ndarray, origin, length: float) -> None:
    """Draw the head's axes (camera-frame columns of ``pose``) from ``origin``, in place."""
    o = np.asarray(origin, np.float64)
    # x: towards the subject's left ear; -y: up; -z: where the face looks.
    for axis, sign, colour in ((0, 1.0, (255, 40, 40)), (1, -1.0, (40, 255, 40)), (2, -1.0, (60, 120, 255))):
        d = sign * np.asarray(pose, np.float64)[:2, axis] * length
        cv2.arrowedLine(img, tuple(int(v) for v in np.round(o)), tuple(int(v) for v in np.round(o + d)),
                        colour, 2, cv2.LINE_AA, tipLength=0.15)


def render(sample: PreparedSample, caption: str) -> np.ndarray:
    """One annotated tile (RGB uint8, input size + caption strip)."""
    img = sample.image.astype(np.float32)
    size = img.shape[0]
    if sample.visible is not None:
        tint = OVERLAY[sample.mask_source]
        a = 0.35 * sample.visible[..., None]
        img = img * (1 - a) + tint * a
    img = np.clip(img, 0, 255).astype(np.uint8)
    if sample.landmarks is not None:
        for i, (x, y) in enumerate(sample.landmarks):
            colour = (255, 0, 0) if i == 36 else (0, 255, 0)
            cv2.circle(img, (int(round(x * 4)), int(round(y * 4))), 2 * 4 if i == 36 else 4, colour, -1,
                       cv2.LINE_AA, 2)
    if sample.pose is not None:
        origin = sample.landmarks[30] if sample.landmarks is not None else (size / 2, size / 2)
        draw_pose_axes(img, sample.pose, origin, size * 0.25)
    strip = np.full((18, size, 3), 255, np.uint8)
    cv2.putText(strip, caption, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([img, strip])


def caption_of(sample: PreparedSample, dataset: str) -> str:
    p = sample.params
    parts = [dataset, f"{p.angle:+.0f}d", f"x{p.scale:.2f}"]
    if p.flip:
        parts.append("flip")
    if p.blur_sigma:
        parts.append("blur")
    parts += sample.occluders
    return " ".join(parts)


def build_grid(
    sources: List[tuple], rows: int, cols: int, size: int, seed: int,
    augment: Optional[AugmentConfig] = None, occlusion: Optional[OcclusionConfig] = None,
) -> np.ndarray:
    """Render ``rows x cols`` random samples drawn round-robin from ``sources``.

    Args:
        sources: ``[(name, records), ...]``.
        rows, cols: grid shape.
        size: input size S of each tile.
        seed: picks records and augmentations.
        augment, occlusion: configs (defaults: the paper's augmentation, occlusion on
            every sample so the grid shows occluders).

    Returns:
        RGB uint8 grid image.
    """
    rng = np.random.default_rng(seed)
    augment = augment or AugmentConfig()
    occlusion = occlusion or OcclusionConfig(prob=0.85, max_occluders=2)
    tiles = []
    for i in range(rows * cols):
        name, records = sources[i % len(sources)]
        rec = records[int(rng.integers(len(records)))]
        s = prepare_sample(rec, size, rng, augment=augment, occlusion=occlusion)
        tiles.append(render(s, caption_of(s, name)))
    pad = 4
    h, w = tiles[0].shape[:2]
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 40, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = t
    return grid


def parse_source(text: str) -> tuple:
    name, _, path = text.rpartition("=")
    return (name or "300w"), path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", required=True, help="PATH or NAME=PATH (repeatable)")
    ap.add_argument("--out", default="grid.png", help="output PNG")
    ap.add_argument("--rows", type=int, default=5)
    ap.add_argument("--cols", type=int, default=8)
    ap.add_argument("--size", type=int, default=192, help="input size S of each tile")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sources = []
    for text in args.data:
        name, path = parse_source(text)
        records = read_dataset(name, path)
        if not records:
            ap.error(f"no {name} records under {path}")
        sources.append((name, records))
    grid = build_grid(sources, args.rows, args.cols, args.size, args.seed)
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(args.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f"cannot write {args.out}")
    print(f"wrote {args.out} ({grid.shape[1]}x{grid.shape[0]}, {args.rows * args.cols} samples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
