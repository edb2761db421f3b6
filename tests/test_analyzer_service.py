"""An analyzer in a service: worker processes forked from a parent that holds it (gunicorn
``--preload``, ``multiprocessing``'s ``fork``), close() while other threads use it, pickling.

The bundled preset and the bundled astronaut photo only: no shared data needed.
"""
import multiprocessing as mp
import os
import pickle
import threading

import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT, ASTRONAUT_BOX
from lponet_tf.errors import ClosedError
from lponet_tf.inference import analyzer as analyzer_module
from lponet_tf.inference.analyzer import AnalyzerClosedError, FaceAnalyzer, FaceAnalyzerOptions

fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _blazeface_detectors(detector, seen=None) -> list:
    """The BlazeFace detectors inside ``detector`` (the default one wraps several)."""
    from lponet_tf.detection.blazeface import BlazeFaceDetector

    seen = set() if seen is None else seen
    if id(detector) in seen:
        return []
    seen.add(id(detector))
    if isinstance(detector, BlazeFaceDetector):
        return [detector]
    parts = detector if isinstance(detector, (list, tuple)) else list(vars(detector).values()) \
        if hasattr(detector, "__dict__") else []
    return [d for part in parts for d in _blazeface_detectors(part, seen)]


def _in_child(analyzer, conn):
    """Analyse the astronaut (detector and model) in a forked child; send the landmarks."""
    try:
        faces = analyzer.analyze(str(ASTRONAUT))
        conn.send(("ok", [f.landmarks for f in faces]))
    except Exception as exc:  # reported to the parent, which fails the test with it
        conn.send(("error", repr(exc)))
    conn.close()


def _forked_result(analyzer, timeout=60.0):
    parent, child = mp.Pipe(duplex=False)
    process = mp.get_context("fork").Process(target=_in_child, args=(analyzer, child))
    process.start()
    child.close()
    try:
        if not parent.poll(timeout):
            return "hung", None
        return parent.recv()
    finally:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join()


@fork_only
def test_a_child_forked_while_other_threads_hold_the_models_analyses_as_the_parent():
    """A service forks its workers while one of its threads is inside the analyzer: the
    model's and the detector's locks were copied into the child held by a thread that does
    not exist there, and its first call waited for ever. The child now has its own locks
    and rebuilds each LiteRT interpreter (the copy may be mid-run) on its first call, and
    gives the parent's faces."""
    analyzer = FaceAnalyzer.create()
    want = [f.landmarks for f in analyzer.analyze(str(ASTRONAUT))]
    locks = [analyzer.runner._lock] + [d._lock for d in _blazeface_detectors(analyzer.detector)]
    assert len(locks) >= 3  # the default detector confirms with a second BlazeFace model
    held, release = threading.Event(), threading.Event()

    def hold():
        for lock in locks:
            lock.acquire()
        held.set()
        release.wait()
        for lock in locks:
            lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        status, got = _forked_result(analyzer)
    finally:
        release.set()
        holder.join()
        analyzer.close()
    assert status == "ok", got if status == "error" else "the child hung on a lock held at fork time"
    assert len(got) == len(want) == 1
    np.testing.assert_allclose(got[0], want[0], atol=1e-4)


@fork_only
def test_a_runner_closed_before_the_fork_stays_closed_in_the_child():
    analyzer = FaceAnalyzer.create()
    analyzer.runner.close()
    status, got = _forked_result(analyzer)
    assert status == "error" and "ClosedError" in got and "was closed" in got


def test_close_while_a_call_is_in_flight_gives_analyzer_closed_error(monkeypatch):
    """close() from another thread after a call's open check, before its model run: the
    call used to fail with ``TypeError: 'NoneType' object is not callable``."""
    analyzer = FaceAnalyzer.create()
    crop_face = analyzer_module.crop_face

    def closed_meanwhile(*args, **kwargs):
        analyzer.close()
        return crop_face(*args, **kwargs)

    monkeypatch.setattr(analyzer_module, "crop_face", closed_meanwhile)
    with pytest.raises(AnalyzerClosedError, match="was closed"):
        analyzer.analyze(str(ASTRONAUT), boxes=[ASTRONAUT_BOX])


def test_a_runner_waits_for_the_call_in_flight_before_closing_and_refuses_later_ones():
    """close() takes the runner's lock: it never releases the interpreter under a running
    call; a call that was waiting for the lock then gets a typed error."""
    analyzer = FaceAnalyzer.create()
    runner = analyzer.runner
    crops = np.zeros((1, runner.metadata.input_size, runner.metadata.input_size, 3), np.float32)
    want = runner(crops)
    order = []
    with runner._lock:  # a call in flight
        closer = threading.Thread(target=lambda: (runner.close(), order.append("closed")))
        closer.start()
        closer.join(0.5)
        assert closer.is_alive() and order == []  # close() waits for it
    closer.join(10)
    assert order == ["closed"]
    with pytest.raises(ClosedError, match="was closed"):
        runner(crops)
    assert set(want) == {"heatmaps", "pose", "occlusion"}


def test_an_analyzer_is_not_pickled_and_says_what_to_send_instead():
    """A worker pool pickles what it sends: the analyzer's LiteRT interpreter failed with
    ``cannot pickle 'InterpreterWrapper'``. Its options pickle, and rebuild it."""
    with FaceAnalyzer.create() as analyzer:
        with pytest.raises(TypeError, match=r"FaceAnalyzer.*FaceAnalyzer.create\(options\)"):
            pickle.dumps(analyzer)
        options = pickle.loads(pickle.dumps(analyzer.options))
    assert isinstance(options, FaceAnalyzerOptions) and options == analyzer.options
    with FaceAnalyzer.create(options) as again:
        assert len(again.analyze(str(ASTRONAUT))) == 1
