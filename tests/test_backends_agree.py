"""The same model as .keras, .tflite (fp32) and .onnx gives the same faces through FaceAnalyzer
(landmarks, pose, visibility, mask), with the project's exporters."""
import importlib.util

import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT_BOX, astronaut_rgb, tiny_model
from lponet_tf.inference.analyzer import FaceAnalyzer

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tf2onnx") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="ONNX export needs the [export] extra (tf2onnx, onnxruntime)")

# Two faces (one half outside the image) so every backend also runs a batch of 2.
BOXES = [ASTRONAUT_BOX, [400.0, 380.0, 560.0, 540.0]]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    from lponet_tf.export.onnx import export_onnx
    from lponet_tf.export.tflite import export_tflite

    folder = tmp_path_factory.mktemp("backends")
    model = tiny_model()
    files = {"keras": folder / "tiny.keras", "tflite": folder / "tiny.tflite",
             "onnx": folder / "tiny.onnx"}
    model.save(files["keras"])
    export_tflite(model, files["tflite"])
    export_onnx(model, files["onnx"])
    return files


@pytest.fixture(scope="module")
def faces(model_files):
    out = {}
    for backend, path in model_files.items():
        analyzer = FaceAnalyzer.create(model=str(path), detector=lambda image: [], threads=1)
        assert analyzer.runner.backend == backend
        out[backend] = analyzer.analyze(astronaut_rgb(), boxes=BOXES)
        analyzer.close()
    return out


@pytest.mark.parametrize("backend", ["tflite", "onnx"])
def test_backend_gives_the_same_faces_as_keras(faces, backend):
    ref, got = faces["keras"], faces[backend]
    assert len(ref) == len(got) == 2
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(a.box, b.box)
        assert np.abs(a.landmarks - b.landmarks).max() <= 0.05
        assert np.abs(a.pose - b.pose).max() <= 0.05
        np.testing.assert_allclose(a.rotation, b.rotation, atol=1e-4)
        np.testing.assert_allclose(a.visibility, b.visibility, atol=1e-3)
        np.testing.assert_allclose(a.mask, b.mask, atol=1e-3)
        np.testing.assert_allclose(a.landmark_scores, b.landmark_scores, rtol=1e-3, atol=1e-3)
        # The masks agree on which pixels are visible face (mIoU-style check).
        assert np.mean((a.mask > 0.5) == (b.mask > 0.5)) >= 0.99


def test_the_metadata_travels_with_each_file(model_files):
    for backend, path in model_files.items():
        analyzer = FaceAnalyzer.create(model=str(path), detector=lambda image: [])
        assert analyzer.input_size == 64 and analyzer.metadata.pose == "6d", backend


# -- one analyzer shared by threads (issue 12, case 4) --------------------------------------
THREADS = 4


def jittered_boxes(n: int):
    """``n`` different pairs of face boxes (so a call that got another call's crops shows)."""
    rng = np.random.default_rng(12)
    return [[np.asarray(b) + rng.uniform(-25, 25, 4) for b in BOXES] for _ in range(n)]


def run_in_threads(fn, jobs, threads: int = THREADS):
    """``fn(job)`` for every job, ``threads`` threads started together; returns the results
    in job order and the exceptions raised."""
    import threading

    results, errors = [None] * len(jobs), []
    start = threading.Barrier(threads)

    def work(k):
        start.wait()
        for i in range(k, len(jobs), threads):
            try:
                results[i] = fn(jobs[i])
            except Exception as exc:  # collected: the test reports them all
                errors.append(f"job {i}: {exc!r}"[:200])

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results, errors


def assert_same_faces(serial, concurrent):
    wrong = []
    for i, (ref, got) in enumerate(zip(serial, concurrent)):
        same = got is not None and len(ref) == len(got) and all(
            np.array_equal(a.box, b.box) and np.array_equal(a.landmarks, b.landmarks)
            and np.array_equal(a.rotation, b.rotation) and np.array_equal(a.mask, b.mask)
            for a, b in zip(ref, got))
        if not same:
            wrong.append(i)
    assert not wrong, f"{len(wrong)} of {len(serial)} concurrent calls differ from serial: {wrong}"


@pytest.mark.parametrize("backend", ["keras", "tflite", "onnx"])
def test_one_analyzer_shared_by_threads_gives_the_serial_results(model_files, backend):
    analyzer = FaceAnalyzer.create(model=str(model_files[backend]), detector=lambda image: [],
                                   threads=1)
    image = astronaut_rgb()
    # Keras calls cost ~0.2 s each on the CI machine: fewer of them.
    jobs = jittered_boxes((3 if backend == "keras" else 20) * THREADS)
    serial = [analyzer.analyze(image, boxes=boxes) for boxes in jobs]
    concurrent, errors = run_in_threads(lambda boxes: analyzer.analyze(image, boxes=boxes), jobs)
    assert not errors, errors[:3]
    assert_same_faces(serial, concurrent)


def test_the_blazeface_detector_shared_by_threads_gives_the_serial_results(model_files):
    """The whole pipeline, detector included (it holds a LiteRT interpreter too)."""
    import cv2

    analyzer = FaceAnalyzer.create(model=str(model_files["tflite"]), threads=1)
    base = astronaut_rgb()
    images = [cv2.warpAffine(base, np.float32([[s, 0, dx], [0, s, dy]]), base.shape[1::-1])
              for s, dx, dy in zip(np.linspace(0.6, 1.2, 4 * THREADS),
                                   np.linspace(-60, 80, 4 * THREADS),
                                   np.linspace(40, -30, 4 * THREADS))]
    serial = [analyzer.analyze(image) for image in images]
    assert all(len(faces) == 1 for faces in serial)  # the astronaut is found in each
    concurrent, errors = run_in_threads(analyzer.analyze, images)
    assert not errors, errors[:3]
    assert_same_faces(serial, concurrent)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_an_onnx_runner_in_a_forked_child_opens_its_session_again(model_files):
    """A forked child gets its own onnxruntime session (read again from the file: the
    parent's may be mid-run, its thread pool is not in the child) and the parent's faces."""
    import multiprocessing as mp

    analyzer = FaceAnalyzer.create(model=str(model_files["onnx"]), detector=lambda image: [], threads=1)
    want = analyzer.analyze(astronaut_rgb(), boxes=BOXES)
    parent_session = analyzer.runner._session
    parent, child = mp.Pipe(duplex=False)

    def in_child():
        reopened = analyzer.runner._forked
        faces = analyzer.analyze(astronaut_rgb(), boxes=BOXES)
        child.send((reopened, analyzer.runner._session is not parent_session,
                    [f.landmarks for f in faces]))

    process = mp.get_context("fork").Process(target=in_child)
    process.start()
    try:
        assert parent.poll(60), "the child gave no faces"
        reopened, new_session, got = parent.recv()
    finally:
        process.join(10)
        analyzer.close()
    assert reopened and new_session and len(got) == len(want) == 2
    for a, b in zip(want, got):
        np.testing.assert_allclose(a.landmarks, b, atol=1e-4)
