"""FaceAnalyzer.track and analyze_video: detection reuse, loss, several faces, smoothing,
video files. The disc world (OracleRunner + DiscDetector) makes tracking exact without
trained weights; the astronaut video checks the file path end to end."""

import dataclasses
from typing import Optional

import numpy as np
import pytest

from analyzer_fixtures import (
    ASTRONAUT_BOX, DiscDetector, OracleRunner, disc_frame, shifted_astronaut, tiny_model,
    write_video,
)
from lponet_tf.errors import ImageError
from lponet_tf.inference.analyzer import REFINE_PASSES, AnalyzerClosedError, FaceAnalyzer
from lponet_tf.detection import CallableDetector, Detection, ZoomOutDetector
from lponet_tf.inference.smoothing import SmoothingError
from lponet_tf.inference.video import TrackingSession, iter_frames


def disc_analyzer(**options):
    det = DiscDetector()
    return FaceAnalyzer.create(model=OracleRunner(), detector=det, **options), det


def centre(face):
    lo, hi = face.landmarks.min(0), face.landmarks.max(0)
    return (lo + hi) / 2


def test_track_reuses_landmark_boxes_and_follows_a_moving_face():
    analyzer, det = disc_analyzer(detect_every=5, smoothing=False)
    for i in range(9):
        faces = analyzer.track(disc_frame([(50 + 3 * i, 60)]), timestamp_ms=40.0 * i)
        assert len(faces) == 1 and faces[0].track_id == 1
        np.testing.assert_allclose(centre(faces[0]), [50 + 3 * i, 60], atol=1.5)
    assert det.calls == 2   # frames 0 and 5; the others reuse the previous landmarks


def test_track_refines_a_face_that_moved_out_of_last_frames_crop():
    """A disc moving 30% of its width per frame, then stopping: the previous frame's landmark
    box cuts it, and the oracle's landmarks would shrink onto the part in the crop (40 -> 24
    px wide without refinement). Refined on its new landmark box, as analyze() refines a
    detector box, it keeps its size and position, its track id, and the detector is not
    needed. Once it has moved the same way twice (frame 3 on) it is cropped where its motion
    puts it (one run); where it stops, that crop overshoots once and is refined."""
    analyzer, det = disc_analyzer(detect_every=100, smoothing=False)
    runner = analyzer.runner
    xs = [40 + 12 * i for i in range(8)] + [124] * 3
    for i, x in enumerate(xs):
        frame = disc_frame([(x, 60)], size=(120, 200))
        calls = len(runner.calls)
        faces = analyzer.track(frame, timestamp_ms=40.0 * i)
        assert len(faces) == 1 and faces[0].track_id == 1
        np.testing.assert_allclose(centre(faces[0]), [x, 60], atol=1.5)
        width = np.ptp(faces[0].landmarks, axis=0)
        np.testing.assert_allclose(width, [40, 40], atol=2.0)
        runs = len(runner.calls) - calls
        if i in (1, 2, 8):  # the tracked crop cuts the face, then at most REFINE_PASSES more
            assert 2 <= runs <= 1 + REFINE_PASSES, i
        elif i:
            assert runs == 1, i
    assert det.calls == 1


def test_track_does_not_refine_a_still_face_and_refine_off_skips_it():
    """The refinement costs nothing on a face that stays in its crop: one network run per
    frame; with refine=False the moving face is not refined either (one run per frame)."""
    for refine, step in ((True, 0), (False, 12)):
        analyzer, det = disc_analyzer(detect_every=100, smoothing=False, refine=refine)
        for i in range(6):
            analyzer.track(disc_frame([(40 + step * i, 60)], size=(120, 200)), 40.0 * i)
        assert analyzer.runner.calls == [1] * 6 and det.calls == 1, (refine, analyzer.runner.calls)


