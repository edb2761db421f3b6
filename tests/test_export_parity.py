"""Parity measures and reports on synthetic outputs with known differences (no TF)."""
import json

import numpy as np
import pytest

from lponet_tf.export.parity import compare_outputs, rotation_angle_deg, targets_for
from lponet_tf.export.report import render_markdown, write_report
from lponet_tf.geometry import euler_to_matrix
from lponet_tf.heatmaps import encode_heatmaps


def _outputs(points, pose_ypr, mask):
    return {
        "heatmaps": 60.0 * encode_heatmaps(points, input_size=64),
        "pose": euler_to_matrix(pose_ypr).astype(np.float32),
        "occlusion": np.stack([1.0 - mask, mask], -1).astype(np.float32),
    }


@pytest.fixture
def reference():
    rng = np.random.default_rng(0)
    points = rng.uniform(8, 56, (4, 68, 2))
    mask = (rng.uniform(size=(4, 16, 16)) > 0.5).astype(np.float32)
    return points, _outputs(points, np.zeros((4, 3)), mask), mask


def test_identical_outputs_have_zero_differences(reference):
    points, ref, _ = reference
    r = compare_outputs(ref, ref, points)
    assert r.landmark_px_max == 0 and r.pose_deg_max == 0 and r.mask_agreement == 1
    assert r.nme_delta == 0 and r.passes()


def test_known_shift_rotation_and_mask_flips_are_measured(reference):
    points, ref, mask = reference
    flipped = mask.copy()
    flipped[:, 0, :4] = 1 - flipped[:, 0, :4]  # 4 of 256 pixels per face
    cand = _outputs(points + [4.0, 0.0], np.tile([[0.0, 0.0, 1.0]], (4, 1)), flipped)
    r = compare_outputs(ref, cand, points)
    assert r.landmark_px_mean == pytest.approx(4.0, abs=0.05)  # one heatmap cell
    assert r.pose_deg_mean == pytest.approx(1.0, abs=1e-6)
    assert r.mask_agreement == pytest.approx(1 - 4 / 256)
    assert r.nme_delta > 0.1
    assert r.checks() == {"landmark_px": False, "pose_deg": False,
                          "mask_agreement": False, "nme_delta": False}


def test_euler_pose_outputs_are_compared_as_rotations(reference):
    points, ref, mask = reference
    ref = dict(ref, pose=np.zeros((4, 3), np.float32))
    cand = dict(ref, pose=np.tile(np.float32([[2.0, 0.0, 0.0]]), (4, 1)))  # 2 degrees of yaw
    assert compare_outputs(ref, cand, points).pose_deg_mean == pytest.approx(2.0, abs=1e-4)


def test_small_angles_are_precise_where_acos_is_not():
    R = euler_to_matrix([10.0, -20.0, 5.0]).astype(np.float32)
    assert rotation_angle_deg(R, R) == 0
    R2 = euler_to_matrix([10.0, -20.0, 5.001])
    assert rotation_angle_deg(R, R2) == pytest.approx(0.001, rel=0.05)


def test_targets_scale_with_input_size():
    assert targets_for(256)["landmark_px"] == 0.5
    assert targets_for(128)["landmark_px"] == 0.25
    assert targets_for(128)["pose_deg"] == 0.5


def test_report_files_hold_the_figures(tmp_path, reference):
    points, ref, _ = reference
    parity = compare_outputs(ref, ref, points).to_dict()
    record = {"label": "tflite int8", "path": "m.tflite", "size_bytes": 2**20,
              "parity": parity, "qat": None, "quantize": "int8"}
    report = {"model": "m.keras", "metadata": {"input_size": 64}, "exports": [record],
              "targets": targets_for(64), "command": "lponet export --model m.keras"}
    md_path, json_path = write_report(tmp_path / "m", report)
    text = open(md_path).read()
    assert "| tflite int8 | m.tflite | 1.00 MiB | 0.000 / 0.000 / 0.00 ✓" in text
    assert "lponet export --model m.keras" in text
    assert json.load(open(json_path))["exports"][0]["parity"]["checks"]["pose_deg"] is True
    assert render_markdown(report) == text


def test_each_check_reads_its_own_figure_at_the_bound(reference):
    """Each target against the figure it names: the landmark target against the MEAN
    distance (one point 8 px off of 272 is a mean of 8/272 px: met, while the max is 8),
    a better candidate's negative NME delta (met), a mask agreement of exactly 0.99 (met),
    and the targets of the input size the outputs come from (64: 0.125 px)."""
    points, ref, mask = reference
    moved = points.copy()
    moved[0, 0, 0] += 8.0
    r = compare_outputs(ref, _outputs(moved, np.zeros((4, 3)), mask), points)
    assert r.landmark_px_mean == pytest.approx(8 / 272, abs=0.01) and r.landmark_px_max > 7.5
    assert r.checks()["landmark_px"] and r.input_size == 64
    assert r.to_dict()["targets"]["landmark_px"] == targets_for(64)["landmark_px"] == 0.125
    worse_ref = _outputs(points + [4.0, 0.0], np.zeros((4, 3)), mask)
    better = compare_outputs(worse_ref, ref, points)
    assert better.nme_delta < -1.0 and better.checks()["nme_delta"]
    rng = np.random.default_rng(1)
    p25, m25 = rng.uniform(8, 56, (25, 68, 2)), np.ones((25, 16, 16), np.float32)
    flipped = m25.copy()
    flipped[:4, 0, :] = 0.0  # 64 of 6,400 pixels: agreement exactly 0.99
    r = compare_outputs(_outputs(p25, np.zeros((25, 3)), m25), _outputs(p25, np.zeros((25, 3)), flipped))
    assert r.mask_agreement == pytest.approx(0.99, abs=1e-12) and r.checks()["mask_agreement"]
