"""From a detector's box (and keypoints) to the landmark box the network's crops are built
from: :class:`BoxMapping`, its fitted constants (package data, ``box_mappings.json``), and
:func:`detection_to_face_box`.

The network is trained on crops of the tight box of the 68 landmarks, enlarged 10% per side
and made square; a detector's box is another box (BlazeFace's spans brow to chin). Feeding
the network a crop of the raw detector box shifts and rescales the face relative to training,
so every detection is first mapped to a landmark-box estimate (``docs/detection.md``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from typing import Dict, Optional

import numpy as np

from lponet_tf.detection.base import Detection

__all__ = ["BoxMapping", "BOX_MAPPINGS", "detection_to_face_box", "register_box_mapping",
           "load_box_mappings"]

#: The fitted constants shipped with the package (setup.py package_data).
MAPPINGS_FILE = pathlib.Path(__file__).with_name("box_mappings.json")


@dataclasses.dataclass(frozen=True)
class BoxMapping:
    """Correction from a detector's box (and keypoints) to the landmark box.

    Two levels, both in units of the detector box so that one set of constants serves every
    face size. With the detector box centre ``(cx, cy)`` and size ``(w, h)``:

    * constant: the landmark box has centre ``(cx + dx * w, cy + dy * h)`` and size
      ``(sx * w, sy * h)``;
    * keypoint-linear (used when ``keypoint_weights`` is set and the detection has the
      keypoints): ``[ox, oy, log(lw / w), log(lh / h)] = [1, kx_1, ky_1, ..., kx_K, ky_K] @ W``
      with the keypoints ``k`` in box units (``((x - cx) / w, (y - cy) / h)``). The keypoints
      carry head yaw and roll, which move the landmark box relative to the detector box: on
      held-out 300W faces this halves the residual scale error of the constant mapping (see
      ``docs/detection.md``).
    * guard (``max_size_deviation``): the keypoint-linear weights were fitted on faces of one
      size in the frame (300W photos, the face about half the image), and the detector's
      keypoints in box units change with the face's size in its input, so outside that range
      the linear rule extrapolates (back model, face at 1/6 of the frame: IoU with the
      landmark box 0.89 -> 0.28, the box about 1.9x too large on the astronaut). A detection
      whose keypoint-linear size differs from the constant one by more than
      ``max_size_deviation`` in log units, in width or height
      (``|log(lw / w) - log(sx)| > max_size_deviation`` or the same for ``h``, ``sy``), or
      whose result is not finite, takes the constant mapping instead.

    Attributes:
        dx, dy: centre offset, in detector-box widths / heights.
        sx, sy: size ratio landmark box / detector box.
        keypoint_weights: ``(1 + 2K, 4)`` nested tuple, or None.
        note: how the constants were derived.
        max_size_deviation: the guard's bound (log units), or None (no guard).

    Example:
        >>> BoxMapping(0.0, 0.1, 1.0, 1.2).apply([0, 0, 100, 100]).tolist()
        [0.0, 0.0, 100.0, 120.0]
    """

    dx: float = 0.0
    dy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0
    keypoint_weights: Optional[tuple] = None
    note: str = ""
    max_size_deviation: Optional[float] = None

    def apply(self, box, keypoints=None) -> np.ndarray:
        """Map detector boxes to landmark-box estimates.

        Args:
            box: ``(4,)`` or ``(N, 4)`` detector boxes.
            keypoints: ``(K, 2)`` or ``(N, K, 2)`` detector keypoints, or None (then, or when
                K does not match the weights, the constant mapping is used).

        Returns:
            float32 array of the shape of ``box``.
        """
        b = np.asarray(box, np.float64)
        flat = b.reshape(-1, 4)
        c = (flat[:, :2] + flat[:, 2:]) / 2
        wh = flat[:, 2:] - flat[:, :2]
        t = np.tile([self.dx, self.dy, math.log(self.sx), math.log(self.sy)], (len(flat), 1))
        if self.keypoint_weights is not None and keypoints is not None:
            w = np.asarray(self.keypoint_weights, np.float64)
            k = np.asarray(keypoints, np.float64).reshape(len(flat), -1, 2)
            if 1 + 2 * k.shape[1] == w.shape[0]:
                tk = _keypoint_features(flat, k) @ w
                ok = np.all(np.isfinite(tk), axis=1)
                if self.max_size_deviation is not None:
                    # The guard: outside the fitted range the linear rule extrapolates.
                    ok &= np.all(np.abs(tk[:, 2:] - t[:, 2:]) <= self.max_size_deviation, axis=1)
                t = np.where(ok[:, None], tk, t)
        c2 = c + wh * t[:, :2]
        half = wh * np.exp(t[:, 2:]) / 2
        return np.concatenate([c2 - half, c2 + half], axis=1).reshape(b.shape).astype(np.float32)

    @classmethod
    def fit(cls, det_boxes, lm_boxes, keypoints=None, note: str = "") -> "BoxMapping":
        """Fit the mapping on pairs of detector boxes (+ keypoints) and landmark boxes.

        The constants are medians (a few wrong matches or odd annotations must not pull
        them; scales as the median of log-ratios). The keypoint weights are least squares,
        refitted once without the samples whose residual exceeds 3 robust standard
        deviations.

        Args:
            det_boxes, lm_boxes: ``(N, 4)`` matching rows.
            keypoints: ``(N, K, 2)`` detector keypoints, or None (constant mapping only).
            note: stored in the result.

        Returns:
            the fitted :class:`BoxMapping` (values rounded to 4 decimals).

        Example:
            >>> m = BoxMapping.fit([[0, 0, 10, 10], [0, 0, 20, 20]],
            ...                    [[1, 1, 11, 11], [2, 2, 22, 22]])
            >>> m.dx, m.sx
            (0.1, 1.0)
        """
        d = np.asarray(det_boxes, np.float64).reshape(-1, 4)
        g = np.asarray(lm_boxes, np.float64).reshape(-1, 4)
        if len(d) == 0 or len(d) != len(g):
            raise ValueError(f"need matching, non-empty box arrays, got {len(d)} and {len(g)}")
        dwh, gwh = d[:, 2:] - d[:, :2], g[:, 2:] - g[:, :2]
        target = np.concatenate([((g[:, :2] + g[:, 2:]) - (d[:, :2] + d[:, 2:])) / 2 / dwh,
                                 np.log(gwh / dwh)], axis=1)
        dx, dy, lsx, lsy = np.median(target, axis=0)
        weights = None
        if keypoints is not None:
            x = _keypoint_features(d, np.asarray(keypoints, np.float64).reshape(len(d), -1, 2))
            if len(x) < 4 * x.shape[1]:
                raise ValueError(f"too few samples ({len(x)}) for {x.shape[1]} keypoint features")
            w = np.linalg.lstsq(x, target, rcond=None)[0]
            res = np.abs(x @ w - target)
            robust_sd = 1.4826 * np.median(res, axis=0)
            keep = np.all(res <= 3 * robust_sd, axis=1)
            w = np.linalg.lstsq(x[keep], target[keep], rcond=None)[0]
            weights = tuple(tuple(round(float(v), 4) for v in row) for row in w)
        return cls(round(float(dx), 4), round(float(dy), 4), round(math.exp(lsx), 4),
                   round(math.exp(lsy), 4), weights, note)


def _keypoint_features(boxes: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """``[1, keypoints in box units]`` rows for the keypoint-linear mapping."""
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    wh = boxes[:, 2:] - boxes[:, :2]
    k = (keypoints - c[:, None, :]) / wh[:, None, :]
    return np.concatenate([np.ones((len(boxes), 1)), k.reshape(len(boxes), -1)], axis=1)


_IDENTITY = BoxMapping(note="identity: boxes taken to be landmark boxes already")


def load_box_mappings(path=MAPPINGS_FILE) -> Dict[str, BoxMapping]:
    """Read fitted mappings from a JSON file (the format of the shipped
    ``box_mappings.json``: ``{"mappings": {source: {dx, dy, sx, sy, keypoint_weights, ...}}}``).

    Example:
        >>> sorted(load_box_mappings())[:2]
        ['blazeface_back', 'blazeface_full']
    """
    data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    out = {}
    for source, m in data["mappings"].items():
        fields = dict(m)
        if fields.get("keypoint_weights") is not None:
            fields["keypoint_weights"] = tuple(tuple(float(v) for v in row)
                                               for row in fields["keypoint_weights"])
        out[source] = BoxMapping(**fields)
    return out


#: Per-detector corrections, keyed by :attr:`Detection.source`. Derived by
#: ``python benchmarks/bench_detectors.py`` (which prints the JSON to store): each 300W
#: face's best-matching detection is paired with the tight box of its 68 landmarks; the
#: constants are medians and the keypoint weights least squares (one outlier-rejecting refit)
#: over the 870 HELEN-train faces, and the 337 AFW faces are held out for the figures in
#: docs/detection.md. User boxes (``"boxes"``) and plain callables map by the identity.
BOX_MAPPINGS: Dict[str, BoxMapping] = {"boxes": _IDENTITY, "callable": _IDENTITY,
                                       **load_box_mappings()}


def register_box_mapping(source: str, mapping: BoxMapping) -> None:
    """Register (or replace) the mapping used for detections whose ``source`` is ``source``.

    Example:
        >>> register_box_mapping("my_detector", BoxMapping(0.0, 0.05, 0.9, 0.95))
    """
    if not isinstance(mapping, BoxMapping):
        raise TypeError("mapping must be a BoxMapping")
    BOX_MAPPINGS[str(source)] = mapping


def detection_to_face_box(detection: Detection, mapping: Optional[BoxMapping] = None) -> np.ndarray:
    """Estimate the landmark box (tight box of the 68 points) from a detection.

    The training crop is this box enlarged 10% per side and made square, so feeding the
    network a crop built from the raw detector box would shift and rescale the face relative
    to what it was trained on (the dlib "my detector's box is different" problem).

    Args:
        detection: a :class:`Detection`.
        mapping: the correction to use; default: ``BOX_MAPPINGS[detection.source]``, or the
            identity for an unknown source.

    Returns:
        ``(4,)`` float32 ``x0, y0, x1, y1`` landmark-box estimate in image pixels.

    Example:
        >>> detection_to_face_box(Detection([0, 0, 100, 100], source="boxes")).tolist()
        [0.0, 0.0, 100.0, 100.0]
    """
    if mapping is None:
        mapping = BOX_MAPPINGS.get(detection.source, _IDENTITY)
    return mapping.apply(detection.box, detection.keypoints)