def test_two_tracks_refined_onto_one_face_are_one_face():
    """A second track on the right part of the same disc (as a half face beside a face, which
    the refinement takes onto that face): after the refinement both are the disc, and only
    the first track is kept (find_faces' one face per person); the detector then looks again."""
    import dataclasses

    from analyzer_fixtures import disc_landmarks

    analyzer, det = disc_analyzer(detect_every=100, smoothing=False)
    frame = disc_frame([(60, 60)], size=(120, 200))
    [face] = analyzer.track(frame, 0.0)
    half = np.zeros((120, 200), np.uint8)
    half[40:81, 62:81] = 255  # the right half of the disc's box
    session = analyzer._session
    session.previous = [face, dataclasses.replace(face, landmarks=disc_landmarks(half))]
    faces = analyzer.track(frame, 40.0)
    assert [f.track_id for f in faces] == [1] and det.calls == 2
    np.testing.assert_allclose(centre(faces[0]), [60, 60], atol=1.5)


def test_lost_face_triggers_detection_and_new_face_gets_new_id():
    analyzer, det = disc_analyzer(detect_every=100, smoothing=False)
    assert len(analyzer.track(disc_frame([(50, 60)]), 0)) == 1
    assert analyzer.track(disc_frame([]), 40) == []     # gone: lost, detector finds nothing
    assert det.calls == 2
    assert analyzer.track(disc_frame([]), 80) == []     # nothing tracked: detect again
    assert det.calls == 3
    faces = analyzer.track(disc_frame([(110, 60)]), 120 + 1000)
    assert len(faces) == 1 and faces[0].track_id == 2
    np.testing.assert_allclose(centre(faces[0]), [110, 60], atol=1.5)


def test_a_face_hidden_for_frames_comes_back_with_its_id_where_its_motion_put_it():
    """Two discs; the second, moving 8 px a frame, is gone on frames 2 and 3 (behind
    something) and back on frame 4, 24 px on from where it was last seen (IoU 0.08 with that
    box). The detector runs on every frame while its track is missing (not only at
    detect_every), and the tracker looks for it where its motion puts it: id 2 again."""
    analyzer, det = disc_analyzer(detect_every=6, smoothing=False)
    ids, detected = [], []
    for i in range(10):
        discs = [(30, 40)] + ([] if i in (2, 3) else [(50 + 8 * i, 80)])
        calls = det.calls
        faces = analyzer.track(disc_frame(discs, radius=14), 33.0 * i)
        ids.append(sorted(f.track_id for f in faces))
        detected += [i] if det.calls > calls else []
    assert ids == [[1, 2], [1, 2], [1], [1], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2]]
    # frames 0, 2 (lost: the schedule starts again), 3 and 4 (its track missing: looks that
    # leave the schedule alone), then 8 = 2 + detect_every
    assert detected == [0, 2, 3, 4, 8]


def test_several_faces_keep_their_ids_and_new_ones_are_added_on_redetection():
    analyzer, det = disc_analyzer(detect_every=3, smoothing=False)
    ids = []
    for i in range(6):
        discs = [(30 + 2 * i, 40), (120 - 2 * i, 80)] + ([(80, 30)] if i >= 2 else [])
        faces = analyzer.track(disc_frame(discs, radius=14), 33.0 * i)
        ids.append(sorted(f.track_id for f in faces))
    # The third disc appears at frame 2 and is picked up by the periodic detection (frame 3).
    assert ids == [[1, 2], [1, 2], [1, 2], [1, 2, 3], [1, 2, 3], [1, 2, 3]]
    analyzer.reset()
    assert [f.track_id for f in analyzer.track(disc_frame([(30, 40)], radius=14), 0)] == [1]


def test_smoothing_reduces_jitter_of_a_still_face():
    rng = np.random.default_rng(0)
    jitter = rng.normal(0, 1.0, (30, 2))
    motion = {}
    for smoothing in (False, True):
        analyzer, _ = disc_analyzer(smoothing=smoothing, detect_every=1000)
        centres = [centre(analyzer.track(disc_frame([(80 + dx, 60 + dy)]), 33.3 * i)[0])
                   for i, (dx, dy) in enumerate(jitter)]
        motion[smoothing] = np.mean(np.linalg.norm(np.diff(centres, axis=0), axis=1))
    assert motion[True] < 0.5 * motion[False], motion


