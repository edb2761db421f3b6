"""Pictures of :class:`~lponet_tf.Face` results: ``lponet_tf.draw(image, faces)``.

What is drawn, per face (each part can be switched off):

* the visible-face mask as a translucent blue tint (probability = opacity) inside the
  square region the network saw, outlined where the probability crosses 0.5;
* the face box (thin white; the tint's square shows the crop region);
* the 68 landmarks as dots coloured by visibility, red (occluded) -> yellow -> green
  (visible), joined by thin lines along the iBUG contours (jaw, brows, nose, eyes, lips);
* the head-pose axes at the nose tip: red = the head's x axis (towards the subject's left
  ear), green = y (towards the chin), blue = the facing direction (out of the face); a
  frontal, upright face shows red right, green down and a blue dot;
* a label with yaw / pitch / roll in degrees (and the track id in video).

Colours are RGB; pass ``rgb=False`` to draw on (and get back) a BGR OpenCV image.

Example:
    >>> import lponet_tf
    >>> analyzer = lponet_tf.FaceAnalyzer.create()               # doctest: +SKIP
    >>> picture = lponet_tf.draw(image, analyzer.analyze(image))  # doctest: +SKIP
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import cv2
import numpy as np

from lponet_tf.codec.image import to_rgb_uint8

__all__ = ["draw", "visibility_color", "draw_landmarks", "draw_pose_axes", "overlay_mask",
           "draw_label", "CONTOURS"]

#: iBUG 68-point polylines: (first, last index inclusive, closed).
CONTOURS = (
    (0, 16, False),   # jaw
    (17, 21, False),  # right brow (subject's)
    (22, 26, False),  # left brow
    (27, 30, False),  # nose bridge
    (31, 35, False),  # nostrils
    (36, 41, True),   # right eye
    (42, 47, True),   # left eye
    (48, 59, True),   # outer lips
    (60, 67, True),   # inner lips
)
NOSE_TIP = 30
MASK_COLOR = (40, 110, 255)
AXIS_COLORS = ((230, 40, 40), (40, 200, 40), (60, 90, 255))  # x, y, facing direction
_RED, _YELLOW, _GREEN = np.array([230, 40, 40.]), np.array([245, 210, 40.]), np.array([40, 210, 70.])


def visibility_color(v: float) -> Tuple[int, int, int]:
    """RGB colour of a visibility in [0, 1]: red (0) -> yellow (0.5) -> green (1).

    Example:
        >>> visibility_color(1.0), visibility_color(0.0)
        ((40, 210, 70), (230, 40, 40))
    """
    v = float(np.clip(np.nan_to_num(v), 0.0, 1.0))
    c = _RED + (_YELLOW - _RED) * (2 * v) if v < 0.5 else _YELLOW + (_GREEN - _YELLOW) * (2 * v - 1)
    return tuple(int(round(x)) for x in c)


def _face_scale(face) -> float:
    """Size of the face in pixels (side of its box), for line widths and lengths."""
    x0, y0, x1, y1 = np.asarray(face.box, np.float64)
    side = max(x1 - x0, y1 - y0)
    return side if math.isfinite(side) and side > 0 else 100.0


def _pt(xy, shift: int = 4) -> Tuple[int, int]:
    # cv2 drawing with sub-pixel precision: coordinates in 1/16 pixel (shift=4).
    return int(round(xy[0] * (1 << shift))), int(round(xy[1] * (1 << shift)))


def overlay_mask(canvas: np.ndarray, face, color=MASK_COLOR, alpha: float = 0.35) -> None:
    """Tint ``canvas`` (in place) by the face's visible-face probability inside its crop,
    and outline where the probability crosses 0.5."""
    h, w = canvas.shape[:2]
    x0, y0 = max(0, math.ceil(face.crop_box[0])), max(0, math.ceil(face.crop_box[1]))
    x1, y1 = min(w, math.floor(face.crop_box[2]) + 1), min(h, math.floor(face.crop_box[3]) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    prob = face.mask_in_image(canvas.shape, (x0, y0, x1, y1))
    p = prob[..., None] * alpha
    roi = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (roi * (1 - p) + np.asarray(color, np.float32) * p + 0.5).astype(np.uint8)
    contours, _ = cv2.findContours((prob > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE, offset=(x0, y0))
    cv2.drawContours(canvas, contours, -1, color, max(1, int(_face_scale(face) / 150)),
                     cv2.LINE_AA)


def draw_landmarks(canvas: np.ndarray, face, lines: bool = True) -> None:
    """Dots coloured by visibility, joined along the iBUG contours (in place)."""
    pts = np.asarray(face.landmarks, np.float64)
    if not np.all(np.isfinite(pts)):
        return
    scale = _face_scale(face)
    radius = max(1, int(round(scale / 60)))
    if lines and len(pts) == 68:
        for a, b, closed in CONTOURS:
            poly = np.array([_pt(p) for p in pts[a:b + 1]], np.int32)
            cv2.polylines(canvas, [poly], closed, (235, 235, 235), max(1, radius // 3),
                          cv2.LINE_AA, shift=4)
    vis = np.asarray(face.visibility, np.float64)
    for p, v in zip(pts, vis):
        cv2.circle(canvas, _pt(p), radius << 4, visibility_color(v), -1, cv2.LINE_AA, shift=4)
        if radius >= 3:  # a dark rim separates big dots from a bright background
            cv2.circle(canvas, _pt(p), radius << 4, (20, 20, 20), 1, cv2.LINE_AA, shift=4)


def draw_pose_axes(canvas: np.ndarray, face, length: float = 0.5) -> None:
    """Head axes projected from the nose tip (in place); ``length`` in face sizes.

    The rotation maps head to camera coordinates and its columns are the head's axes in
    the camera frame (``lponet_tf.geometry``); the weak-perspective image of an axis is
    its ``(x, y)``. The facing direction is ``-z`` (the face looks along the head's -z).
    """
    pts = np.asarray(face.landmarks, np.float64)
    origin = pts[NOSE_TIP] if len(pts) > NOSE_TIP else pts.mean(axis=0)
    r = np.asarray(face.rotation, np.float64)
    if not (np.all(np.isfinite(origin)) and np.all(np.isfinite(r))):
        return
    size = length * _face_scale(face)
    width = max(2, int(round(_face_scale(face) / 60)))
    for axis, color in zip((r[:, 0], r[:, 1], -r[:, 2]), AXIS_COLORS):
        end = origin + size * axis[:2]
        cv2.line(canvas, _pt(origin), _pt(end), color, width, cv2.LINE_AA, shift=4)


def draw_label(canvas: np.ndarray, face) -> None:
    """``yaw / pitch / roll`` (and ``#track_id``) above the face box (in place)."""
    yaw, pitch, roll = np.nan_to_num(np.asarray(face.pose, np.float64)).tolist()
    text = f"yaw {yaw:+.0f} pitch {pitch:+.0f} roll {roll:+.0f}"
    if getattr(face, "track_id", None) is not None:
        text = f"#{face.track_id} " + text
    scale = float(np.clip(_face_scale(face) / 260, 0.35, 1.5))
    thick = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    h, w = canvas.shape[:2]
    x = int(np.clip(face.box[0], 0, max(0, w - tw)))
    y = int(face.box[1]) - base - 4
    if y - th < 0:  # no room above the box: write below it
        y = min(h - base, int(face.box[3]) + th + base + 4)
    cv2.rectangle(canvas, (x - 2, y - th - 3), (x + tw + 2, y + base), (0, 0, 0), -1)
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                cv2.LINE_AA)


def draw(image, faces: Sequence, rgb: bool = True, mask: bool = True, box: bool = True,
         landmarks: bool = True, axes: bool = True, label: bool = True,
         value_range=None) -> np.ndarray:
    """Draw faces on a copy of an image.

    Args:
        image: an image (array in the order given by ``rgb``, path or bytes; as
            :meth:`FaceAnalyzer.analyze` accepts).
        faces: :class:`~lponet_tf.Face` objects (from ``analyze`` or ``track``).
        rgb: True: the array is RGB and so is the result; False: BGR in, BGR out.
        mask, box, landmarks, axes, label: what to draw (see the module docstring).
        value_range: ``(lo, hi)`` of a numpy image's values, as
            ``FaceAnalyzerOptions.value_range`` (e.g. ``(0, 255)`` for a float frame holding
            8-bit values: pass the analyzer's); None: from the dtype.

    Returns:
        ``(H, W, 3)`` uint8 annotated copy (the input is never modified).

    Example:
        >>> out = draw(np.zeros((64, 64, 3), np.uint8), [])
        >>> out.shape, out.dtype
        ((64, 64, 3), dtype('uint8'))
    """
    canvas = to_rgb_uint8(image, rgb=rgb, value_range=value_range).copy()
    # A face with a non-finite box (a broken model) is skipped rather than crashing cv2.
    faces = [f for f in faces if np.all(np.isfinite(np.asarray(f.box, np.float64)))]
    for face in faces:
        if mask:
            overlay_mask(canvas, face)
    for face in faces:  # marks after every tint, so a neighbour's mask never covers them
        if box:
            x0, y0, x1, y1 = (int(round(v)) for v in face.box)
            cv2.rectangle(canvas, (x0, y0), (x1, y1), (255, 255, 255), 1, cv2.LINE_AA)
        if landmarks:
            draw_landmarks(canvas, face)
        if axes:
            draw_pose_axes(canvas, face)
        if label:
            draw_label(canvas, face)
    return canvas if rgb else cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR)
