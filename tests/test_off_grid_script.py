"""scripts/measure_off_grid_points.py: how many landmarks a config's augmentation moves off
the heatmap grid."""
import numpy as np
import pytest

from script_modules import load_script
from synthetic_faces import write_300w_folder


def _script():
    return load_script("scripts/measure_off_grid_points.py")


def test_cells_off_grid_by_hand():
    # S = 64, a 16 x 16 grid; crop x -> grid u = (x + 0.5) / 4 - 0.5, nearest cell round(u).
    pts = np.array([[-0.5, 30.0],    # u = -0.5: nearest cell 0 (ties up), the grid's edge
                    [-0.6, 30.0],    # u = -0.525: cell -1, off (encode_heatmaps' [-0.5, S - 0.5))
                    [-2.5, 30.0],    # u = -1: one cell off
                    [30.0, 63.5],    # v = 15.5: cell 16, one off the last (15)
                    [-10.5, 73.5]])  # u = -3, v = 18: 3 off in x, 3 in y -> 3
    np.testing.assert_array_equal(_script().cells_off_grid(pts, 64), [0, 1, 1, 1, 3])


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("offgrid")
    root = write_300w_folder(folder / "w300", 4)

    def write(augment: str) -> str:
        path = folder / f"cfg_{abs(hash(augment))}.yaml"
        path.write_text(
            "model: {input_size: 64, channels: 16, num_stacks: 1, hourglass_depth: 2}\n"
            f"data:\n  train:\n    - {{name: 300w, root: {root}}}\n"
            f"augment: {augment}\nocclusion: false\n")
        return str(path)

    return write


def test_plain_crops_keep_every_point_and_shifts_push_some_off(config, capsys):
    script = _script()
    assert script.main(["--config", config("false"), "--samples", "8"]) == 0
    assert "0.00% of the points are off it" in capsys.readouterr().out

    from lponet_tf.data.augment import AugmentConfig
    from lponet_tf.training.config import load_config
    from lponet_tf.training.datasets import data_plan

    plan = data_plan(load_config(config("{translation_px: 40, reference_size: 64, flip_prob: 0}")))
    result = script.measure(plan.sources[0][0], 64, plan.augment, None, samples=40, seed=0)
    assert isinstance(plan.augment, AugmentConfig)
    assert 0 < result["points_off"] < 1 and 0 < result["samples_with_a_point_off"] <= 1
    # The bins are cumulative and, with the rest, add up to every point off the grid.
    bins = [result[f"points_off_1_to_{k}_cells"] for k in script.BINS]
    assert bins == sorted(bins)
    assert bins[-1] + result["points_off_more_than_3_cells"] == pytest.approx(result["points_off"])


def test_a_missing_data_root_is_named_not_a_traceback(config, capsys, tmp_path):
    missing = tmp_path / "nowhere"
    assert _script().main(["--config", config("{}"), "--data-root", f"300w={missing}"]) == 2
    assert str(missing) in capsys.readouterr().err
