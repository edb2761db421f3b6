"""Builders of the paper's occlusion-robustness benchmarks (Section IV-F), written to disk in
their source formats so the ordinary readers load them.

* **AFLW2000-SO** (Fig. 6, Table 9): every AFLW2000-3D face with one of five rectangles
  blacked out: ``left``, ``top``, ``right``, ``bottom`` or ``middle`` of the face box.
  The paper gives no exact geometry; here the box is the network's crop box (landmark box
  enlarged 10% per side, made square: what the model sees) and each rectangle covers
  ``fraction`` (default half) of it: the left / right half, the top / bottom half, or a
  centred square of half its side. "left" / "right" are image sides (viewer's). Output:
  ``dst/<part>/imageNNNNN.jpg`` with the original ``.mat`` copied next to it (same keys).
* **Masked-300W style** (Table 8): a synthetic face mask (medical or cloth, see
  :mod:`lponet_tf.data.occluders.face_masks`) drawn from the landmarks of any 68-point
  image + ``.pts`` set, keeping the folder layout; the ``.pts`` files are copied unchanged
  (landmarks are the unoccluded ground truth). Two more styles are drawn by this module
  alone, never by a training config (:data:`EVAL_ONLY_STYLES`): ``plain``, a flat
  polygon on the jaw line up to the nose bridge, and ``round``, an ellipse over the mouth
  and the lower nose that leaves the sides of the jaw visible. A network trained on the
  fixed medical / cloth masks learns where their edges sit relative to the jaw; these
  two measure how much of its masked-face accuracy is that (README model card).

Both are deterministic: same input and seed, same files.

Command line::

    python -m lponet_tf.data.benchmark_sets aflw2000-so SRC DST
    python -m lponet_tf.data.benchmark_sets masked-300w SRC DST --seed 0
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from lponet_tf.codec.crop import box_from_landmarks, square_box
from lponet_tf.data.occluders import FaceFrame, Layer, composite, draw_face_mask
from lponet_tf.data.sample import read_record_image
from lponet_tf.errors import LPONetError
from lponet_tf.fileio import OutputError, atomic_write_via, check_outputs

SO_PARTS = ("left", "top", "right", "bottom", "middle")
_JPEG_QUALITY = 95


def so_rectangle(box: Sequence[float], part: str, fraction: float = 0.5) -> Tuple[float, float, float, float]:
    """The occluding rectangle ``(x0, y0, x1, y1)`` of an AFLW2000-SO ``part``.

    Args:
        box: the square face box ``(x0, y0, x1, y1)``.
        part: one of :data:`SO_PARTS`.
        fraction: share of the box side the rectangle spans (its width for left/right,
            height for top/bottom, both for middle).

    Example:
        >>> so_rectangle((0, 0, 100, 100), "left")
        (0.0, 0.0, 50.0, 100.0)
        >>> so_rectangle((0, 0, 100, 100), "middle")
        (25.0, 25.0, 75.0, 75.0)
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = (x1 - x0) * fraction, (y1 - y0) * fraction
    if part == "left":
        return (x0, y0, x0 + w, y1)
    if part == "right":
        return (x1 - w, y0, x1, y1)
    if part == "top":
        return (x0, y0, x1, y0 + h)
    if part == "bottom":
        return (x0, y1 - h, x1, y1)
    if part == "middle":
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    raise ValueError(f"part must be one of {SO_PARTS}, got {part!r}")


