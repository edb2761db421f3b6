"""The candidate check (lponet_tf.inference.candidate_check): when the detector finds no face,
the network judges the back model's low-score candidates; kept only where it sees a
confident, partly hidden face."""
from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

from analyzer_fixtures import astronaut_rgb
from lponet_tf.detection import BlazeFaceDetector, BoxesDetector, as_detector, landmark_box
from lponet_tf.inference import candidate_check as C
from script_modules import load_script


def _face(confidence, visible, box=(0, 0, 10, 10)):
    x0, y0, x1, y1 = box
    lm = np.stack([np.linspace(x0, x1, 68), np.linspace(y0, y1, 68)], 1)
    return types.SimpleNamespace(confidence=confidence, visibility=np.full(68, visible, np.float32),
                                 landmarks=lm)


def test_candidate_model_is_the_default_detectors_back_model():
    det = as_detector()
    model = C.candidate_model(det)
    assert isinstance(model, BlazeFaceDetector) and model.model == "back"
    assert model is det.detector.primary  # the confirmed detector's first model, not a copy
    # blazeface_auto runs short first, then back: the back model is still found
    assert C.candidate_model(as_detector("blazeface_auto")).model == "back"
    for other in ("blazeface_short", "blazeface_full"):
        assert C.candidate_model(as_detector(other)) is None
    assert C.candidate_model(BoxesDetector([[0, 0, 10, 10]])) is None


def test_kept_rule_is_confident_and_partly_hidden_at_the_bounds():
    assert C.is_occluded_face(_face(C.MIN_CONFIDENCE, C.MAX_VISIBLE - 1e-3))
    assert not C.is_occluded_face(_face(C.MIN_CONFIDENCE - 1e-3, 0.2))  # not confident
    assert not C.is_occluded_face(_face(0.9, C.MAX_VISIBLE))  # the network sees a whole face
    bad = _face(0.9, 0.2)
    bad.landmarks[3, 0] = np.nan
    assert not C.is_occluded_face(bad)


def test_distinct_faces_keeps_the_more_confident_of_one_face():
    a, b = _face(0.5, 0.3, (0, 0, 100, 100)), _face(0.6, 0.3, (5, 5, 105, 105))
    far = _face(0.55, 0.3, (300, 0, 400, 100))
    kept = C.distinct_faces([a, far, b])
    assert kept == [b, far]


@pytest.fixture(scope="module")
def analyzer():
    from lponet_tf.inference.analyzer import FaceAnalyzer

    with FaceAnalyzer.create(threads=2) as an:
        yield an


#: Masked-300W validation faces (``benchmark_sets.build_masked_300w``, seed 0) that the default
#: detector misses and the check finds (docs/detection.md, "The candidate check").
MISSED = (("270814102_2.jpg", "any"), ("2120936774_1.jpg", "plain"), ("130893906_1.jpg", "plain"))


def _masked_photo(records, name, style, tmp_path):
    """Face ``name`` of the sorted 300W records as ``build_masked_300w(seed=0, style)`` writes it
    (the same per-file seed, the same JPEG), and its true landmarks."""
    from lponet_tf.data.benchmark_sets import _write_rgb, draw_mask
    from lponet_tf.data.sample import read_record_image

    i = next(k for k, r in enumerate(records) if r.image_path.endswith("/" + name))
    rec = records[i]
    image = draw_mask(read_record_image(rec.image_path), rec.landmarks, np.random.default_rng([0, i]), style)
    path = tmp_path / f"{style}_{name}"
    _write_rgb(path, image)
    return read_record_image(str(path)), np.asarray(rec.landmarks)


def test_masked_faces_the_detector_misses_are_found_only_with_the_check(analyzer, faces_300w, tmp_path):
    """Real masked faces: where the default detector finds nothing, the check finds the face
    (its landmark box on the true one, IoU >= 0.5) within 2 candidates x (1 + 3 refinement)
    network runs, and the analyzer without the check finds nothing."""
    from lponet_tf.data import read_dataset
    from lponet_tf.detection import matching_face
    from lponet_tf.evaluation.end_to_end import CountingRunner
    from lponet_tf.inference.analyzer import FaceAnalyzer

    records = sorted(read_dataset("300w", str(faces_300w)), key=lambda r: r.image_path)
    counter = CountingRunner(analyzer.runner)
    counted = FaceAnalyzer(counter, analyzer.detector, analyzer.options)
    off = FaceAnalyzer(analyzer.runner, analyzer.detector,
                       dataclasses.replace(analyzer.options, candidate_check=False))
    missed = found = 0
    for name, style in MISSED:
        image, truth = _masked_photo(records, name, style, tmp_path)
        if analyzer.detect(image):
            continue  # another LiteRT / OpenCV may score it higher: nothing to check then
        missed += 1
        before = counter.crops
        faces = counted.analyze(image)
        assert counter.crops - before <= C.MAX_CANDIDATES * 4
        assert off.analyze(image) == []
        face, _ = matching_face(faces, landmark_box(truth))
        found += face is not None
        assert all(C.is_occluded_face(f) for f in faces)
    assert missed >= 2, "these faces must defeat the detector for the test to mean anything"
    assert found >= missed - 1, f"the check found {found} of the {missed} faces the detector missed"


def test_a_face_free_image_gives_no_face_and_the_detector_path_is_unchanged(analyzer):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert analyzer.analyze(noise) == []
    # with a face the detector finds, the result is the detector's (the check never runs)
    astro = astronaut_rgb()
    model = C.candidate_model(analyzer.detector)
    calls = []
    original = model.infer
    model.infer = lambda image: calls.append(1) or original(image)
    try:
        faces = analyzer.analyze(astro)
    finally:
        del model.infer
    assert len(faces) == 1 and faces[0].score >= 0.7
    assert len(calls) == 1  # the detector's own inference only: no second one for candidates


def test_the_figure_script_draws_a_face_only_the_check_finds(tmp_path):
    """scripts/candidate_check_figure.py: two panels (detector alone, with the check) and an
    existing output refused without --overwrite."""

    import cv2

    from lponet_tf.fileio import OutputError

    script = load_script("scripts/candidate_check_figure.py")
    out = tmp_path / "figure.png"
    assert script.main(["--output", str(out)]) == 0
    picture = cv2.imread(str(out))
    assert picture.shape[1] == 2 * 420 + 8
    # the right panel (the check's face drawn) differs from the left (nothing drawn)
    left, right = picture[:, :420].astype(int), picture[:, 428:].astype(int)
    assert np.abs(left - right).mean() > 5
    with pytest.raises(OutputError):
        script.main(["--output", str(out)])
