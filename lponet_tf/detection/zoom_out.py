"""A second look, from further away, at images in which the detector finds no sure face.

BlazeFace is trained on faces that lie inside the frame. A face that fills it -- a close-up
selfie, a face cut by the image border, a crop of a face handed in as the whole image -- is
often missed, and more often when a mask or sunglasses already lower its score
(docs/detection.md, "Faces that fill the frame"). Worse, the detector often returns a wrong
box there (part of the face, at a low score). Seen from further away, with a uniform border
around the photo, the same face is an ordinary one. :class:`ZoomOutDetector` runs its detector
once more on the photo padded with gray on every side when the first pass finds no face
scoring at least ``rerun_below``, and merges the two passes' faces (:func:`merge_passes`), so
an image with a sure face costs what it did, and any other one more detector pass.
"""
from __future__ import annotations

from typing import List, Optional

import cv2
import numpy as np

from lponet_tf.detection.base import Detection, as_rgb_uint8, box_iou, shrink_to
from lponet_tf.detection.confirm import boxes_agree

__all__ = ["ZoomOutDetector", "zoom_out", "zoomed_back", "merge_passes", "ZOOM_OUT_PAD",
           "ZOOM_OUT_FILL", "ZOOM_OUT_MAX_SIDE"]

#: Border added on each side, as a share of the image's longer side (docs/detection.md has
#: the sweep that chose it: the face of a close-up then spans about a third of the image).
ZOOM_OUT_PAD = 1.0
#: A second-pass face overlapping a first-pass one by this IoU or more leaves it in place
#: (:func:`merge_passes`).
MERGE_KEEP_IOU = 0.5
#: Longest side of the padded image: a larger image is shrunk (area averaging) before it is
#: padded. 3 x BlazeFace back's 256 px input: the detector would shrink the padded image to 256
#: anyway, and resizing an image 3x as wide (9x the pixels) costs more than the model
#: (docs/detection.md).
ZOOM_OUT_MAX_SIDE = 768
#: Gray of the border: BlazeFace's inputs are scaled to [-1, 1], so mid-gray is 0 there.
ZOOM_OUT_FILL = 128


def zoom_out(image: np.ndarray, pad: float = ZOOM_OUT_PAD, fill: int = ZOOM_OUT_FILL,
             max_side: Optional[int] = None):
    """``image`` inside a ``fill`` border of ``pad`` times its longer side on every side,
    first shrunk (:func:`~lponet_tf.detection.base.shrink_to`) so that the padded image's
    longer side is at most about ``max_side`` (None: never shrunk).

    Returns:
        ``(padded, p, (sx, sy))``: the padded image, the border's width in pixels and the
        factors that map the image's coordinates to the shrunk image's (1.0 when not shrunk).

    Example:
        >>> padded, p, scale = zoom_out(np.zeros((10, 20, 3), np.uint8), pad=0.5)
        >>> padded.shape, p, scale
        ((30, 40, 3), 10, (1.0, 1.0))
        >>> zoom_out(np.zeros((300, 600, 3), np.uint8), 1.0, max_side=300)[0].shape
        (250, 300, 3)
    """
    small, sx, sy = shrink_to(image, None if max_side is None else int(max_side / (1 + 2 * pad)))
    h, w = small.shape[:2]
    p = max(1, int(round(pad * max(h, w))))
    padded = cv2.copyMakeBorder(small, p, p, p, p, cv2.BORDER_CONSTANT, value=(int(fill),) * 3)
    return padded, p, (sx, sy)


def zoomed_back(detections, p: int, shape, scale=(1.0, 1.0)) -> List[Detection]:
    """Detections on a :func:`zoom_out` image, in the original image's pixels (``shape``; the
    ``scale`` :func:`zoom_out` returned); those whose centre lies on the border (outside the
    image) are dropped."""
    h, w = shape[:2]
    out = []
    for d in detections:
        kps = None if d.keypoints is None else d.keypoints - p
        moved = Detection(d.box - p, d.score, kps, d.source)
        if scale != (1.0, 1.0):
            moved = moved.scaled(1.0 / scale[0], 1.0 / scale[1])
        cx, cy = moved.center
        if 0 <= cx <= w - 1 and 0 <= cy <= h - 1:
            out.append(moved)
    return out


