"""The tracking-scenario benchmark (benchmarks/bench_tracking_scenarios.py): its scenes put the
faces where they say, and ``--ahead both`` measures with and without crops ahead in one run
(real 300W faces)."""
from __future__ import annotations

import pathlib
import re
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_tracking_scenarios as bench  # noqa: E402

ROW = re.compile(r"^\| (?P<name>\w+) \| (?P<ahead>on|off) \| [\d.]+% \([\d.]+%\) \| \d+ of (?P<scored>\d+) "
                 r"\| \d+ \| (?P<ids>[\d.]+) \((?P<most>\d+)\) \| \d+ \(\d+\) \| (?P<runs>[\d.]+) "
                 r"\| (?P<detections>[\d.]+) \|$")


def test_scenes_move_the_faces_as_named():
    stop = bench.approach_stop(0.30, 0.05)
    still, mover = np.array([f[0][1] for f in stop]), np.array([f[1][1] for f in stop])
    assert np.ptp(still) == 0 and np.allclose(np.diff(mover)[:8], 0.3 * bench.BASE_W)
    assert np.isclose(still[-1] - mover[-1], 1.05 * bench.BASE_W) and np.all(np.diff(mover)[8:] == 0)
    crossing = bench.cross(0.15, 0.3)
    assert [slot for slot, *_ in crossing[0]] == [1, 0]  # face 0 drawn over face 1
    assert crossing[0][1][1] < crossing[0][0][1] and crossing[-1][1][1] > crossing[-1][0][1]
    assert bench.faces_of(crossing) == 2 and bench.faces_of(bench.SCENARIOS["jitter_10"](0)) == 1


def test_ahead_both_runs_each_scene_with_and_without(faces_300w, capsys):
    assert bench.main(["--clips", "1", "--scenarios", "stop_and_back_30,jitter_10", "--ahead", "both"]) == 0
    rows = [m for m in map(ROW.match, capsys.readouterr().out.splitlines()) if m]
    assert [(m["name"], m["ahead"]) for m in rows] == [
        ("stop_and_back_30", "on"), ("stop_and_back_30", "off"), ("jitter_10", "on"), ("jitter_10", "off")]
    assert all(int(m["scored"]) > 0 and m["most"] == "1" for m in rows)
    assert all(0 < float(m["detections"]) <= 1 for m in rows)
    # moving steadily one way for 9 frames: fewer runs with the crops ahead
    assert float(rows[0]["runs"]) < float(rows[1]["runs"])