def test_timestamps_must_increase():
    analyzer, _ = disc_analyzer()
    analyzer.track(disc_frame([(50, 60)]), 100)
    with pytest.raises(SmoothingError, match="strictly increase"):
        analyzer.track(disc_frame([(50, 60)]), 100)
    analyzer.reset()
    assert len(analyzer.track(disc_frame([(50, 60)]), 0)) == 1


def test_a_session_per_stream_follows_each_and_reads_frames_as_track_does():
    """Two streams on one analyzer: each session keeps its own faces, ids and timestamps,
    and takes what ``analyzer.track`` takes (here BGR float frames with ``rgb=False``),
    giving the faces ``analyzer.track`` gives."""
    analyzer, _ = disc_analyzer(detect_every=5, smoothing=False, rgb=False)
    alone, _ = disc_analyzer(detect_every=5, smoothing=False, rgb=False)
    left, right = TrackingSession(analyzer), TrackingSession(analyzer)
    for i in range(6):
        a = disc_frame([(40 + 3 * i, 60)])[:, :, ::-1] / 255.0  # BGR, float 0..1
        b = disc_frame([(90, 50 + 2 * i), (30, 30)])[:, :, ::-1] / 255.0
        got_a, got_b = left.track(a, 40.0 * i), right.track(b, 10.0 * i)
        assert len(got_a) == 1 and len(got_b) == 2
        np.testing.assert_allclose(centre(got_a[0]), [40 + 3 * i, 60], atol=1.5)
        want = alone.track(a, 40.0 * i)
        np.testing.assert_allclose(got_a[0].landmarks, want[0].landmarks, atol=1e-6)
    assert {f.track_id for f in got_b} == {1, 2} and got_a[0].track_id == 1
    with pytest.raises(SmoothingError, match="strictly increase"):
        left.track(a, 0.0)  # its own clock, not the other stream's
    analyzer.close()
    with pytest.raises(AnalyzerClosedError):
        right.track(b, 100.0)


def test_analyze_video_on_a_shifted_astronaut(tmp_path):
    """The bundled astronaut moved 3 px per frame, written with cv2.VideoWriter."""
    path = write_video(tmp_path / "astronaut.avi", shifted_astronaut(6), fps=25)

    reference = shifted_astronaut(1)[0][:, :, 1].astype(float)

    class Shifted:  # the face box moved by the frame's shift (found by matching); counts calls
        calls = 0

        def detect(self, image):
            Shifted.calls += 1
            err = [np.abs(image[:, 40 + s:-40, 1] - reference[:, 40:-40 - s]).mean()
                   for s in range(30)]
            shift = int(np.argmin(err))
            return [Detection(np.add(ASTRONAUT_BOX, [shift, 0] * 2), 0.9, source="boxes")]

    analyzer = FaceAnalyzer.create(model=tiny_model(), detector=Shifted(),
                                   min_tracking_confidence=0.0, detect_every=3)
    times, counts = [], []
    for t, faces in analyzer.analyze_video(path):
        times.append(t)
        counts.append(len(faces))
    assert times == pytest.approx([0, 40, 80, 120, 160, 200])
    assert counts == [1] * 6 and Shifted.calls == 2


def test_default_detector_tracks_the_astronaut_video(tmp_path):
    path = write_video(tmp_path / "astronaut.avi", shifted_astronaut(4), fps=25)
    analyzer = FaceAnalyzer.create(model=tiny_model(), min_tracking_confidence=0.0)
    results = list(analyzer.analyze_video(path))
    assert [len(f) for _, f in results] == [1, 1, 1, 1]
    assert {f[0].track_id for _, f in results} == {1}


