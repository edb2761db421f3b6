"""Tracker: a missed track is looked for where its averaged velocity puts it. Pure numpy,
no shared data, no model."""
from lponet_tf.inference.smoothing import Tracker


def _box(x):
    return [x, 0.0, x + 40.0, 40.0]


def test_a_missed_track_moves_on_with_its_last_two_steps_averaged():
    """Steps of 20, 20 then 0 px (a noisy box as the face goes behind something): its
    velocity is the last step averaged with the one before (10 px / s), not the last step
    alone (0). Missed for two frames, the face reappears at 40 + 3 * 10 = 70: IoU 0.14 with
    its last box (below the 0.3 threshold), 1.0 with the box moved on by that velocity, so
    it continues its track."""
    tracker = Tracker()
    ids = [tracker.update([_box(x)], timestamp=float(t))[0].track_id
           for t, x in enumerate([0.0, 20.0, 40.0, 40.0])]
    assert ids == [1, 1, 1, 1]
    assert tracker.update([], timestamp=4.0) == [] and tracker.missing == 1
    tracker.update([], timestamp=5.0)
    (face,) = tracker.update([_box(70.0)], timestamp=6.0)
    assert face.track_id == 1
