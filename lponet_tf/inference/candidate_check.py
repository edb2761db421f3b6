"""The candidate check: when the detector finds no face, LPONet looks at its best rejects.

A face mask with sunglasses or a hat brim can leave BlazeFace's back model below every
threshold the default detector uses (docs/detection.md: on the Masked-300W validation photos
some masked faces score 0.12-0.41 and the short model does not agree). Lowering the
threshold finds them but lets background through; the landmark network itself is a better
judge of "is this an occluded face": on a real masked face its heatmap peaks are high
(mean landmark score, :attr:`Face.confidence`) *and* its mask output says much of the face is
hidden, while on background patches that BlazeFace scores as low the two rarely agree.

So, only on an image where the detector returned nothing (most photos with a face never pay
for it), the back model's best :data:`MAX_CANDIDATES` detections down to
:data:`CANDIDATE_SCORE` are analysed like detections (crop, network, refinement) and a face is
kept when its confidence is at least :data:`MIN_CONFIDENCE` and its mean landmark visibility
is below :data:`MAX_VISIBLE`. Two kept candidates on the same face (their landmark boxes
overlapping by :data:`SAME_FACE_IOU`) give the more confident one. The constants and what they
cost and gain were measured on the 195 validation faces and 2,246 face-free images of
``benchmarks/bench_masked_detection.py`` (docs/detection.md, "The candidate check").
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from lponet_tf.detection import BlazeFaceDetector, Detection, box_iou, landmark_box
from lponet_tf.detection.confirm import centre_inside

__all__ = ["CANDIDATE_SCORE", "MAX_CANDIDATES", "MIN_CONFIDENCE", "MAX_VISIBLE", "SAME_FACE_IOU",
           "candidate_model", "low_score_candidates", "is_occluded_face", "distinct_faces"]

#: Lowest back-model score of a candidate.
CANDIDATE_SCORE = 0.1
#: At most this many candidates (best scores first) per image.
MAX_CANDIDATES = 2
#: A kept candidate's mean landmark score (heatmap peak / omega) is at least this ...
MIN_CONFIDENCE = 0.5
#: ... and its mean landmark visibility below this: the network sees an occluded face.
MAX_VISIBLE = 0.5
#: Kept candidates whose landmark boxes overlap this much are one face.
SAME_FACE_IOU = 0.5


def candidate_model(detector) -> Optional[BlazeFaceDetector]:
    """The BlazeFace back model inside ``detector`` (the default detector's first model), or
    None: the check was measured on that model's candidates and runs only with it.

    The search follows the wrappers' ``detectors`` (zoom-out pass, confirmed and fallback
    detectors), first model first.
    """
    todo = [detector]
    while todo:
        d = todo.pop(0)
        if isinstance(d, BlazeFaceDetector):
            if d.model == "back":
                return d
            continue
        todo[:0] = list(getattr(d, "detectors", ()))
    return None


def low_score_candidates(model: BlazeFaceDetector, rgb: np.ndarray, low: float = CANDIDATE_SCORE,
                         limit: int = MAX_CANDIDATES) -> List[Detection]:
    """``model``'s best ``limit`` detections of ``rgb`` scoring at least ``low`` (one inference).

    Example:
        >>> low_score_candidates(BlazeFaceDetector("back"), gray_image)   # doctest: +SKIP
        []
    """
    found = model.decode(model.infer(rgb), score_threshold=float(low))
    return sorted(found, key=lambda d: -d.score)[: int(limit)]


def is_occluded_face(face, min_confidence: float = MIN_CONFIDENCE,
                     max_visible: float = MAX_VISIBLE) -> bool:
    """Whether an analysed candidate is kept: confident landmarks on a partly hidden face.

    Example:
        >>> import types
        >>> face = types.SimpleNamespace(confidence=0.55, visibility=np.full(68, 0.4),
        ...                              landmarks=np.zeros((68, 2)))
        >>> is_occluded_face(face), is_occluded_face(face, max_visible=0.3)
        (True, False)
    """
    if not np.all(np.isfinite(face.landmarks)):
        return False
    return face.confidence >= min_confidence and float(np.mean(face.visibility)) < max_visible


def distinct_faces(faces: Sequence, same_iou: float = SAME_FACE_IOU,
                   by_confidence: bool = True) -> list:
    """``faces`` without any whose landmark box overlaps a kept one's by ``same_iou`` or more,
    or has its centre inside it: two boxes the refinement took onto the same face (two candidates here; the detector's
    whole-face box and its box on the lower half of a close-up face, in
    :meth:`FaceAnalyzer.find_faces`). Kept most confident first, or (``by_confidence=False``)
    in the given order, the first of each face kept."""
    kept: list = []
    for face in (sorted(faces, key=lambda f: -f.confidence) if by_confidence else faces):
        box = landmark_box(face.landmarks)
        if not any(_same_face(box, landmark_box(k.landmarks), same_iou) for k in kept):
            kept.append(face)
    return kept


def _same_face(box, kept_box, same_iou: float) -> bool:
    """Landmark boxes of one face: overlapping by ``same_iou``, or ``box``'s centre inside
    ``kept_box`` (the half face a close-up's lower-half detection converges to; two people's
    faces do not nest so)."""
    return box_iou(box, kept_box)[0, 0] >= same_iou or centre_inside(box, kept_box)