def test_trained_preset_follows_the_shift(tmp_path):
    from lponet_tf.presets import get_preset
    assert get_preset("lponet_lite").has_weights, "the lponet_lite weights are committed"
    path = write_video(tmp_path / "astronaut.avi", shifted_astronaut(8, step=3), fps=25)
    analyzer = FaceAnalyzer.create(smoothing=False)
    centres = [faces[0].landmarks.mean(0) for _, faces in analyzer.analyze_video(path)]
    shift = np.diff(np.array(centres), axis=0)
    np.testing.assert_allclose(shift.mean(0), [3, 0], atol=1.0)


@pytest.mark.parametrize("share", [0.25, 0.4])
def test_trained_preset_keeps_a_fast_face_on_its_track(share):
    """The astronaut moving a quarter (or 40%) of its face's width per frame: track() keeps
    one track id and its landmarks stay those analyze() finds on each frame. Before tracked
    faces were refined, the previous frame's box cut the face and landmarks collapsed into
    the crop (up to 58 px from analyze's at 25%; at 40% the face was lost on the 4th frame
    and came back with new ids)."""
    from analyzer_fixtures import astronaut_rgb

    img = astronaut_rgb()
    step = share * (ASTRONAUT_BOX[2] - ASTRONAUT_BOX[0])
    analyzer = FaceAnalyzer.create(smoothing=False)
    for k in range(6):
        frame = np.full((img.shape[0], img.shape[1] + 240, 3), 100, np.uint8)
        x = int(round(10 + step * k))
        frame[:, x:x + img.shape[1]] = img
        faces, ref = analyzer.track(frame, 40.0 * k), analyzer.analyze(frame)
        assert [f.track_id for f in faces] == [1], (k, [f.track_id for f in faces])
        err = np.abs(faces[0].landmarks - ref[0].landmarks)
        assert err.max() < 5.0 and err.mean() < 1.0, (k, err.max(), err.mean())
    assert analyzer._session.detections_run == 1


@pytest.mark.parametrize("background", [0, 90, 255, "painted"])
def test_trained_preset_lets_go_of_a_face_that_left(background):
    """The person leaves: the frame holds only background where the face was. With the old
    default (0.2) the bundled model's landmarks on such a crop (mean score 0.21-0.31) kept
    it tracked for the whole clip, its box drifting over the background."""
    from analyzer_fixtures import astronaut_rgb

    face = astronaut_rgb()
    if background == "painted":  # the photo without the person's face (box of 0.8 x its side)
        gone = face.copy()
        x0, y0, x1, y1 = np.asarray(ASTRONAUT_BOX, int)
        gone[y0 - 40:y1 + 20, x0 - 30:x1 + 30] = gone[:y0 - 40].mean((0, 1)).astype(np.uint8)
    else:
        gone = np.full_like(face, background)
    analyzer = FaceAnalyzer.create()
    for i in range(3):
        assert len(analyzer.track(face, 40.0 * i)) == 1
    counts = [len(analyzer.track(gone, 40.0 * (3 + i))) for i in range(12)]
    assert counts == [0] * 12, counts   # from the first frame without the face
    assert len(analyzer.track(face, 40.0 * 15)) == 1   # and found again when it returns


def test_unreadable_videos_are_image_errors(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 50)
    for path in (bad, tmp_path / "missing.avi"):
        with pytest.raises(ImageError, match=str(path.name)):
            list(iter_frames(path))


@pytest.mark.parametrize("every, zoomed_frames", [(3, [0, 3, 6, 8, 9]), (1, [0, 1, 2, 3, 4, 5, 6, 8, 9])])
def test_track_runs_the_zoom_out_pass_on_one_face_free_frame_in_zoom_out_every(every, zoomed_frames):
    first, second = DiscDetector(), DiscDetector()
    detector = ZoomOutDetector(CallableDetector(first), CallableDetector(second), fill=0)
    analyzer = FaceAnalyzer.create(model=OracleRunner(), detector=detector, smoothing=False,
                                   detect_every=100, zoom_out_every=every)
    scenes = [[]] * 7 + [[(60, 60)]] + [[]] * 2    # a face at frame 7 only
    zoomed = []
    for i, discs in enumerate(scenes):
        before = second.calls
        faces = analyzer.track(disc_frame(discs), 40.0 * i)
        assert len(faces) == len(discs)
        if second.calls > before:
            zoomed.append(i)
    # every frame starts with no tracked face but frame 8 (the face of frame 7, lost there:
    # the detector runs, its second look too); frame 9 is the first face-free one again
    assert first.calls == len(scenes) and zoomed == zoomed_frames
    assert analyzer._session.faceless_frames == 1