def fill_rectangle(image: np.ndarray, rect: Sequence[float], value: int = 0) -> None:
    """Set the pixels whose centres lie inside ``rect`` to ``value`` (in place, clipped)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = rect
    # Pixel i covers [i - 0.5, i + 0.5]: its centre i is inside when x0 <= i < x1.
    c0, c1 = max(0, int(np.ceil(x0))), min(w, int(np.ceil(x1)))
    r0, r1 = max(0, int(np.ceil(y0))), min(h, int(np.ceil(y1)))
    if c1 > c0 and r1 > r0:
        image[r0:r1, c0:c1] = value


def _write_rgb(path: pathlib.Path, image: np.ndarray, replace: bool = True) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY] if path.suffix.lower() in (".jpg", ".jpeg") else []

    def write(tmp):
        if not cv2.imwrite(tmp, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params):
            raise OSError(f"cannot write {path}")
    atomic_write_via(path, write, replace)


def _copy(src: pathlib.Path, dst: pathlib.Path, replace: bool = True) -> None:
    atomic_write_via(dst, lambda tmp: shutil.copy2(src, tmp), replace)


def check_destination(src, dst, targets, overwrite: bool = False) -> None:
    """Refuse a benchmark folder that overlaps its source, or files an earlier run wrote.

    Called before anything is written. A destination inside the source would be read back
    as more faces of it (a reader walks sub-folders), and one that holds the source would
    write the copies over the originals.

    Raises:
        OutputError: naming the folder or the first existing file (``overwrite`` allows
            replacing those, never the source's files).
    """
    s, d = pathlib.Path(src).resolve(), pathlib.Path(dst).resolve()
    if d == s or s in d.parents or d in s.parents:
        raise OutputError(dst, f"overlaps the source folder {src}: choose a destination "
                               "outside it (its readers would take the copies for more faces, "
                               "or the copies would replace the originals)")
    check_outputs(targets, overwrite=overwrite, what="benchmark file")


def build_aflw2000_so(
    src, dst, parts: Sequence[str] = SO_PARTS, fraction: float = 0.5, fill: int = 0,
    overwrite: bool = False,
) -> Dict[str, int]:
    """Write AFLW2000-SO: one folder per occluded part, each a complete AFLW2000 copy.

    Every face is kept (also those beyond +-99 deg; the aflw2000 reader drops them when
    evaluating, as for the original set).

    Args:
        src: an AFLW2000-3D folder (``imageNNNNN.jpg`` + ``.mat``).
        dst: output folder; ``dst/<part>/`` is created for each part.
        parts: which of :data:`SO_PARTS` to write.
        fraction: rectangle size, see :func:`so_rectangle`.
        fill: grey value of the removed region (0: black, as in Fig. 6).
        overwrite: replace files of an earlier run in ``dst`` (refused otherwise).

    Returns:
        ``{part: number of faces written}``.

    Raises:
        DataError: unreadable source files (from the reader), naming the file.
        OutputError: ``dst`` overlaps ``src``, or holds files of an earlier run (before
            anything is written; :func:`check_destination`).

    Example:
        >>> build_aflw2000_so("AFLW2000", "AFLW2000-SO")  # doctest: +SKIP
        {'left': 2000, 'top': 2000, 'right': 2000, 'bottom': 2000, 'middle': 2000}
    """
    from lponet_tf.data.readers import read_dataset

    src, dst = pathlib.Path(src), pathlib.Path(dst)
    for part in parts:
        so_rectangle((0, 0, 1, 1), part)  # an unknown part is refused before any work
    records = read_dataset("aflw2000", src, max_angle_deg=None)
    rels = [pathlib.Path(rec.image_path).relative_to(src) for rec in records]
    check_destination(src, dst, [dst / part / rel.with_suffix(ext) for part in parts
                                 for rel in rels for ext in (rel.suffix, ".mat")], overwrite)
    counts = {p: 0 for p in parts}
    for rec, rel in zip(records, rels):
        image = read_record_image(rec.image_path)
        box = square_box(box_from_landmarks(rec.landmarks))
        img_path = pathlib.Path(rec.image_path)
        for part in parts:
            out = image.copy()
            fill_rectangle(out, so_rectangle(box, part, fraction), fill)
            target = dst / part / rel
            _write_rgb(target, out, overwrite)
            _copy(img_path.with_suffix(".mat"), target.with_suffix(".mat"), overwrite)
            counts[part] += 1
    return counts


#: Mask styles no training config draws (see the module doc).
EVAL_ONLY_STYLES = ("plain", "round")
MASK_STYLES = ("any", "surgical", "cloth") + EVAL_ONLY_STYLES
#: Colours of ``plain`` masks (RGB): white, light blue, black.
_PLAIN_COLOURS = ((235, 235, 235), (150, 190, 225), (30, 30, 30))


def eval_mask_layer(image: np.ndarray, lm: np.ndarray, rng: np.random.Generator, style: str) -> Layer:
    """The occluder of an evaluation-only mask ``style`` (:data:`EVAL_ONLY_STYLES`).

    ``plain``: jaw points 2-16 and nose-bridge point 29 (1-based) filled in one of
    :data:`_PLAIN_COLOURS`. ``round``: an ellipse centred between the nose tip and the
    chin (moved 5% of the bridge-to-chin vector down), half-axes 50-60% of the jaw width
    (points 2-16) and 55-65% of the bridge-to-chin height (points 29-9), turned with the
    line between the ear points 1 and 17, in any colour.

    Example:
        >>> lm = np.stack([np.linspace(10, 90, 68), np.linspace(10, 90, 68)], 1)
        >>> layer = eval_mask_layer(np.zeros((100, 100, 3), np.uint8), lm, np.random.default_rng(0), "plain")
        >>> layer.alpha.shape
        (100, 100)
    """
    lm = np.asarray(lm, np.float64)
    layer = Layer.empty(image.shape)
    if style == "plain":
        colour = _PLAIN_COLOURS[int(rng.integers(len(_PLAIN_COLOURS)))]
        layer.fill_polygon(np.concatenate([lm[1:16], lm[28:29]]), colour)
    elif style == "round":
        centre = (lm[30] + lm[8]) / 2 + (lm[8] - lm[27]) * 0.05
        axes = (np.linalg.norm(lm[15] - lm[1]) * rng.uniform(0.5, 0.6),
                np.linalg.norm(lm[8] - lm[28]) * rng.uniform(0.55, 0.65))
        turn = np.arctan2(lm[16, 1] - lm[0, 1], lm[16, 0] - lm[0, 0])
        t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        local = np.stack([axes[0] * np.cos(t), axes[1] * np.sin(t)], 1)
        rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        layer.fill_polygon(centre + local @ rot.T, rng.integers(0, 256, 3))
    else:
        raise ValueError(f"not an evaluation-only mask style: {style!r}; expected one of {EVAL_ONLY_STYLES}")
    return layer


def sunglasses_and_mask(image: np.ndarray, landmarks: np.ndarray, seed: int, style: str = "round") -> np.ndarray:
    """A copy of ``image`` with the training generator's sunglasses and an evaluation-only mask
    ``style`` drawn from ``landmarks`` (each seeded with ``seed``): a face that BlazeFace scores
    very low, for the candidate check's tests and picture (``lponet_tf.inference.candidate_check``).

    Example:
        >>> lm = np.stack([np.linspace(30, 70, 68), np.linspace(30, 70, 68)], 1)
        >>> sunglasses_and_mask(np.zeros((100, 100, 3), np.uint8), lm, 0).shape
        (100, 100, 3)
    """
    from lponet_tf.data.occlusion import OcclusionConfig, occlude, visible_face_from_landmarks

    out = np.array(image, np.uint8, copy=True)
    occlude(out, visible_face_from_landmarks(landmarks, out.shape[:2]), landmarks,
            OcclusionConfig(prob=1.0), np.random.default_rng(seed), kinds=["sunglasses"])
    return draw_mask(out, landmarks, np.random.default_rng(seed), style)


def draw_mask(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: str) -> np.ndarray:
    """``image`` (changed in place and returned) with a face mask of ``style`` drawn from
    ``landmarks``: what :func:`build_masked_300w` writes for one face, given its generator.

    Example:
        >>> lm = np.stack([np.linspace(30, 70, 68), np.linspace(30, 70, 68)], 1)
        >>> draw_mask(np.zeros((100, 100, 3), np.uint8), lm, np.random.default_rng(0), "plain").shape
        (100, 100, 3)
    """
    if style in EVAL_ONLY_STYLES:
        layer: Layer = eval_mask_layer(image, landmarks, rng, style)
    else:
        layer = draw_face_mask(image, landmarks, FaceFrame.from_landmarks(landmarks), rng, style)
    composite(image, np.ones(image.shape[:2], np.float32), layer)  # label unused: 300W has none
    return image


def build_masked_300w(src, dst, seed: int = 0, style: str = "any", overwrite: bool = False) -> int:
    """Write a Masked-300W-style copy of a 68-point ``.pts`` set: a face mask on every face.

    Args:
        src: a 300W folder (the official layout or any folder tree of image + ``.pts``).
        dst: output folder; the relative layout of ``src`` is kept.
        seed: mask shapes/colours; file ``i`` uses ``numpy.random.default_rng([seed, i])``
            with files in sorted order.
        style: "surgical", "cloth", "any" (one of the two at random per face), or an
            evaluation-only style, "plain" or "round" (see the module doc).
        overwrite: replace files of an earlier run in ``dst`` (refused otherwise).

    Returns:
        number of faces written.

    Raises:
        OutputError: ``dst`` overlaps ``src``, or holds files of an earlier run (before
            anything is written; :func:`check_destination`).

    Example:
        >>> build_masked_300w("300W/test", "Masked300W/test", seed=0)  # doctest: +SKIP
        689
    """
    from lponet_tf.data.pts import write_pts
    from lponet_tf.data.readers import read_dataset

    if style not in MASK_STYLES:
        raise ValueError(f"mask style must be one of {MASK_STYLES}, got {style!r}")
    src, dst = pathlib.Path(src), pathlib.Path(dst)
    records = sorted(read_dataset("300w", src), key=lambda r: r.image_path)
    targets = [dst / pathlib.Path(rec.image_path).relative_to(src) for rec in records]
    check_destination(src, dst, [t.with_suffix(ext) for t in targets for ext in (t.suffix, ".pts")],
                      overwrite)
    for i, (rec, target) in enumerate(zip(records, targets)):
        image = draw_mask(read_record_image(rec.image_path), rec.landmarks,
                          np.random.default_rng([seed, i]), style)
        _write_rgb(target, image, overwrite)
        pts_src = rec.attributes.get("annotation_path")
        if pts_src and os.path.isfile(pts_src):
            _copy(pathlib.Path(pts_src), target.with_suffix(".pts"), overwrite)
        else:
            atomic_write_via(target.with_suffix(".pts"),
                             lambda tmp: write_pts(tmp, rec.landmarks), overwrite)
    return len(records)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Build the AFLW2000-SO or a Masked-300W-style benchmark.")
    sub = ap.add_subparsers(dest="which", required=True)
    so = sub.add_parser("aflw2000-so", help="five rectangle occlusions of AFLW2000-3D")
    so.add_argument("src")
    so.add_argument("dst")
    so.add_argument("--fraction", type=float, default=0.5)
    m = sub.add_parser("masked-300w", help="synthetic face masks on a 68-point .pts set")
    m.add_argument("src")
    m.add_argument("dst")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--style", choices=MASK_STYLES, default="any",
                   help="mask style; plain and round are never drawn in training (module doc)")
    for p in (so, m):
        p.add_argument("--overwrite", action="store_true",
                       help="replace the files of an earlier run in DST (never the source's)")
    args = ap.parse_args(argv)
    try:
        if args.which == "aflw2000-so":
            print(build_aflw2000_so(args.src, args.dst, fraction=args.fraction,
                                    overwrite=args.overwrite))
        else:
            n = build_masked_300w(args.src, args.dst, args.seed, args.style, args.overwrite)
            print(f"{n} faces written")
    except (LPONetError, OSError) as exc:
        print(f"benchmark_sets {args.which}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
