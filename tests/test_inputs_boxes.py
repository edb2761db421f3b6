"""User boxes (``analyze(image, boxes=...)``): a box entirely outside the image is refused
with a ValueError naming it (it used to give a "face" with score 1.0), degenerate boxes
name the offending row, and boxes from a detector that fall outside are skipped (issue 12,
item 10b)."""
import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT_BOX, astronaut_rgb, tiny_model
from lponet_tf.inference.analyzer import FaceAnalyzer
from lponet_tf.detection import Detection, box_in_image


@pytest.fixture(scope="module")
def tiny():
    return FaceAnalyzer.create(model=tiny_model(), detector=lambda image: [])


@pytest.mark.parametrize("box", [
    [600, 600, 700, 700],        # below right of the 512 x 512 image
    [-200, -200, -100, -100],    # above left
    [100, 520, 200, 600],        # below, overlapping in x only
    [512.5, 0, 600, 100],        # starts past the last pixel's outer edge (511.5)
    [1e30, 1e30, 2e30, 2e30],    # finite but absurd
])
def test_box_entirely_outside_the_image_is_refused(tiny, box):
    rgb = astronaut_rgb()
    with pytest.raises(ValueError, match=r"boxes\[1\] .* entirely outside the 512 x 512 image"):
        tiny.analyze(rgb, boxes=[ASTRONAUT_BOX, box])
    with pytest.raises(ValueError, match=r"boxes\[0\] .* entirely outside"):
        tiny.analyze(rgb, boxes=[box])


def test_boxes_reaching_past_the_border_still_give_faces(tiny):
    rgb = astronaut_rgb()
    # A face cut by the image edge is a real case: the crop is padded, as in training.
    for box in ([-40, 100, 60, 200], [450, 450, 560, 560], [511, 0, 600, 50]):
        face, = tiny.analyze_boxes(rgb, [box])  # one crop per call: no retracing
        np.testing.assert_allclose(face.box, box)
        assert np.all(np.isfinite(face.landmarks))


@pytest.mark.parametrize("box,reason", [
    ([100, 100, 100, 200], "no area"),            # zero width
    ([100, 100, 200, 100], "no area"),            # zero height
    ([200, 100, 100, 200], "no area"),            # x1 < x0 (negative width)
    ([100, np.nan, 200, 200], "NaN or inf"),
    ([100, 100, np.inf, 200], "NaN or inf"),
])
def test_degenerate_boxes_name_the_row(tiny, box, reason):
    with pytest.raises(ValueError, match=rf"boxes\[1\] = .*{reason}"):
        tiny.analyze(astronaut_rgb(), boxes=[ASTRONAUT_BOX, box])


def test_detector_boxes_outside_the_image_are_skipped(tiny):
    class Outside:
        def detect(self, image):
            return [Detection([900, 900, 990, 990], 0.9, source="boxes")]

    analyzer = FaceAnalyzer(tiny.runner, Outside(), tiny.options)
    assert analyzer.analyze(astronaut_rgb()) == []
    assert analyzer.analyze_boxes(astronaut_rgb(), [[900, 900, 990, 990], ASTRONAUT_BOX],
                                  [0.9, 0.8])[0].score == pytest.approx(0.8)


def test_box_in_image_edges():
    shape = (10, 20, 3)  # the image covers x in -0.5 .. 19.5, y in -0.5 .. 9.5
    assert box_in_image([0, 0, 1, 1], shape)
    assert box_in_image([19.4, 9.4, 30, 30], shape)
    assert box_in_image([-5, -5, -0.4, -0.4], shape)
    assert not box_in_image([19.5, 0, 30, 5], shape)
    assert not box_in_image([0, -5, 5, -0.5], shape)
    assert not box_in_image([5, 5, 5, 8], shape)
    assert not box_in_image([np.nan, 0, 5, 5], shape)
