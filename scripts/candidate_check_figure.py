#!/usr/bin/env python
"""Picture of the candidate check: a face the detector misses, found by the landmark network.

The bundled sample photo (``lponet_tf/assets/astronaut.png``) with synthetic sunglasses and an
evaluation-only ``round`` face mask (``lponet_tf.data.benchmark_sets.sunglasses_and_mask``):
for the first seed whose photo the default detector finds no face in and the candidate check
keeps the astronaut's face (its landmark box on the bare photo's, IoU >= 0.5), two panels side
by side, cut around the face and enlarged: ``candidate_check=False`` (no face) and the default
analyzer (the face drawn with ``lponet_tf.draw``, its mean landmark score and visibility in the
caption).

Usage:
    python scripts/candidate_check_figure.py --output docs/images/candidate_check_astronaut.png

The output is refused if it exists, unless ``--overwrite``; it is written atomically.
"""
from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from lponet_tf.data.benchmark_sets import sunglasses_and_mask  # noqa: E402
from lponet_tf.detection import box_iou, landmark_box  # noqa: E402
from lponet_tf.fileio import atomic_write_via, check_outputs  # noqa: E402

ASTRONAUT = pathlib.Path(__file__).resolve().parents[1] / "lponet_tf" / "assets" / "astronaut.png"


def find_case(analyzer, image, seeds=range(30)):
    """(seed, occluded image, faces) of the first seed the detector misses and the check keeps."""
    landmarks = analyzer.analyze(image)[0].landmarks
    truth = landmark_box(landmarks)
    for seed in seeds:
        occluded = sunglasses_and_mask(image, landmarks, seed, "round")
        if analyzer.detect(occluded):
            continue
        faces = analyzer.find_faces(occluded)
        if faces and box_iou(landmark_box(faces[0].landmarks), truth)[0, 0] >= 0.5:
            return seed, occluded, faces
    return None


def panel(picture: np.ndarray, caption: str) -> np.ndarray:
    strip = np.full((28, picture.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, caption, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([picture, strip])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", required=True, help="PNG to write")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    args = ap.parse_args(argv)
    check_outputs([args.output], inputs=[ASTRONAUT], overwrite=args.overwrite, what="picture")
    from lponet_tf import draw
    from lponet_tf.inference.analyzer import FaceAnalyzer

    analyzer = FaceAnalyzer.create(threads=2)
    image = cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)
    case = find_case(analyzer, image)
    if case is None:
        print("no seed gives a face the detector misses and the check keeps", file=sys.stderr)
        return 1
    seed, occluded, faces = case
    off = FaceAnalyzer(analyzer.runner, analyzer.detector,
                       dataclasses.replace(analyzer.options, candidate_check=False))
    # the face's surroundings, 2.5 times its landmark box, enlarged to 420 px
    x0, y0, x1, y1 = landmark_box(faces[0].landmarks)
    half = 1.25 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = occluded.shape[:2]
    r0, r1 = int(max(0, cy - half)), int(min(h, cy + half))
    c0, c1 = int(max(0, cx - half)), int(min(w, cx + half))

    def zoom(picture):
        part = picture[r0:r1, c0:c1]
        return cv2.resize(part, (420, round(420 * part.shape[0] / part.shape[1])),
                          interpolation=cv2.INTER_CUBIC)

    left = panel(zoom(draw(occluded, off.analyze(occluded))), "detector alone: no face")
    f = faces[0]
    right = panel(zoom(draw(occluded, faces)), f"candidate check: landmark score {f.confidence:.2f}, "
                                               f"visible {float(np.mean(f.visibility)):.2f}")
    figure = np.hstack([left, np.full((left.shape[0], 8, 3), 255, np.uint8), right])
    atomic_write_via(args.output, lambda tmp: cv2.imwrite(tmp, figure[:, :, ::-1]))
    print(f"seed {seed}: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
