"""Boundaries of value checks the suite tests only away from the edge: an eval config's
batch_size 0 and enlarge 1.0, a reader's box of zero width. Pure Python, no shared data."""
import pytest

from lponet_tf.errors import DataError
from lponet_tf.evaluation.config import EvalConfigError, parse_eval_config


@pytest.mark.parametrize("top, message", [
    ({"batch_size": 0}, r"batch_size must be a whole number >= 1, got 0"),  # -4 is tested, 0 not
    ({"enlarge": 1.0}, r"enlarge must be a number in \[0, 1\), got 1.0"),   # [0, 1): 1 is out
])
def test_eval_config_edges_are_refused(top, message):
    with pytest.raises(EvalConfigError, match=message):
        parse_eval_config({**top, "datasets": {"300w": {"reader": "300w", "root": "/x"}}})


def test_eval_config_edges_inside_are_accepted():
    config = parse_eval_config({"batch_size": 1, "enlarge": 0.0,
                                "datasets": {"300w": {"reader": "300w", "root": "/x"}}})
    assert (config.batch_size, config.enlarge) == (1, 0.0)


@pytest.mark.parametrize("box", [[10, 20, 10, 60], [10, 20, 50, 20]])
def test_a_box_of_zero_width_or_height_is_refused(box):
    """check_box: "x1 <= x0 or y1 <= y0" (width / height 0 or less); a face cropped from a
    zero-width box fails later, naming no file."""
    from lponet_tf.data.readers._common import check_box

    with pytest.raises(DataError, match="has no area"):
        check_box(box, "a.txt")
    assert check_box([10, 20, 11, 21], "a.txt").tolist() == [10.0, 20.0, 11.0, 21.0]
