"""TrackingSession hands the tracker the id of the track each followed face came from.

Disc world of tests/analyzer_fixtures.py (OracleRunner + DiscDetector): exact, no trained
weights, no shared data.
"""
import numpy as np

from analyzer_fixtures import DiscDetector, OracleRunner, disc_frame
from lponet_tf.inference.analyzer import FaceAnalyzer
from lponet_tf.inference.video import TrackingSession


def test_a_face_moving_more_than_half_its_width_per_frame_keeps_its_track_id():
    """A disc (40 px wide) moving 24 px per frame: its new landmark box overlaps the last
    one by IoU 0.25, under the tracker's 0.3, so an IoU match alone would start a new track
    on every frame. The session followed it (cropped on its last landmarks and refined),
    so the face continues its track, and the detector is not run again."""
    det = DiscDetector()
    analyzer = FaceAnalyzer.create(model=OracleRunner(), detector=det, detect_every=100,
                                   smoothing=False)
    session = TrackingSession(analyzer)
    ids = []
    for i in range(6):
        x = 30 + 24 * i
        faces = session.track(disc_frame([(x, 60)], size=(120, 220)), timestamp_ms=40.0 * i)
        assert len(faces) == 1, i
        lo, hi = faces[0].landmarks.min(0), faces[0].landmarks.max(0)
        np.testing.assert_allclose((lo + hi) / 2, [x, 60], atol=2.0)
        ids.append(faces[0].track_id)
    assert ids == [1] * 6, ids
    assert session.detections_run == 1



def test_session_track_reads_frames_with_the_analyzers_channel_order():
    """options.rgb=False (OpenCV's BGR frames): TrackingSession.track, and so
    FaceAnalyzer.track, swap the channels as analyze() does. A yellow disc stored as BGR (0, 255, 255) is found (the disc detector
    reads the red channel); read as RGB it would be cyan and not found."""
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[..., 1:] = disc_frame([(60, 60)])[..., 1:]  # B = 0, G = R = disc
    analyzer = FaceAnalyzer.create(model=OracleRunner(), detector=DiscDetector(), rgb=False,
                                   smoothing=False)
    assert len(analyzer.analyze(frame)) == 1
    for faces in (TrackingSession(analyzer).track(frame, timestamp_ms=0.0),
                  analyzer.track(frame, timestamp_ms=0.0)):  # FaceAnalyzer.track: its session
        assert len(faces) == 1
        lo, hi = faces[0].landmarks.min(0), faces[0].landmarks.max(0)
        np.testing.assert_allclose((lo + hi) / 2, [60, 60], atol=2.0)


def test_a_face_whose_last_box_is_off_a_smaller_frame_does_not_pass_its_id_to_another():
    """The stream's frames shrink (an adaptive-resolution stream): the first face's last box
    lies outside the new frame and is not followed; the face still in view keeps its own
    track id (the followed faces and their tracks stay paired)."""
    analyzer = FaceAnalyzer.create(model=OracleRunner(), detector=DiscDetector(),
                                   detect_every=100, smoothing=False)
    session = TrackingSession(analyzer)
    big = disc_frame([(120, 40), (40, 120)], size=(160, 160))  # right-top found first
    first = session.track(big, timestamp_ms=0.0)
    assert len(first) == 2
    by_x = {round(float(f.landmarks[:, 0].mean()) / 40): f.track_id for f in first}
    small = np.ascontiguousarray(big[:, :80])  # the right face is gone with the frame's right half
    faces = session.track(small, timestamp_ms=40.0)
    assert len(faces) == 1
    assert faces[0].track_id == by_x[1], (faces[0].track_id, by_x)