def test_track_runs_the_candidate_check_only_while_no_face_is_tracked_one_frame_in_n():
    """find_faces gets check_candidates=True exactly on the detection frames with no tracked
    face: the first, then one in candidate_check_every (2 here)."""
    analyzer, _ = disc_analyzer(smoothing=False, detect_every=2, candidate_check_every=2)
    original, frame, calls = analyzer.find_faces, [0], []

    def spy(rgb, **kw):
        calls.append((frame[0], kw["check_candidates"]))
        return original(rgb, **kw)

    analyzer.find_faces = spy
    scenes = [[]] * 3 + [[(60, 60)]] * 4 + [[]] * 3  # a face in frames 3-6
    tracked = []
    for i, discs in enumerate(scenes):
        frame[0] = i
        tracked.append(bool(analyzer._session and analyzer._session.previous))
        assert len(analyzer.track(disc_frame(discs), 40.0 * i)) == len(discs)
    # face-free frames 0-2: the first and then one in 2; frame 7 loses the face (the detector
    # runs with the track still held: no check), then frame 8 is the first face-free one again
    assert [i for i, check in calls if check] == [0, 2, 8]
    assert any(tracked[i] and not check for i, check in calls)


def test_detect_skips_the_zoom_out_pass_only_when_the_first_pass_finds_nothing():
    first, second = DiscDetector(), DiscDetector()
    zoom = ZoomOutDetector(CallableDetector(first), CallableDetector(second), fill=0, rerun_below=0.95)
    analyzer = FaceAnalyzer.create(model=OracleRunner(), detector=zoom)
    empty, face = disc_frame([]), disc_frame([(60, 60)])
    assert analyzer.detect(empty) == [] and (first.calls, second.calls) == (1, 1)
    assert analyzer.detect(empty, zoom_out_when_empty=False) == [] and (first.calls, second.calls) == (2, 1)
    # an unsure face (0.9 < 0.95) still gets the second look
    assert len(analyzer.detect(face, zoom_out_when_empty=False)) == 1 and (first.calls, second.calls) == (3, 2)
    # a detector without a second look runs as it is
    plain, det = disc_analyzer()
    assert len(plain.detect(face, zoom_out_when_empty=False)) == 1 and det.calls == 1


@dataclasses.dataclass(frozen=True)
class _Boxed:
    box: np.ndarray
    track_id: Optional[int] = None
    confidence: float = 0.5


def _f(box, track_id=None, confidence=0.5):
    return _Boxed(np.asarray(box, np.float64), track_id, confidence)


def test_merge_keeps_an_agreeing_track_and_replaces_a_drifted_one():
    tracked = _f([0, 0, 100, 100], track_id=7)
    agree = _f([20, 0, 120, 100])     # IoU 80/120 = 0.67 >= 0.5: the track is kept
    got = TrackingSession._merge([tracked], [agree])
    assert len(got) == 1 and got[0] is tracked
    drifted = _f([40, 0, 140, 100], confidence=0.6)   # IoU 60/140 = 0.43: same face (>= 0.3), drifted
    got = TrackingSession._merge([tracked], [drifted])
    # the detection's face, surer than the track's, continuing the track it replaces
    assert len(got) == 1 and np.array_equal(got[0].box, drifted.box) and got[0].track_id == 7
    # a detection whose face is no surer (a box across two overlapping faces) leaves it, and
    # is not a new face either
    for weaker in (_f([40, 0, 140, 100], confidence=0.4), _f([40, 0, 140, 100], confidence=0.5)):
        got = TrackingSession._merge([tracked], [weaker])
        assert len(got) == 1 and got[0] is tracked


