"""``Face``: one analysed face, the result type of :class:`~lponet_tf.FaceAnalyzer`.

Everything in image pixels, decoded by the face codec (:mod:`lponet_tf.codec.decode`); the
Java core's ``Face`` holds the same fields.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from lponet_tf.codec.crop import CropTransform
from lponet_tf.codec.decode import grid_to_image_matrix, mask_in_image
from lponet_tf.heatmaps import STRIDE

__all__ = ["Face"]


@dataclasses.dataclass(eq=False)
class Face:
    """One analysed face; all coordinates are image pixels (0-based, pixel centres at
    integers, CONVENTIONS.md).

    Attributes:
        box: ``(4,)`` ``x0, y0, x1, y1``: the face box the crop was built from, an estimate
            of the tight box of the 68 landmarks (a detection mapped by
            :func:`detection_to_face_box`, a user box, or in video the previous landmarks).
        score: detector confidence (1.0 for user boxes).
        landmarks: ``(68, 2)`` ``x, y`` (iBUG order).
        landmark_scores: ``(68,)`` heatmap peak / omega (the model's heatmap scale,
            60; about 1 for a confident landmark).
        visibility: ``(68,)`` visible-face probability at each landmark (0: occluded by a
            mask, hand, hair, glasses or outside the photo; 1: visible face). The jaw
            points lie on the face's outline, the mask's edge, and read about 0.5 when
            visible.
        pose: ``(3,)`` ``yaw, pitch, roll`` degrees (``lponet_tf.geometry`` convention:
            yaw > 0 turns to the image left, pitch > 0 looks up, roll > 0 clockwise).
        rotation: ``(3, 3)`` head-to-camera rotation (the same pose as a matrix).
        mask: ``(S/4, S/4)`` float32 visible-face probability on the model's grid over
            ``crop_box`` (row 0 at its top). It is kept at grid size because a full-image
            array per face would be huge for large photos; :meth:`mask_in_image` resamples
            it into image coordinates.
        crop_box: ``(4,)`` the square region the network saw (``box`` enlarged 10% per
            side, made square); it may extend past the image.
        track_id: stable id across frames from :meth:`FaceAnalyzer.track`, else None.

    Example:
        >>> face = analyzer.analyze(image)[0]                  # doctest: +SKIP
        >>> yaw, pitch, roll = face.pose                       # doctest: +SKIP
        >>> occluded = face.landmarks[face.visibility < 0.5]   # doctest: +SKIP
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    landmark_scores: np.ndarray
    visibility: np.ndarray
    pose: np.ndarray
    rotation: np.ndarray
    mask: np.ndarray
    crop_box: np.ndarray
    track_id: Optional[int] = None

    def __repr__(self) -> str:  # the arrays would flood a notebook
        box = ", ".join(f"{v:.1f}" for v in self.box)
        yaw, pitch, roll = (float(v) for v in self.pose)
        track = "" if self.track_id is None else f", track_id={self.track_id}"
        return (f"Face(box=[{box}], score={self.score:.3f}, pose=(yaw={yaw:.1f}, "
                f"pitch={pitch:.1f}, roll={roll:.1f}), visible={float(np.mean(self.visibility)):.2f}"
                f"{track})")

    @property
    def confidence(self) -> float:
        """Mean landmark score: a cheap "is this still a face" signal for tracking."""
        return float(np.mean(self.landmark_scores))

    def mask_matrix(self) -> np.ndarray:
        """``(2, 3)`` affine from mask grid cells ``(u, v)`` to image pixels ``(x, y)``."""
        crop = CropTransform.from_box(self.crop_box, self.mask.shape[0] * STRIDE, enlarge=0.0)
        return grid_to_image_matrix(crop, STRIDE)

    def mask_in_image(self, image_shape: Tuple[int, ...],
                      region: Optional[Sequence[int]] = None) -> np.ndarray:
        """The visible-face probability resampled (bilinear) onto image pixels
        (:func:`lponet_tf.codec.decode.mask_in_image`).

        Args:
            image_shape: ``(H, W, ...)`` of the image.
            region: integer window ``(x0, y0, x1, y1)`` to compute (default: the whole
                image); pixels outside ``crop_box`` are 0.

        Returns:
            float32 ``(y1 - y0, x1 - x0)`` array in [0, 1].
        """
        return mask_in_image(self.mask, self.crop_box, STRIDE, image_shape, region)

    def to_dict(self, include_mask: bool = True) -> Dict[str, Any]:
        """JSON-ready dict (floats rounded: 2 decimals for pixels, 3 for the rest).

        The mask is stored as ``{"box": crop_box, "grid": S/4 rows}``, the visible-face
        probability on an even grid over ``box``.
        """
        def r(a, d):
            return np.round(np.asarray(a, np.float64), d).tolist()

        out = {
            "box": r(self.box, 2),
            "score": round(float(self.score), 4),
            "landmarks": r(self.landmarks, 2),
            "landmark_scores": r(self.landmark_scores, 3),
            "visibility": r(self.visibility, 3),
            "pose": dict(zip(("yaw", "pitch", "roll"), r(self.pose, 2))),
            "rotation": r(self.rotation, 5),
            "crop_box": r(self.crop_box, 2),
        }
        if self.track_id is not None:
            out["track_id"] = int(self.track_id)
        if include_mask:
            out["mask"] = {"box": r(self.crop_box, 2), "grid": r(self.mask, 3)}
        return out
