"""scripts/evaluate_end_to_end.py's per-region NME against a hand computation."""
import pathlib
import sys

import numpy as np

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
