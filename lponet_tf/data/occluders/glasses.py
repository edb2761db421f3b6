"""Sunglasses placed from the eye landmarks (36..41 and 42..47).

Lenses and frame are occluders; following the paper's C-CM/COFW convention even a
see-through lens counts as "not-face", so the whole lens is removed from the visible mask.
"""
from __future__ import annotations

import numpy as np

from lponet_tf.data.occluders.base import FaceFrame, Layer, superellipse

_FRAME_COLOURS = np.array([(15, 15, 18), (60, 40, 25), (190, 160, 90), (150, 150, 155), (110, 20, 25)], np.float64)


def draw_sunglasses(image: np.ndarray, lm: np.ndarray, frame: FaceFrame, rng: np.random.Generator) -> Layer:
    """Two dark lenses over the eyes, a bridge and temples running to the ears.

    Args:
        image: (H, W, 3) uint8, only its shape is used.
        lm: (68, 2) landmarks.
        frame: the face's axes.
        rng: numpy Generator.

    Returns:
        The sunglasses :class:`Layer`.
    """
    lm = np.asarray(lm, np.float64)
    layer = Layer.empty(image.shape)
    eyes = (lm[36:42], lm[42:48])
    widths = [float(np.hypot(*(e[3] - e[0]))) for e in eyes]
    iod = float(np.hypot(*(eyes[1].mean(0) - eyes[0].mean(0))))
    # Lens height from the wider eye: a foreshortened (far) eye keeps the lens height.
    b = max(max(widths), 0.3 * iod, 1.0) * rng.uniform(0.5, 0.7)
    line = lm[45] - lm[36]
    angle = float(np.arctan2(line[1], line[0]))
    shape_n = rng.uniform(2.0, 4.5)  # 2 = round lenses, larger = rectangular ones
    spread = rng.uniform(0.75, 0.95)
    lens_colour = np.array([20.0, 20.0, 24.0]) + rng.uniform(0, 50, 3)
    frame_colour = _FRAME_COLOURS[int(rng.integers(len(_FRAME_COLOURS)))]
    rim = max(1.0, iod * rng.uniform(0.025, 0.05))
    lenses = []
    for eye, w in zip(eyes, widths):
        centre = eye.mean(0) - frame.up * b * 0.12
        a = max(w * spread, 0.15 * iod, 1.0)
        lens = superellipse(centre, a, b, angle, shape_n, 40)
        layer.fill_polygon(lens, lens_colour)
        lenses.append(lens)
    # A reflection: lighter band in the upper part of each lens (colour only).
    for lens in lenses:
        c = lens.mean(0)
        layer.fill_polygon(c + (lens - c) * 0.55 + frame.up * b * 0.3, lens_colour * 1.8 + 25, alpha=False)
    for lens in lenses:
        layer.polyline(np.vstack([lens, lens[:1]]), frame_colour, rim, alpha=True)
    # Bridge between the inner rims, temples from the outer rims to the ears.
    right_dir = frame.right
    inner_l = lenses[0][np.argmax(lenses[0] @ right_dir)]
    inner_r = lenses[1][np.argmin(lenses[1] @ right_dir)]
    layer.line(inner_l + frame.up * b * 0.3, inner_r + frame.up * b * 0.3, frame_colour, rim)
    for lens, jaw, outward, w in ((lenses[0], lm[0], -right_dir, widths[0]), (lenses[1], lm[16], right_dir, widths[1])):
        # A temple runs from the outer rim back to the ear on its own side. On a turned
        # head the far eye is foreshortened and its temple is hidden behind the head;
        # and when the jaw point is not outside the lens there is no visible ear side.
        outer = lens[np.argmax(lens @ outward)]
        ear = jaw + (jaw - lm[27]) * 0.1
        reach = float(np.hypot(*(ear - outer)))
        if reach > 0.6 * frame.height:  # 3D-projected hidden jaw points can lie far off
            ear = outer + (ear - outer) * (0.6 * frame.height / reach)
        if w >= 0.6 * max(widths) and (ear - outer) @ outward > 0.1 * iod:
            layer.line(outer, ear, frame_colour, rim * 0.8)
    return layer
