"""A second look at faces the detector is unsure about: masked and occluded faces.

A face mask or a hand lowers BlazeFace's score on a real face (back model at its threshold
0.6: about a quarter of synthetic-masked 300W faces missed), while lowering the threshold
alone lets background patches through (0.38 false positives per face-free image at 0.3).
Two models rarely fire on the same background patch, so :class:`ConfirmedDetector` keeps a
low-score detection only when a second model finds the same face (docs/detection.md has the
measurements behind every constant here).
"""
from __future__ import annotations

from typing import List

import numpy as np

from lponet_tf.detection.base import Detection, as_rgb_uint8, box_iou

__all__ = ["ConfirmedDetector", "boxes_agree", "centre_inside", "AGREE_IOU"]

#: Two boxes are the same face when they overlap by this much (or a centre lies in the other).
AGREE_IOU = 0.3


def boxes_agree(a, b, iou: float = AGREE_IOU) -> bool:
    """Whether two ``(x0, y0, x1, y1)`` boxes mark the same face: IoU >= ``iou``, or either
    box's centre inside the other (two detectors' boxes differ in size and offset).

    Example:
        >>> boxes_agree([0, 0, 10, 10], [2, 2, 30, 30]), boxes_agree([0, 0, 10, 10], [20, 0, 30, 10])
        (True, False)
    """
    a = np.asarray(a, np.float64).reshape(4)
    b = np.asarray(b, np.float64).reshape(4)
    if box_iou(a, b)[0, 0] >= iou:
        return True
    return centre_inside(a, b) or centre_inside(b, a)


def centre_inside(a, b) -> bool:
    """Whether box ``a``'s centre lies inside box ``b`` (edges included)."""
    a = np.asarray(a, np.float64).reshape(4)
    b = np.asarray(b, np.float64).reshape(4)
    c = (a[:2] + a[2:]) / 2
    return bool(np.all((c >= b[:2]) & (c <= b[2:])))


class ConfirmedDetector:
    """One BlazeFace model, with low-score detections confirmed by a second one.

    Rule, for an image whose longer side is ``L``:

    1. ``primary`` at its own ``score_threshold`` (``t0``) gives the sure candidates. One is
       kept when its score is >= ``accept``, or when its box is small (width < ``small_face
       * L``: where the ``confirm`` model, e.g. the short-range one, cannot see a face, the
       primary's own threshold stays in force).
    2. Every other ``primary`` detection down to ``low`` (decoded at ``low``) that does not
       overlap a kept one is kept when ``confirm``, decoded at ``confirm_threshold``, has a
       detection that agrees with it (:func:`boxes_agree`) and with no face kept before: a
       ``confirm`` box is one face, so it confirms one detection (of those agreeing, the one
       it overlaps most, then the best scoring), and the box of a face already kept confirms
       nothing more (on a close-up, its large box would otherwise vouch for an ear or half of
       the same face).

    The second model only runs when step 2 has a candidate, so a clear face costs one model.
    Detections keep the primary's ``source`` (its box mapping applies).

    Args:
        primary, confirm: :class:`~lponet_tf.detection.BlazeFaceDetector` (anything with
            ``infer`` / ``decode`` and a ``score_threshold``).
        accept: score above which a primary detection needs no confirmation.
        low: lowest primary score considered in step 2.
        confirm_threshold: the second model's threshold.
        small_face: box width / image's longer side under which step 1 uses ``t0``.

    Example:
        >>> det = ConfirmedDetector(BlazeFaceDetector("back"),
        ...                         BlazeFaceDetector("short"))     # doctest: +SKIP
    """

    def __init__(self, primary, confirm, accept: float = 0.7, low: float = 0.3,
                 confirm_threshold: float = 0.45, small_face: float = 0.1):
        for name, det in (("primary", primary), ("confirm", confirm)):
            if not (hasattr(det, "infer") and hasattr(det, "decode")):
                raise TypeError(f"ConfirmedDetector {name} must be a BlazeFaceDetector, "
                                f"got {type(det).__name__}")
        for name, v in (("accept", accept), ("low", low), ("confirm_threshold", confirm_threshold),
                        ("small_face", small_face)):
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        self.primary, self.confirm = primary, confirm
        self.accept, self.low = float(accept), float(low)
        self.confirm_threshold, self.small_face = float(confirm_threshold), float(small_face)
        self.source = primary.source

    @property
    def detectors(self):
        """Both models (so an analyzer option that sets a threshold reaches the primary)."""
        return (self.primary, self.confirm)

    def detect(self, image: np.ndarray) -> List[Detection]:
        """Faces, best score first (see the class docstring)."""
        image = as_rgb_uint8(image)
        out = self.primary.infer(image)
        limit = self.small_face * max(image.shape[:2])
        kept = [d for d in self.primary.decode(out)
                if d.score >= self.accept or d.width < limit]
        low = min(self.low, self.primary.score_threshold)
        rest = [d for d in self.primary.decode(out, low)
                if not any(boxes_agree(d.box, k.box) for k in kept)]
        if rest:
            second = [s for s in self.confirm.decode(self.confirm.infer(image),
                                                     self.confirm_threshold)
                      if not any(boxes_agree(s.box, k.box) for k in kept)]
            confirmed = set()
            for s in second:  # one face: the candidate most like it (a mask's box beside wins nothing)
                agree = [i for i, d in enumerate(rest)
                         if i not in confirmed and boxes_agree(d.box, s.box)]
                if agree:
                    confirmed.add(max(agree, key=lambda i: (float(box_iou(rest[i].box, s.box)[0, 0]),
                                                            rest[i].score)))
            kept += [rest[i] for i in sorted(confirmed)]
        return sorted(kept, key=lambda d: -d.score)

    def __repr__(self) -> str:
        return (f"ConfirmedDetector({self.primary!r}, confirm={self.confirm!r}, "
                f"accept={self.accept}, low={self.low}, "
                f"confirm_threshold={self.confirm_threshold}, small_face={self.small_face})")