def test_merge_a_detection_centred_in_a_track_is_that_face():
    tracked, small = _f([0, 0, 100, 100], track_id=3), _f([40, 40, 60, 60], confidence=0.7)  # IoU 0.04, centre inside
    got = TrackingSession._merge([tracked], [small])  # the track drifted: replaced, no 2nd face
    assert len(got) == 1 and np.array_equal(got[0].box, small.box) and got[0].track_id == 3


def test_a_followed_face_is_cropped_ahead_only_for_steady_motion_between_5_and_50_percent():
    """The moved-on crop box: its last landmark box plus velocity x elapsed time, when the face
    moves steadily and that shift is 5%..50% of the box's width (a still face's jitter, or a
    jump that was a new detection's box, leave the box where it was), and not onto another
    face's box."""
    Followed = dataclasses.make_dataclass("Followed", ["landmarks", "track_id"])
    face = Followed(np.array([[100.0, 50.0], [140.0, 90.0]]), 4)  # box 40 px wide
    session = TrackingSession(analyzer=None)
    session.centres[4] = (1.0, np.array([120.0, 70.0]))
    session.steady.add(4)
    for velocity, dt, shift in (([300.0, 0.0], 0.02, [6.0, 0.0]),     # 15%: ahead
                                ([30.0, 40.0], 0.04, [1.2, 1.6]),     # 2 px of 40: 5%, ahead
                                ([20.0, 0.0], 0.04, [0.0, 0.0]),      # 0.8 px: 2%, jitter
                                ([600.0, 0.0], 0.04, [0.0, 0.0])):    # 24 px: 60%, a jump
        session.velocities[4] = np.array(velocity)
        (got,) = session._crop_boxes_now([face], 1.0 + dt)
        np.testing.assert_allclose(got, [100 + shift[0], 50 + shift[1], 140 + shift[0], 90 + shift[1]],
                                   atol=1e-4, err_msg=str(velocity))
        assert got.dtype == np.float32
    session.velocities[4] = np.array([300.0, 0.0])
    session.steady.clear()  # moved, but not the same way twice: the landmark box
    np.testing.assert_allclose(session._crop_boxes_now([face], 1.02)[0], [100, 50, 140, 90])
    session.steady.add(4)
    # a still neighbour 4 px to the right: the box moved 6 px would overlap it
    neighbour = Followed(np.array([[144.0, 50.0], [184.0, 90.0]]), 5)
    got = session._crop_boxes_now([face, neighbour], 1.02)
    np.testing.assert_allclose(got, [[100, 50, 140, 90], [144, 50, 184, 90]])
    far = Followed(np.array([[150.0, 50.0], [190.0, 90.0]]), 5)  # 10 px away: ahead
    np.testing.assert_allclose(session._crop_boxes_now([face, far], 1.02)[0], [106, 50, 146, 90])
    # cropped on its last box beside the neighbour, it is still expected where it moved to
    np.testing.assert_allclose(session._expected_boxes([face, neighbour], 1.02),
                               [[106, 50, 146, 90], [144, 50, 184, 90]])
    # crop_ahead=False (the benchmarks' "off" column): the landmark box, moving or not
    session.crop_ahead = False
    np.testing.assert_allclose(session._crop_boxes_now([face, far], 1.02)[0], [100, 50, 140, 90])
    assert TrackingSession(analyzer=None, crop_ahead=False).crop_ahead is False


