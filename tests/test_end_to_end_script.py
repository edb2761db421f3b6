"""scripts/evaluate_end_to_end.py's per-region NME against a hand computation."""
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "scripts"))

from evaluate_end_to_end import REGIONS, region_nme  # noqa: E402


def test_region_nme_divides_each_regions_mean_error_by_the_faces_inter_ocular_distance():
    rng = np.random.default_rng(0)
    gts = rng.uniform(0, 200, (2, 68, 2))
    gts[:, 36], gts[:, 45] = [50.0, 80.0], [150.0, 80.0]       # inter-ocular 100 px
    gts[1, 45] = [250.0, 80.0]                                  # 200 px on the second face
    pred = gts.copy()
    pred[:, 0:17] += [3.0, 4.0]                                 # the jaw 5 px off
    pred[:, 48:68, 0] += 2.0                                    # the mouth 2 px off
    got = region_nme(pred, gts)
    assert set(got) == set(REGIONS) == {"jaw", "brows", "nose", "eyes", "mouth"}
    assert abs(got["jaw"] - (5.0 + 2.5) / 2) < 1e-9            # 5% and 2.5%, mean
    assert abs(got["mouth"] - (2.0 + 1.0) / 2) < 1e-9
    assert got["brows"] == got["nose"] == got["eyes"] == 0.0
    # the regions cover the 68 points once each
    covered = sorted(i for a, b in REGIONS.values() for i in range(a, b + 1))
    assert covered == list(range(68))


def test_pose_set_true_box_run_is_lponet_evaluates_figure_and_end_to_end_finds_all(formats_dir):
    """``--pose-data``'s true-box run crops as the evaluation protocol does, so on the four
    AFLW2000-3D samples its per-face pose errors are ``lponet evaluate``'s (an independent
    code path: batched runner, ``lponet_tf.evaluation``); the end-to-end run finds all four
    and the refined run is a different crop (README model card: 3.76 against 2.86 degrees)."""
    from evaluate_end_to_end import evaluate_pose_set

    from lponet_tf.data import read_dataset
    from lponet_tf.evaluation.evaluate import evaluate_records, runner_info
    from lponet_tf.inference.analyzer import FaceAnalyzer

    records = read_dataset("aflw2000", formats_dir / "aflw2000")
    analyzer = FaceAnalyzer.create(threads=2)
    got = evaluate_pose_set(analyzer, records)
    assert got["faces"] == 4 and got["missed_end_to_end"] == []
    ref = evaluate_records(records, analyzer.runner, runner_info(analyzer.runner),
                           tasks=("pose",), batch_size=4, progress=False)
    expect = {pathlib.Path(f.image_path).name: np.abs(np.asarray(f.pred_ypr) - np.asarray(f.gt_ypr))
              for f in ref.faces}
    for row in got["per_face"]:
        np.testing.assert_allclose(row["true_box_error_ypr"], expect[row["image"]], atol=0.02)
    assert got["true_box_mae"] == pytest.approx(np.mean(list(expect.values())), abs=0.01)
    assert got["true_box_refined_mae"] != got["true_box_mae"]