def _area(box) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def merge_passes(first, second, keep_iou: float = MERGE_KEEP_IOU) -> List[Detection]:
    """The two passes' faces. A second-pass face that agrees with no first-pass face
    (:func:`~lponet_tf.detection.confirm.boxes_agree`) is added. One that agrees with some
    replaces them when, for each of them, it scores higher, is larger, and overlaps it by
    IoU < ``keep_iou``. Such a first-pass box is taken for a wrong box on part of the face (the
    detector's failure on a face that fills the frame). Kept instead: a first-pass box that
    overlaps it by IoU >= ``keep_iou`` (the same face at the image's full resolution, the kind
    of box the detector's box mapping was fitted on), and one larger than it (then the
    second-pass box is the part: a forehead or a mask, seen from afar; a box too large is
    mended by the analyzer's landmark refinement, a box on part of the face is not).
    Best score first."""
    out = list(first)
    for z in second:
        same = [d for d in out if boxes_agree(d.box, z.box)]
        if not same:
            out.append(z)
        elif all(d.score < z.score and _area(d.box) < _area(z.box)
                 and box_iou(d.box, z.box)[0, 0] < keep_iou for d in same):
            out = [d for d in out if not any(d is s for s in same)] + [z]
    return sorted(out, key=lambda d: -d.score)


class ZoomOutDetector:
    """A detector, run again on the image inside a gray border when it finds no sure face.

    The second pass may use another, stricter detector (``zoomed``): a face-free image always
    reaches it, so whatever it finds there adds to the false positives. Detections of the
    second pass are mapped back to the image's pixels (boxes may reach past
    the border, as the face does); those whose centre falls outside the image (on the gray
    border) are dropped. They keep their ``source``, so the detector's box mapping applies.

    Args:
        detector: any :class:`~lponet_tf.detection.FaceDetector`.
        zoomed: the detector of the second pass (default: ``detector``).
        rerun_below: the second pass runs when no first-pass face scores at least this; None:
            only when the first pass finds nothing.
        pad: border on each side, a share of the image's longer side (> 0).
        max_side: the padded image's longest side: a larger image is shrunk first (None:
            never; a huge image's padded version may then exceed the detector's size limit,
            :data:`lponet_tf.codec.image.MAX_PIXELS`).
        fill: the border's gray level, 0-255.

    Example:
        >>> from lponet_tf.detection import BlazeFaceDetector
        >>> det = ZoomOutDetector(BlazeFaceDetector("back"), pad=1.0)   # doctest: +SKIP
        >>> faces = det.detect(selfie_rgb)                              # doctest: +SKIP
    """

    def __init__(self, detector, zoomed=None, pad: float = ZOOM_OUT_PAD,
                 fill: int = ZOOM_OUT_FILL, rerun_below: Optional[float] = None,
                 max_side: Optional[int] = ZOOM_OUT_MAX_SIDE):
        zoomed = detector if zoomed is None else zoomed
        for name, det in (("detector", detector), ("zoomed", zoomed)):
            if not hasattr(det, "detect"):
                raise TypeError(f"ZoomOutDetector {name} must have detect(), "
                                f"got {type(det).__name__}")
        if not (np.isfinite(pad) and 0.0 < float(pad) <= 4.0):
            raise ValueError(f"pad must be in (0, 4], got {pad}")
        if not 0 <= int(fill) <= 255:
            raise ValueError(f"fill must be in [0, 255], got {fill}")
        if rerun_below is not None and not 0.0 <= float(rerun_below) <= 1.0:
            raise ValueError(f"rerun_below must be in [0, 1] or None, got {rerun_below}")
        self.rerun_below = None if rerun_below is None else float(rerun_below)
        if max_side is not None and not int(max_side) >= 16:
            raise ValueError(f"max_side must be >= 16 or None, got {max_side}")
        self.max_side = None if max_side is None else int(max_side)
        self.detector, self.zoomed = detector, zoomed
        self.pad, self.fill = float(pad), int(fill)
        self.source = getattr(detector, "source", "")

    @property
    def detectors(self):
        """Both passes' detectors (so an analyzer option that sets a threshold reaches them)."""
        return (self.detector,) if self.zoomed is self.detector else (self.detector, self.zoomed)

    def detect(self, image: np.ndarray, when_empty: bool = True) -> List[Detection]:
        """Faces, best score first (see the class docstring).

        ``when_empty=False`` skips the second pass when the first finds nothing at all (it
        still runs after unsure faces, which are often wrong boxes on part of a face):
        the tracking session's face-free frames, where it would mostly find nothing."""
        image = as_rgb_uint8(image)
        found = self.detector.detect(image)
        if found and (self.rerun_below is None
                      or any(d.score >= self.rerun_below for d in found)):
            return found
        if not found and not when_empty:
            return found
        padded, p, scale = zoom_out(image, self.pad, self.fill, self.max_side)
        return merge_passes(found, zoomed_back(self.zoomed.detect(padded), p, image.shape, scale))

    def __repr__(self) -> str:
        return (f"ZoomOutDetector({self.detector!r}, zoomed={self.zoomed!r}, pad={self.pad}, "
                f"fill={self.fill}, rerun_below={self.rerun_below}, max_side={self.max_side})")