def test_steady_means_the_last_two_motions_within_60_degrees():
    Followed = dataclasses.make_dataclass("Followed", ["landmarks", "track_id"])
    Snap = dataclasses.make_dataclass("Snap", ["track_id"])
    session = TrackingSession(analyzer=None)

    def at(x, y, t, moved=True):
        face = Followed(np.array([[x, y], [x + 40.0, y + 40.0]]), 1)
        session._remember_motion([face], [Snap(1)], {id(face)} if moved else set(), t)

    at(0, 0, 0.0)
    at(10, 0, 0.1)                     # one motion: no direction to agree with yet
    assert session.steady == set() and np.allclose(session.velocities[1], [100, 0])
    at(20, 5, 0.2)                     # 27 degrees from the last
    assert session.steady == {1}
    at(20, 15, 0.3)                    # (0, 10) after (10, 5): 63 degrees, not steady
    assert session.steady == set()
    at(25, 25, 0.4)                    # (5, 10) after (0, 10): 27 degrees
    assert session.steady == {1}
    at(200, 25, 0.5, moved=False)      # a detection's box replaced it: no velocity
    assert session.steady == set() and 1 not in session.velocities


def test_two_tracks_on_one_face_are_judged_where_each_was_expected(monkeypatch):
    """A disc moving steadily right (6 px a frame) passes above-left of a still one: once its
    moved-on box would touch the still disc's box it is cropped on its last box, but the
    one-face-per-person choice weighs its landmarks against where its motion put it (a track
    that followed a face reads as on it, however far it moved since its crop)."""
    from lponet_tf.inference import video

    judged, cropped = [], []
    choose = video._one_face_per_person
    monkeypatch.setattr(video, "_one_face_per_person", lambda faces, boxes: (
        judged.append({f.track_id: np.asarray(boxes[id(f)]) for f in faces}), choose(faces, boxes))[1])
    analyzer, _ = disc_analyzer(detect_every=100, smoothing=False, refine=False)
    analyze_boxes = analyzer.analyze_boxes
    monkeypatch.setattr(analyzer, "analyze_boxes", lambda rgb, boxes, scores=None: (
        cropped.append(np.asarray(boxes)), analyze_boxes(rgb, boxes, scores))[1])
    for k in range(7):
        faces = analyzer.track(disc_frame([(40 + 6 * k, 45), (110, 75)]), timestamp_ms=40.0 * k)
    assert sorted(f.track_id for f in faces) == [1, 2]
    moving = min(faces, key=lambda f: centre(f)[0])
    np.testing.assert_allclose(centre(moving), [76, 45], atol=3.0)  # unrefined: the crop cuts it
    crop = min(cropped[-1], key=lambda b: b[0])  # frame 6: cropped where it was (x = 70) ...
    np.testing.assert_allclose((crop[0] + crop[2]) / 2, 70, atol=1.5)
    # ... judged where its last motion put it (6 px a frame, read about 5 on unrefined crops)
    shift = judged[-1][moving.track_id] - crop
    np.testing.assert_allclose(shift[2:], shift[:2], atol=1e-3)  # moved, not resized
    assert 3.0 < shift[0] < 8.0 and abs(shift[1]) < 0.5, shift


def test_of_two_tracks_on_one_face_the_one_that_stayed_on_its_crop_keeps_it():
    """A face passing behind another: both tracks' refined landmarks end on the front face.
    The track whose landmarks stayed on its crop (the front face's own) keeps it, whichever
    came first in the list (the first used to win, handing the front face the back one's id)."""
    from lponet_tf.inference.video import _one_face_per_person

    Face_ = dataclasses.make_dataclass("Face_", ["landmarks", "confidence", "track_id"])
    front = np.array([[100.0, 50.0], [140.0, 90.0]])
    behind = Face_(front + 1.0, 0.8, 1)      # track 1 was cropped 30 px to the left
    own = Face_(front, 0.8, 2)               # track 2 was cropped on the front face
    other = Face_(front + [300.0, 0.0], 0.8, 3)
    crops = {id(behind): np.array([70.0, 50.0, 110.0, 90.0], np.float32),
             id(own): np.array([101.0, 50.0, 141.0, 90.0], np.float32),
             id(other): np.array([400.0, 50.0, 440.0, 90.0], np.float32)}
    assert [f.track_id for f in _one_face_per_person([behind, other, own], crops)] == [3, 2]
    assert [f.track_id for f in _one_face_per_person([own, behind, other], crops)] == [2, 3]
