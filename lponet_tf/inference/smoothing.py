"""Temporal smoothing for video: the One-Euro filter, its landmark and rotation forms, and a
multi-face :class:`Tracker` that keeps one set of filters per face.

The One-Euro filter (Casiez, Roussel, Vogel, "1 Euro Filter: A Simple Speed-based Low-pass
Filter for Noisy Input in Interactive Systems", CHI 2012) is an exponential low-pass whose
cutoff frequency rises with the signal's speed: a still face is smoothed hard (low cutoff,
little jitter), a moving face lightly (high cutoff, little lag). Per sample, with
``dt`` the time since the previous sample::

    alpha(fc)  = 1 / (1 + 1 / (2 pi fc dt))
    dx         = (x - x_prev) / dt              (x_prev: the previous raw sample)
    dx_hat     = dx_hat_prev + alpha(d_cutoff) (dx - dx_hat_prev)
    fc         = min_cutoff + beta * speed(dx_hat) / scale
    x_hat      = x_hat_prev + alpha(fc) (x - x_hat_prev)

Tuning (the paper's recipe): with ``beta = 0`` lower ``min_cutoff`` until a still face stops
jittering, then raise ``beta`` until fast motion stops lagging. Dividing the speed by the face
size (``scale``) makes one ``beta`` fit small and large faces alike.

Rotations are smoothed as unit quaternions (sign-aligned with the previous output, filtered
as a 4-vector, renormalised): unlike Euler angles this has no wrap-around at +-180 degrees and
no gimbal lock near pitch +-90 degrees, the filter treats all rotation axes alike, and for the
small frame-to-frame steps of video a normalised linear blend of quaternions is slerp to
second order. (The 6D representation also avoids the singularities, but its Gram-Schmidt
re-orthonormalisation privileges the first column, so the result depends on the axis order.)

Figures: ``benchmarks/bench_smoothing.py`` (jitter of a still 300W face with noise added, lag
of a moving one); see ``docs/detection.md``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from lponet_tf.errors import LPONetError
from lponet_tf.geometry import nearest_rotation

__all__ = [
    "SmoothingError",
    "OneEuroFilter",
    "LandmarkFilter",
    "RotationFilter",
    "Tracker",
    "TrackedFace",
    "LANDMARK_DEFAULTS",
    "ROTATION_DEFAULTS",
    "BOX_DEFAULTS",
]


class SmoothingError(LPONetError, ValueError):
    """Bad input to a filter: a timestamp that does not increase, a non-finite value, or a
    value whose shape differs from the previous one."""


# Default parameters, chosen with benchmarks/bench_smoothing.py (figures in docs/detection.md):
# speeds are in face sizes per second for landmarks and boxes, radians per second for rotations.
# Landmarks (0.3 Hz, 16): a still 224 px face with 1 px noise jitters 1.78 -> 0.19 px per
# frame, a face moving at two face sizes per second lags 2.2 px (5 ms). Rotations (0.3 Hz, 4):
# 1 degree noise jitters 2.2 -> 0.3 degrees, a 120 degree/s turn lags 2.2 degrees (18 ms).
# Boxes use the landmark parameters.
LANDMARK_DEFAULTS: Dict[str, float] = {"min_cutoff": 0.3, "beta": 16.0, "d_cutoff": 1.0}
ROTATION_DEFAULTS: Dict[str, float] = {"min_cutoff": 0.3, "beta": 4.0, "d_cutoff": 1.0}
BOX_DEFAULTS: Dict[str, float] = {"min_cutoff": 0.3, "beta": 16.0, "d_cutoff": 1.0}

_SPEED_MODES = ("elementwise", "point", "mean_point", "norm")


def _alpha(cutoff, dt: float):
    r = 2.0 * math.pi * np.asarray(cutoff, np.float64) * dt
    return r / (r + 1.0)


class OneEuroFilter:
    """One-Euro filter for a scalar or an array of any fixed shape, with timestamps.

    Args:
        min_cutoff: cutoff (Hz) at zero speed; lower = less jitter, more lag at rest.
        beta: cutoff increase per unit of speed; higher = less lag in fast motion.
        d_cutoff: cutoff (Hz) of the low-pass on the derivative.
        speed: how the (filtered) derivative becomes a speed, i.e. which entries share a
            cutoff: ``"elementwise"`` (each entry its own, as in the paper), ``"point"``
            (norm over the last axis: each 2-D / 3-D point gets its own isotropic cutoff),
            ``"mean_point"`` (mean of the per-point norms: one cutoff for the whole array, so
            a rigidly moving shape is not deformed), or ``"norm"`` (norm of the whole array).
        frequency: sample rate (Hz) assumed when ``timestamp`` is None.

    Raises:
        ValueError: a non-positive cutoff or frequency, negative beta, unknown speed mode.

    Example:
        >>> f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
        >>> f(10.0, 0.0), round(float(f(11.0, 1 / 30)), 3)
        (array(10.), 10.173)
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0,
                 speed: str = "elementwise", frequency: float = 30.0):
        if not (min_cutoff > 0 and d_cutoff > 0 and frequency > 0):
            raise ValueError("min_cutoff, d_cutoff and frequency must be > 0")
        if not beta >= 0:
            raise ValueError("beta must be >= 0")
        if speed not in _SPEED_MODES:
            raise ValueError(f"speed must be one of {_SPEED_MODES}, got {speed!r}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.speed, self.frequency = speed, float(frequency)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample is passed through unchanged."""
        self._x: Optional[np.ndarray] = None
        self._raw: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None
        self._t: Optional[float] = None

    @property
    def value(self) -> Optional[np.ndarray]:
        """The last filtered value (None before the first sample)."""
        return None if self._x is None else self._x.copy()

    @property
    def timestamp(self) -> Optional[float]:
        """Timestamp of the last sample (None before the first)."""
        return self._t

    def _next_time(self, timestamp) -> float:
        if timestamp is None:
            return 0.0 if self._t is None else self._t + 1.0 / self.frequency
        t = float(timestamp)
        if not math.isfinite(t):
            raise SmoothingError(f"timestamp must be finite, got {timestamp!r}")
        if self._t is not None and t <= self._t:
            # Equal timestamps (a duplicated video frame) would divide by zero and a
            # decreasing one means the caller mixed streams: both are caller errors.
            raise SmoothingError(
                f"timestamps must strictly increase: got {t!r} after {self._t!r} "
                "(call reset() to start a new sequence)")
        return t

    def _speed(self, dx: np.ndarray) -> np.ndarray:
        mode = self.speed
        if mode == "elementwise" or dx.ndim == 0:
            return np.abs(dx)
        if mode == "point":
            return np.linalg.norm(dx, axis=-1, keepdims=True)
        if mode == "mean_point":
            return np.asarray(np.mean(np.linalg.norm(dx, axis=-1)))
        return np.asarray(np.linalg.norm(dx))

    def __call__(self, x, timestamp: Optional[float] = None, scale: float = 1.0) -> np.ndarray:
        """Filter one sample.

        Args:
            x: scalar or array (same shape every call).
            timestamp: seconds; must strictly increase. None: previous + 1 / frequency.
            scale: the speed is divided by it (e.g. the face size in pixels), so ``beta`` is
                independent of the signal's units.

        Returns:
            the filtered value, float64, shape of ``x``.

        Raises:
            SmoothingError: non-increasing / non-finite timestamp, non-finite ``x`` or
                ``scale``, or a shape change.
        """
        x = np.array(x, np.float64)
        if not np.all(np.isfinite(x)):
            raise SmoothingError("value to filter contains NaN or inf")
        if not (math.isfinite(scale) and scale > 0):
            raise SmoothingError(f"scale must be finite and > 0, got {scale!r}")
        t = self._next_time(timestamp)
        if self._x is None:
            self._x, self._raw, self._dx, self._t = x, x, np.zeros_like(x), t
            return x.copy()
        if x.shape != self._x.shape:
            raise SmoothingError(f"shape changed from {self._x.shape} to {x.shape}; call reset()")
        dt = t - self._t
        # Derivative from the previous RAW sample, as in Casiez's reference implementation:
        # differencing against the filtered value would add the filter's own lag to the
        # speed, making the cutoff depend on the frame rate.
        dx = (x - self._raw) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * self._speed(self._dx) / scale
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._raw, self._t = x, t
        return self._x.copy()


def _face_size(points: np.ndarray) -> float:
    """sqrt(area) of the points' box: the face scale that normalises landmark speeds."""
    wh = points.max(axis=0) - points.min(axis=0)
    return float(max(math.sqrt(max(wh[0], 1e-6) * max(wh[1], 1e-6)), 1.0))


class LandmarkFilter:
    """One-Euro smoothing of a landmark set ``(K, 2)`` (or ``(K, 3)``) in pixels.

    One cutoff for the whole face (``speed="mean_point"``), driven by the mean landmark
    speed in face sizes per second: the face moves as a whole, so all points adapt together
    and the shape is not distorted during motion, and averaging 68 points steadies the speed
    estimate.

    Args:
        min_cutoff, beta, d_cutoff: see :class:`OneEuroFilter`; defaults
            :data:`LANDMARK_DEFAULTS` (beta per face size per second).
        frequency: sample rate assumed when timestamps are None.

    Example:
        >>> f = LandmarkFilter()
        >>> pts = np.random.default_rng(0).uniform(0, 100, (68, 2))
        >>> bool(np.allclose(f(pts, 0.0), pts))
        True
    """

    def __init__(self, min_cutoff: float = LANDMARK_DEFAULTS["min_cutoff"],
                 beta: float = LANDMARK_DEFAULTS["beta"],
                 d_cutoff: float = LANDMARK_DEFAULTS["d_cutoff"], frequency: float = 30.0):
        self._f = OneEuroFilter(min_cutoff, beta, d_cutoff, "mean_point", frequency)

    def reset(self) -> None:
        self._f.reset()

    def __call__(self, landmarks, timestamp: Optional[float] = None) -> np.ndarray:
        """Filter one frame's landmarks; returns float32 of the input's shape."""
        pts = np.asarray(landmarks, np.float64)
        if pts.ndim != 2 or pts.shape[1] not in (2, 3) or len(pts) < 2:
            raise SmoothingError(f"landmarks must be (K, 2) or (K, 3), got {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise SmoothingError("landmarks contain NaN or inf")
        return self._f(pts, timestamp, scale=_face_size(pts[:, :2])).astype(np.float32)


# ---------------------------------------------------------------------------- rotations
def _matrix_to_quaternion(r: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix; numerically safe for all angles
    (Shepperd's method: pivot on the largest of w, x, y, z)."""
    m = r
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    cands = np.array([tr, m[0, 0], m[1, 1], m[2, 2]])
    i = int(np.argmax(cands))
    if i == 0:
        s = 2.0 * math.sqrt(max(1.0 + tr, 1e-12))
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif i == 1:
        s = 2.0 * math.sqrt(max(1.0 + m[0, 0] - m[1, 1] - m[2, 2], 1e-12))
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif i == 2:
        s = 2.0 * math.sqrt(max(1.0 + m[1, 1] - m[0, 0] - m[2, 2], 1e-12))
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(max(1.0 + m[2, 2] - m[0, 0] - m[1, 1], 1e-12))
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q, np.float64)
    return q / np.linalg.norm(q)


def _quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


class RotationFilter:
    """One-Euro smoothing of a head rotation (3x3 matrix), through unit quaternions.

    ``q`` and ``-q`` are the same rotation, so each new quaternion is first flipped into the
    hemisphere of the previous output; the 4-vector is then One-Euro filtered with a single
    cutoff driven by the angular speed (radians per second; ``|dq/dt| = omega / 2``) and
    renormalised. See the module docstring for why not Euler angles or the 6D form.

    Args:
        min_cutoff, beta, d_cutoff: see :class:`OneEuroFilter`; defaults
            :data:`ROTATION_DEFAULTS` (beta per radian per second).
        frequency: sample rate assumed when timestamps are None.

    Example:
        >>> f = RotationFilter()
        >>> bool(np.allclose(f(np.eye(3), 0.0), np.eye(3)))
        True
    """

    def __init__(self, min_cutoff: float = ROTATION_DEFAULTS["min_cutoff"],
                 beta: float = ROTATION_DEFAULTS["beta"],
                 d_cutoff: float = ROTATION_DEFAULTS["d_cutoff"], frequency: float = 30.0):
        self._f = OneEuroFilter(min_cutoff, beta, d_cutoff, "norm", frequency)

    def reset(self) -> None:
        self._f.reset()

    def __call__(self, rotation, timestamp: Optional[float] = None) -> np.ndarray:
        """Filter one rotation matrix; returns a float32 ``(3, 3)`` rotation matrix."""
        r = np.asarray(rotation, np.float64)
        if r.shape != (3, 3) or not np.all(np.isfinite(r)):
            raise SmoothingError(f"rotation must be a finite (3, 3) matrix, got shape {r.shape}")
        if abs(np.linalg.det(r) - 1.0) > 1e-3 or not np.allclose(r @ r.T, np.eye(3), atol=1e-3):
            r = nearest_rotation(r)
        q = _matrix_to_quaternion(r)
        prev = self._f.value
        if prev is not None and float(np.dot(q, prev)) < 0.0:
            q = -q
        # scale 0.5: |dq/dt| is half the angular speed, so the speed seen by beta is omega.
        out = self._f(q, timestamp, scale=0.5)
        return _quaternion_to_matrix(out).astype(np.float32)


# ---------------------------------------------------------------------------- tracking
@dataclasses.dataclass(frozen=True, eq=False)
class TrackedFace:
    """One face of one frame, as returned by :meth:`Tracker.update` (a snapshot).

    Attributes:
        track_id: stable id of the face across frames (1, 2, ...).
        box: smoothed ``(4,)`` box ``x0, y0, x1, y1``.
        landmarks: smoothed ``(K, 2)`` landmarks, or None when none were given.
        rotation: smoothed ``(3, 3)`` rotation, or None when none was given.
        is_new: True on the first frame of the track (its values are unsmoothed).
        age: frames since the track started (0 on its first frame).
    """

    track_id: int
    box: np.ndarray
    landmarks: Optional[np.ndarray]
    rotation: Optional[np.ndarray]
    is_new: bool
    age: int


class _Track:
    def __init__(self, track_id: int, params: dict, frequency: float):
        self.track_id = track_id
        self.box_filter = OneEuroFilter(**params["box"], speed="norm", frequency=frequency)
        self.landmark_filter = LandmarkFilter(**params["landmarks"], frequency=frequency)
        self.rotation_filter = RotationFilter(**params["rotation"], frequency=frequency)
        self.raw_box: Optional[np.ndarray] = None
        self.box = self.landmarks = self.rotation = None
        self.age = -1
        self.missed = 0
        self.seen_at: Optional[float] = None  # time of raw_box
        self.velocity: Optional[np.ndarray] = None  # of raw_box's centre, px / s

    def see(self, box: np.ndarray, t: float) -> None:
        """The track's raw box at ``t``, and its centre's velocity from the last one."""
        if self.raw_box is not None:
            step = ((box[:2] + box[2:]) - (self.raw_box[:2] + self.raw_box[2:])) / 2.0 / (t - self.seen_at)
            # averaged with the last: a face being hidden has a few noisy boxes
            self.velocity = step if self.velocity is None else (step + self.velocity) / 2.0
        self.raw_box, self.seen_at = box.copy(), t

    def overlaps(self, boxes: np.ndarray, t: float) -> np.ndarray:
        """IoU of ``boxes`` with the track at ``t``: with its last raw box, or, while it is
        missed, with that box or the box its velocity puts it in now, whichever is more (a
        face hidden behind another goes on moving; a face the detector missed stayed)."""
        from lponet_tf.detection import box_iou

        iou = box_iou(boxes, self.raw_box[None])[:, 0]
        if self.missed and self.velocity is not None:
            moved = self.raw_box + np.tile(self.velocity * (t - self.seen_at), 2)
            iou = np.maximum(iou, box_iou(boxes, moved[None])[:, 0])
        return iou


class Tracker:
    """Associates faces between frames by box IoU and smooths each face with its own filters.

    Each :meth:`update` gets the faces of one frame (boxes, and optionally landmarks and
    rotations, and the track ids of faces the caller followed from a track's last face).
    A face with such an id continues that track while it is live, whatever its box; the
    others are matched to the remaining live tracks by maximum total IoU (Hungarian
    assignment) between the new boxes and each track's last raw box (for a track missed on
    the last frames, the larger of that and the IoU with the box moved on by the track's
    last velocity: a face hidden behind another keeps moving); pairs below
    ``iou_threshold`` do not match. A matched face is smoothed by its track's filters; an
    unmatched face starts a new track (unsmoothed on its first frame); a track unmatched for
    more than ``max_missed`` consecutive frames is dropped, so a face that leaves and comes
    back later gets a new id and fresh filters.

    Args:
        iou_threshold: minimum IoU to continue a track.
        max_missed: frames a track survives without a match.
        landmark_params, rotation_params, box_params: One-Euro parameters (dicts with
            ``min_cutoff``, ``beta``, ``d_cutoff``), defaults :data:`LANDMARK_DEFAULTS`,
            :data:`ROTATION_DEFAULTS`, :data:`BOX_DEFAULTS`.
        frequency: frame rate assumed when timestamps are None.

    Example:
        >>> tr = Tracker()
        >>> out = tr.update([[10, 10, 110, 120]], timestamp=0.0)
        >>> out = tr.update([[12, 11, 112, 121]], timestamp=1 / 30)
        >>> out[0].track_id, out[0].is_new
        (1, False)
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5,
                 landmark_params: Optional[dict] = None, rotation_params: Optional[dict] = None,
                 box_params: Optional[dict] = None, frequency: float = 30.0):
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be in [0, 1]")
        if max_missed < 0:
            raise ValueError("max_missed must be >= 0")
        self.iou_threshold, self.max_missed = iou_threshold, int(max_missed)
        self.frequency = frequency
        self._params = {
            "landmarks": {**LANDMARK_DEFAULTS, **(landmark_params or {})},
            "rotation": {**ROTATION_DEFAULTS, **(rotation_params or {})},
            "box": {**BOX_DEFAULTS, **(box_params or {})},
        }
        self.reset()

    def reset(self) -> None:
        """Drop every track (e.g. at a scene cut or a new video)."""
        self._tracks: List[_Track] = []
        self._next_id = 1
        self._t: Optional[float] = None

    @property
    def tracks(self) -> List[TrackedFace]:
        """Live tracks with their last smoothed values (for detection reuse: the next frame's
        boxes can be re-derived from these landmarks instead of running the detector)."""
        return [self._snapshot(t) for t in self._tracks if t.box is not None]

    @property
    def missing(self) -> int:
        """Live tracks that no face continued on the last frame (faces lost a moment ago,
        still looked for: :meth:`update` drops them after ``max_missed`` frames)."""
        return sum(1 for t in self._tracks if t.missed)

    def update(self, boxes, timestamp: Optional[float] = None,
               landmarks: Optional[Sequence] = None,
               rotations: Optional[Sequence] = None,
               track_ids: Optional[Sequence] = None) -> List[TrackedFace]:
        """Add one frame's faces; returns one :class:`TrackedFace` per input face, in order.

        Args:
            boxes: ``(N, 4)`` boxes ``x0, y0, x1, y1`` (N may be 0).
            timestamp: seconds, strictly increasing between calls; None: previous +
                1 / frequency.
            landmarks: N arrays ``(K, 2)``, or None.
            rotations: N ``(3, 3)`` matrices, or None.
            track_ids: N ids (or None entries), or None: the track each face was followed
                from (:meth:`FaceAnalyzer.track` crops a face on its track's last landmarks,
                so it knows; a face that moved a third of its width in a frame may overlap
                a neighbour's last box more than its own). An id of a dropped track is
                ignored (the face is matched by IoU).

        Returns:
            list of :class:`TrackedFace`.

        Raises:
            SmoothingError: bad timestamp, NaN values, lengths that disagree, or an id
                given to two faces.
        """
        b = np.asarray(boxes, np.float64).reshape(-1, 4) if len(boxes) else np.zeros((0, 4))
        n = len(b)
        if not np.all(np.isfinite(b)):
            raise SmoothingError("boxes contain NaN or inf")
        for name, seq in (("landmarks", landmarks), ("rotations", rotations), ("track_ids", track_ids)):
            if seq is not None and len(seq) != n:
                raise SmoothingError(f"{len(seq)} {name} for {n} boxes")
        track_ids = None if track_ids is None else list(track_ids)
        given = [i for i in (track_ids or []) if i is not None]
        if len(set(given)) != len(given):
            raise SmoothingError(f"a track id given to two faces: {list(track_ids)}")
        t = self._clock(timestamp)

        pairs = self._associate(b, t, track_ids)
        matched_tracks = {ti for _, ti in pairs}
        for ti, track in enumerate(self._tracks):
            if ti not in matched_tracks:
                track.missed += 1
        assignment: Dict[int, _Track] = {fi: self._tracks[ti] for fi, ti in pairs}
        for fi in range(n):
            if fi not in assignment:
                track = _Track(self._next_id, self._params, self.frequency)
                self._next_id += 1
                self._tracks.append(track)
                assignment[fi] = track

        out = []
        for fi in range(n):
            track = assignment[fi]
            track.missed, track.age = 0, track.age + 1
            track.see(b[fi], t)
            size = math.sqrt(max((b[fi, 2] - b[fi, 0]) * (b[fi, 3] - b[fi, 1]), 1.0))
            track.box = track.box_filter(b[fi], t, scale=size).astype(np.float32)
            if landmarks is not None and landmarks[fi] is not None:
                track.landmarks = track.landmark_filter(landmarks[fi], t)
            if rotations is not None and rotations[fi] is not None:
                track.rotation = track.rotation_filter(rotations[fi], t)
            out.append(self._snapshot(track))
        self._tracks = [tr for tr in self._tracks if tr.missed <= self.max_missed]
        return out

    def _clock(self, timestamp) -> float:
        if timestamp is None:
            t = 0.0 if self._t is None else self._t + 1.0 / self.frequency
        else:
            t = float(timestamp)
            if not math.isfinite(t):
                raise SmoothingError(f"timestamp must be finite, got {timestamp!r}")
            if self._t is not None and t <= self._t:
                raise SmoothingError(
                    f"timestamps must strictly increase: got {t!r} after {self._t!r} "
                    "(call reset() to start a new video)")
        self._t = t
        return t

    def _associate(self, boxes: np.ndarray, t: float, track_ids: Optional[Sequence] = None):
        """(face index, track index) pairs: faces with the id of a live track to that track,
        the others maximising total IoU with the remaining tracks (a missed track's moved on
        by its motion: :meth:`_Track.overlaps`), each >= the threshold."""
        live = {t.track_id: ti for ti, t in enumerate(self._tracks)}
        pairs = [(fi, live[i]) for fi, i in enumerate(track_ids or []) if i in live]
        followed, continued = {fi for fi, _ in pairs}, {ti for _, ti in pairs}
        faces = [fi for fi in range(len(boxes)) if fi not in followed]
        tracks = [ti for ti in range(len(self._tracks)) if ti not in continued]
        if not faces or not tracks:
            return pairs
        from scipy.optimize import linear_sum_assignment

        iou = np.stack([self._tracks[ti].overlaps(boxes[faces], t) for ti in tracks], axis=1)
        rows, cols = linear_sum_assignment(-iou)
        return pairs + [(faces[r], tracks[c]) for r, c in zip(rows, cols)
                        if iou[r, c] >= self.iou_threshold and iou[r, c] > 0]

    @staticmethod
    def _snapshot(track: _Track) -> TrackedFace:
        return TrackedFace(
            track_id=track.track_id,
            box=track.box.copy(),
            landmarks=None if track.landmarks is None else track.landmarks.copy(),
            rotation=None if track.rotation is None else track.rotation.copy(),
            is_new=track.age == 0,
            age=track.age,
        )
