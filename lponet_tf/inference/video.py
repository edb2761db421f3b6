"""Video: face tracking with detection reuse and One-Euro smoothing, and video-file reading.

:meth:`FaceAnalyzer.track(frame, timestamp_ms) <lponet_tf.FaceAnalyzer.track>` runs a
:class:`TrackingSession` (MediaPipe's VIDEO mode, in outline):

* Detection reuse. The detector runs on the first frame, then at least every
  ``options.detect_every`` frames (to pick up faces that entered), whenever a tracked
  face is lost, and on every frame while a lost face's track lives (the tracker's
  ``max_missed`` frames; these looks leave the ``detect_every`` schedule as it was), so a
  face that comes out from behind another is found on the first frame it can be seen. In between, a face's box is the tight box of its landmarks in the previous
  frame, which is exactly the landmark box the network's crops are built from (better than
  a detector box, and free). With ``options.refine`` a face whose new landmarks disagree
  with that box (it moved: the crop cut it) is analysed again on its new landmark box, as
  ``analyze`` does a detector box (:meth:`FaceAnalyzer.refine_faces`), before the loss test;
  a still face costs nothing more. A face that moved the same way on its last three frames
  (within 60 degrees) is cropped where that motion puts it now (when that is 5% to 50% of its
  width, and the box would not overlap another face's), so a face moving steadily needs no
  second look; where it stops or turns, the crop is off once and refined. Two tracked faces
  that end on one face (a weak track beside a face, or a face passing behind another,
  refined onto it) are one face, as in ``analyze``: the one whose landmarks stayed where its
  track was expected (its last box, moved on by a steady motion even where the crop was not)
  keeps it (its track was on that face) and the other counts as lost.
* Second looks. While no face is tracked, a frame in which the detector's first pass finds
  nothing gets the zoom-out pass (the default detector's second look at a frame inside a gray
  border, for faces that fill the frame) on the first such frame and then on one in
  ``options.zoom_out_every``, so a camera pointed away from faces does not pay two detector
  passes a frame. After unsure first-pass faces it always runs, as in ``analyze``: they are
  often wrong boxes on part of a face that fills the frame, which the session would go on
  tracking. The candidate check (``options.candidate_check``: the network's look at the
  detector's low-score candidates when it finds nothing; several network runs) runs, while no
  face is tracked, on the first frame in which the detector finds nothing and then on one
  such frame in ``options.candidate_check_every``.
* Loss. A reused face whose mean landmark score (heatmap peak / 60) drops below
  ``options.min_tracking_confidence``, or whose landmark box collapses, is dropped and the
  detector runs on that frame.
* Merging. On a detection frame, a tracked face that a detection confirms is kept, one
  that has drifted from its detection is replaced by it when the detection's face is the
  surer (higher mean landmark score: a detector box across two overlapping faces reads
  neither, and must not take a track off a face it held), and detections that overlap no
  tracked face are added, up to ``options.max_faces`` (:meth:`TrackingSession._merge`).
* Identity and smoothing. A face followed from the previous frame keeps its track (the
  session knows which face its crop came from, and so does a detection that replaces it);
  :class:`lponet_tf.inference.smoothing.Tracker` associates the other faces with the
  remaining tracks (box IoU; a track missed for a few frames, such as a face that passed
  behind another, is also looked for where its last motion puts it) and gives each a
  ``track_id``; with ``options.smoothing`` its
  One-Euro filters smooth the landmarks and the rotation (the Euler pose is recomputed
  from the smoothed rotation). Boxes, visibility and masks stay those of the frame.
  The next frame's boxes come from the raw (unsmoothed) landmarks, so smoothing never
  makes the crop lag behind a moving face.

:func:`analyze_video` reads a file with ``cv2.VideoCapture`` and yields
``(timestamp_ms, faces)`` per frame.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np

from lponet_tf.codec.image import to_rgb_uint8
from lponet_tf.errors import ImageError
from lponet_tf.geometry import matrix_to_euler
from lponet_tf.detection import box_in_image, box_iou, landmark_box
from lponet_tf.inference.candidate_check import distinct_faces
from lponet_tf.inference.smoothing import SmoothingError, Tracker

__all__ = ["TrackingSession", "VideoInfo", "open_video", "iter_frames", "analyze_video",
           "mp4_video_frames", "VIDEO_SUFFIXES", "EMPTY_VIDEO"]

#: The message (after the file name) for a readable video that holds no frames.
EMPTY_VIDEO = "empty video: no frames"
#: File suffixes treated as videos by ``lponet predict``.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
# A detection overlapping a tracked face by this much is the same face; by _AGREE_IOU the
# tracked box is trusted over the detection (see TrackingSession._merge).
_SAME_FACE_IOU = 0.3
_AGREE_IOU = 0.5
# Landmark boxes smaller than this (pixels) mean the landmarks collapsed: the face is lost.
_MIN_FACE_SIDE = 4.0
# A followed face moving steadily is cropped where its motion puts it now, when that is at
# least this share of its box's width (a still face's jitter is below it), and at most the
# second share (a jump that large is a new detection's box, not motion).
_AHEAD_MIN, _AHEAD_MAX = 0.05, 0.5
# Steadily: its last two frame-to-frame motions differ in direction by at most this many
# degrees (a shaking camera's do not: the next motion is then not the last one's).
_STEADY_DEG = 60.0


class TrackingSession:
    """Per-video state of :meth:`FaceAnalyzer.track` (see the module docstring).

    Args:
        analyzer: the :class:`~lponet_tf.FaceAnalyzer` whose model, detector and options
            are used.
        crop_ahead: crop a steadily moving face where its motion puts it (the default);
            False crops it on its last landmark box, so each frame of motion needs the
            refinement's second look (for comparisons: ``benchmarks/bench_fast_motion.py
            --ahead both``).

    Attributes:
        detections_run: how many frames ran the detector (for tests and benchmarks).
        faceless_frames: how many frames in a row started with no tracked face.

    One analyzer follows one video with :meth:`FaceAnalyzer.track`; a session per stream
    follows several with one analyzer (its model and detector are shared, its state is not).

    Example:
        >>> session = TrackingSession(analyzer)                 # doctest: +SKIP
        >>> faces = session.track(frame, timestamp_ms=0.0)      # doctest: +SKIP
    """

    def __init__(self, analyzer, crop_ahead: bool = True):
        self.analyzer = analyzer
        self.crop_ahead = bool(crop_ahead)
        self.tracker = Tracker()
        self.previous = []  # raw (unsmoothed) faces of the previous frame
        self.frames_since_detection: Optional[int] = None
        self.detections_run = 0
        self.faceless_frames = 0  # consecutive frames that started with no tracked face
        self.last_t: Optional[float] = None
        # per track id: (time, landmark-box centre) on its last frame; its velocity (px / s)
        # when it was followed on both of its last two frames; the ids moving steadily
        self.centres: Dict[int, Tuple[float, np.ndarray]] = {}
        self.velocities: Dict[int, np.ndarray] = {}
        self.steady: set = set()

    def track(self, frame, timestamp_ms: float) -> list:
        """Faces of one frame at ``timestamp_ms``, as :meth:`FaceAnalyzer.track` gives them:
        ``frame`` is any input :meth:`FaceAnalyzer.analyze` takes, read with the analyzer's
        ``rgb`` and ``value_range`` options."""
        self.analyzer._check_open()
        opts = self.analyzer.options
        return self.step(to_rgb_uint8(frame, rgb=opts.rgb, value_range=opts.value_range),
                         timestamp_ms)

    def step(self, rgb: np.ndarray, timestamp_ms: float) -> list:
        """Faces of one ``(H, W, 3)`` uint8 RGB frame at ``timestamp_ms`` (:meth:`track`
        without the conversion, for frames already in that form)."""
        opts = self.analyzer.options
        t = float(timestamp_ms) / 1000.0
        # Checked before any work, so a bad timestamp leaves the session as it was.
        if not math.isfinite(t) or (self.last_t is not None and t <= self.last_t):
            after = "" if self.last_t is None else f" after {self.last_t * 1000.0:g} ms"
            raise SmoothingError(
                f"timestamps must be finite and strictly increase: got {timestamp_ms!r} ms"
                f"{after} (call reset() to start a new video)")
        self.last_t = t
        due = (self.frames_since_detection is None or not self.previous
               or self.frames_since_detection + 1 >= opts.detect_every)
        faces = []
        if self.previous:
            # (analyze_boxes skips these: left out here too, so each face keeps its track id)
            crops = self._crop_boxes_now(self.previous, t)
            expected = self._expected_boxes(self.previous, t)
            followed = [(f, b, e) for f, b, e in zip(self.previous, crops, expected)
                        if box_in_image(b, rgb.shape)]
            tracked = self.analyzer.analyze_boxes(rgb, [b for _, b, _ in followed],
                                                  [f.score for f, _, _ in followed])
            # a face that moved is cut by last frame's box: re-crop it on its new landmarks
            # (as analyze() does a detector box) before judging it
            tracked = self.analyzer.refine_faces(rgb, tracked)
            tracked = [dataclasses.replace(f, track_id=p.track_id) for f, (p, _, _) in zip(tracked, followed)]
            faces = [f for f in tracked if _still_a_face(f, opts.min_tracking_confidence)]
            # one face per person, as in find_faces: the refinement may take a weak track
            # beside a face (a half face at the frame's edge, a face passing behind another)
            # onto that face; of two, the one that ended where its track was expected (its
            # last box, moved on by a steady motion even where the crop was not) keeps the
            # face (its track was on it), in their order
            faces = _one_face_per_person(faces, {id(f): e for f, (_, _, e) in zip(tracked, followed)})
            due = due or len(faces) < len(self.previous)
        # a face lost a moment ago (behind another, out of the frame) is looked for on every
        # frame while its track lives, so that it keeps its id when it comes back; these
        # looks leave the detect_every schedule as it was (a face hidden longer than its track
        # lives is found by the scheduled detection, as before, not detect_every frames later)
        looking = not due and self.tracker.missing > 0
        moved = {id(f) for f in faces}  # followed faces: their change of place is motion
        if due or looking:
            # on frames with a tracked face the second look runs as in analyze(); the
            # detector's first pass finds a tracked face, so it seldom does
            zoom = bool(self.previous) or self.faceless_frames % opts.zoom_out_every == 0
            # the candidate check only looks for a face where none is tracked: a tracked
            # face the detector misses is kept by the merge anyway
            check = not self.previous and self.faceless_frames % opts.candidate_check_every == 0
            faces = self._merge(faces, self.analyzer.find_faces(
                rgb, zoom_out_when_empty=zoom, check_candidates=check))
            self.frames_since_detection = self.frames_since_detection + 1 if looking else 0
            self.detections_run += 1
        else:
            self.frames_since_detection += 1
        faces = faces[: opts.max_faces]
        snapshots = self.tracker.update(
            [landmark_box(f.landmarks) for f in faces], t,
            landmarks=[f.landmarks for f in faces],
            rotations=[f.rotation for f in faces],
            track_ids=[f.track_id for f in faces],
        )
        self.faceless_frames = 0 if self.previous else self.faceless_frames + 1
        self._remember_motion(faces, snapshots, moved, t)
        # raw (unsmoothed) faces, with the id of the track each continues
        self.previous = [dataclasses.replace(f, track_id=s.track_id) for f, s in zip(faces, snapshots)]
        return [_with_track(f, s, opts.smoothing) for f, s in zip(faces, snapshots)]

    def _crop_boxes_now(self, faces: list, t: float) -> List[np.ndarray]:
        """The boxes to crop the followed ``faces`` on at time ``t``: each one's landmark box
        on its last frame, moved on by its velocity when it moves steadily and that moves it
        :data:`_AHEAD_MIN` to :data:`_AHEAD_MAX` of the box's width, unless the moved box
        would overlap another face's box (moved or not: a face stopping beside another would
        be cropped on its neighbour). A face moving steadily is then cropped where it is, and
        needs no second look (:meth:`FaceAnalyzer.refine_faces`)."""
        last = [_crop_box(f) for f in faces]
        shifts = [self._shift_now(f, b, t) for f, b in zip(faces, last)]
        ahead = self._expected_boxes(faces, t)
        out = []
        for i, box in enumerate(ahead):
            others = [b for j in range(len(faces)) if j != i for b in (last[j], ahead[j])]
            if shifts[i] is not None and others and box_iou(box, np.stack(others)).max() > 0:
                box = last[i]
            out.append(box)
        return out

    def _expected_boxes(self, faces: list, t: float) -> List[np.ndarray]:
        """Where the followed ``faces`` are expected at time ``t``: each one's landmark box on
        its last frame, moved on as :meth:`_shift_now` says (a steady motion of
        :data:`_AHEAD_MIN` to :data:`_AHEAD_MAX` of its width), whether or not it is cropped
        there."""
        last = [_crop_box(f) for f in faces]
        shifts = [self._shift_now(f, b, t) for f, b in zip(faces, last)]
        return [b if s is None else (b + np.tile(s, 2)).astype(np.float32) for b, s in zip(last, shifts)]

    def _shift_now(self, face, box: np.ndarray, t: float) -> Optional[np.ndarray]:
        """``(dx, dy)`` a steadily moving face has moved since its last frame, or None."""
        if not self.crop_ahead or face.track_id not in self.steady:
            return None
        shift = self.velocities[face.track_id] * (t - self.centres[face.track_id][0])
        if not _AHEAD_MIN <= math.hypot(*shift) / max(float(box[2] - box[0]), 1e-6) <= _AHEAD_MAX:
            return None
        return shift

    def _remember_motion(self, faces: list, snapshots: list, moved: set, t: float) -> None:
        """Each track's landmark-box centre at ``t``, its velocity where the face was
        followed (a detection's face that replaced a drifted one jumped, it did not move),
        and whether it moved steadily: its last two velocities within :data:`_STEADY_DEG`."""
        centres, velocities, steady = {}, {}, set()
        cos_steady = math.cos(math.radians(_STEADY_DEG))
        for face, snap in zip(faces, snapshots):
            box = landmark_box(face.landmarks).astype(np.float64)
            centre = (box[:2] + box[2:]) / 2.0
            last, before = self.centres.get(snap.track_id), self.velocities.get(snap.track_id)
            if last is not None and id(face) in moved:
                v = velocities[snap.track_id] = (centre - last[1]) / (t - last[0])
                if before is not None and float(v @ before) >= cos_steady * math.hypot(*v) * math.hypot(*before):
                    steady.add(snap.track_id)
            centres[snap.track_id] = (t, centre)
        self.centres, self.velocities, self.steady = centres, velocities, steady

    @staticmethod
    def _merge(tracked: list, detected: list) -> list:
        """Tracked faces, corrected or completed by a detection frame's faces.

        A detection is the same face as a tracked one when their boxes overlap (IoU >= 0.3,
        or the detection's centre inside the tracked box). The tracked face is kept when
        the two agree (IoU >= 0.5: its landmark box is the more precise); otherwise it has
        drifted and the detected face replaces it if its confidence (mean landmark score) is
        the higher: a detector box across two overlapping faces gives a face that is neither,
        and a tracked face that held its landmarks is kept. Unmatched detections are new faces;
        tracked faces no detection matches are kept (the detector missed them).
        """
        if not tracked or not detected:
            return tracked or detected
        tb = np.stack([f.box for f in tracked])
        db = np.stack([f.box for f in detected])
        iou = box_iou(db, tb)
        c = (db[:, None, :2] + db[:, None, 2:]) / 2
        inside = np.all((c >= tb[None, :, :2]) & (c <= tb[None, :, 2:]), axis=2)
        same = (iou >= _SAME_FACE_IOU) | inside
        result, used, new = list(tracked), set(), []
        for d in np.argsort(-iou.max(axis=1)):  # most certain matches first
            options = [t for t in np.argsort(-iou[d]) if same[d, t] and t not in used]
            if not options:
                new.append(detected[d])
                continue
            used.add(options[0])
            # the same face, drifted: the detection's reading replaces it when it is the surer
            # one (a detection box across two overlapping faces reads neither well); its track
            # goes on
            if iou[d, options[0]] < _AGREE_IOU and \
                    detected[d].confidence > tracked[options[0]].confidence:
                result[options[0]] = dataclasses.replace(
                    detected[d], track_id=tracked[options[0]].track_id)
        return result + new


def _still_a_face(face, min_confidence: float) -> bool:
    if not np.all(np.isfinite(face.landmarks)) or face.confidence < min_confidence:
        return False
    x0, y0, x1, y1 = landmark_box(face.landmarks)
    return min(x1 - x0, y1 - y0) >= _MIN_FACE_SIDE


def _one_face_per_person(faces: list, expected: Dict[int, np.ndarray]) -> list:
    """``faces`` (followed, each expected at ``expected[id(face)]``) without the ones another
    kept face repeats (:func:`distinct_faces`), trying them in order of how well their
    landmarks stay on that box (the face whose track was on it first), kept in order."""
    def where_expected(face) -> float:
        return float(box_iou(landmark_box(face.landmarks), expected[id(face)])[0, 0])

    kept = {id(f) for f in distinct_faces(sorted(faces, key=lambda f: -where_expected(f)),
                                          by_confidence=False)}
    return [f for f in faces if id(f) in kept]


def _crop_box(face) -> np.ndarray:
    """The box a followed face is cropped on: its landmarks' tight box, as
    :meth:`FaceAnalyzer.analyze_boxes` reads a box (float32)."""
    return np.asarray(landmark_box(face.landmarks), np.float32).reshape(4)


def _with_track(face, snapshot, smoothing: bool):
    """A copy of ``face`` with the track id and, when smoothing, the filtered values."""
    changes = {"track_id": snapshot.track_id}
    if smoothing and snapshot.landmarks is not None:
        changes["landmarks"] = np.asarray(snapshot.landmarks, np.float32)
    if smoothing and snapshot.rotation is not None:
        changes["rotation"] = np.asarray(snapshot.rotation, np.float32)
        changes["pose"] = matrix_to_euler(snapshot.rotation).astype(np.float32)
    return dataclasses.replace(face, **changes)


# --------------------------------------------------------------------------------------
# Video files
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What ``cv2.VideoCapture`` reports about a file.

    Attributes:
        fps: frames per second (30 when the container does not say).
        frame_count: frames announced by the container (0 when unknown; may be approximate).
        width, height: frame size in pixels.
    """

    fps: float
    frame_count: int
    width: int
    height: int


def open_video(path) -> Tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video file for reading.

    Raises:
        ImageError: missing or empty file, a video without frames, or one OpenCV cannot
            decode (the message names the file and says which).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageError(f"{path}: video file not found")
    if os.path.getsize(path) == 0:
        raise ImageError(f"{path}: empty file (0 bytes), not a video")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        # FFmpeg refuses an MP4 / MOV without frames just like a broken one; the container
        # tells them apart.
        if mp4_video_frames(path) == 0:
            raise ImageError(f"{path}: {EMPTY_VIDEO}")
        raise ImageError(f"{path}: cannot open video (corrupt, truncated or unknown codec)")
    fps = cap.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(
        fps=float(fps) if math.isfinite(fps) and fps > 0 else 30.0,
        frame_count=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    return cap, info


def iter_frames(path) -> Iterator[Tuple[float, np.ndarray]]:
    """``(timestamp_ms, RGB uint8 frame)`` for each frame of a video file.

    Timestamps are the container's (``CAP_PROP_POS_MSEC``) when they increase, else the
    previous one plus one frame period, so they always strictly increase.

    Raises:
        ImageError: the file cannot be opened, holds no frames ("empty video: no frames"),
            or no frame can be decoded.

    Example:
        >>> for t, frame in iter_frames("clip.mp4"):     # doctest: +SKIP
        ...     print(t, frame.shape)
    """
    cap, info = open_video(path)
    previous, count = -math.inf, 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            t = cap.get(cv2.CAP_PROP_POS_MSEC)
            if not (math.isfinite(t) and t > previous):
                t = 0.0 if previous == -math.inf else previous + 1000.0 / info.fps
            previous, count = t, count + 1
            yield t, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    if count == 0:
        if info.frame_count == 0:
            raise ImageError(f"{os.fspath(path)}: {EMPTY_VIDEO}")
        raise ImageError(f"{os.fspath(path)}: none of its {info.frame_count} frames could be "
                         "decoded (corrupt, truncated or unknown codec)")


# ISO base media (MP4 / MOV) boxes that hold the boxes on the way to a track's sample table.
_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _mp4_boxes(data: bytes, start: int, end: int) -> Iterator[Tuple[bytes, int, int]]:
    """``(type, payload start, payload end)`` of the boxes in ``data[start:end]``."""
    while start + 8 <= end:
        size, kind = int.from_bytes(data[start:start + 4], "big"), data[start + 4:start + 8]
        header = 8
        if size == 1:  # 64-bit size follows the type
            if start + 16 > end:
                raise ValueError("truncated box header")
            size, header = int.from_bytes(data[start + 8:start + 16], "big"), 16
        elif size == 0:  # the box runs to the end of the file
            size = end - start
        if size < header or start + size > end:
            raise ValueError(f"box {kind!r} runs past its parent")
        yield kind, start + header, start + size
        start += size


def mp4_video_frames(path) -> Optional[int]:
    """Frames of the video tracks an MP4 / MOV file declares, or None if unknown.

    None when the file is not a well-formed ISO base media file, has no ``moov`` box, or
    is fragmented (its frames are in ``moof`` boxes). Reads the whole file: meant for files
    OpenCV already refused.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
        top = {kind: (a, b) for kind, a, b in _mp4_boxes(data, 0, len(data))}
        if b"ftyp" not in top or b"moov" not in top or b"moof" in top:
            return None
        frames = 0
        for kind, a, b in _mp4_boxes(data, *top[b"moov"]):
            if kind != b"trak":
                continue
            handler, samples = None, 0
            stack = [(a, b)]
            while stack:
                for inner, x, y in _mp4_boxes(data, *stack.pop()):
                    if inner in _MP4_CONTAINERS:
                        stack.append((x, y))
                    elif inner == b"hdlr":  # version/flags, pre_defined, handler_type
                        handler = data[x + 8:x + 12]
                    elif inner in (b"stsz", b"stz2"):  # ..., sample_count at +8
                        samples += int.from_bytes(data[x + 8:x + 12], "big")
            if handler == b"vide":
                frames += samples
        return frames
    except (OSError, ValueError):
        return None


def analyze_video(analyzer, path) -> Iterator[Tuple[float, List]]:
    """Track faces through a video file: ``(timestamp_ms, faces)`` per frame.

    Each call is a new video with its own tracking state (that of
    :meth:`FaceAnalyzer.track` is left alone).

    Args:
        analyzer: a :class:`~lponet_tf.FaceAnalyzer`.
        path: video file (anything ``cv2.VideoCapture`` reads: .mp4, .avi, ...).

    Yields:
        ``(timestamp_ms, list[Face])``.

    Raises:
        ImageError: the file cannot be opened or decoded.

    Example:
        >>> for t, faces in analyzer.analyze_video("clip.mp4"):     # doctest: +SKIP
        ...     print(t, [f.pose for f in faces])
    """
    session = TrackingSession(analyzer)
    for t, rgb in iter_frames(path):
        yield t, session.step(rgb, t)
