"""The fast-motion benchmark (benchmarks/bench_fast_motion.py): its swing moves the face at the
asked peak speed, and ``--ahead both`` measures the tracker with and without the moved-on crop
in one run (real 300W faces)."""
from __future__ import annotations

import pathlib
import re
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_fast_motion  # noqa: E402

ROW = re.compile(r"^\| (?P<speed>\d+)% \| (?P<ahead>on|off) \| .*\| (?P<ids>[\d.]+) \((?P<most>\d+)\) "
                 r"\| (?P<runs>[\d.]+) \| [\d.]+ \|$")


def test_swing_peaks_at_the_asked_speed_and_turns_every_half_period():
    xs = np.array(bench_fast_motion.positions(24.0, 200, "swing"))
    steps = np.diff(xs)
    assert len(xs) == bench_fast_motion.FRAMES and xs[0] == bench_fast_motion.LEFT
    assert 0.9 * 24.0 < np.abs(steps).max() <= 24.0  # sampled at whole frames
    half = bench_fast_motion.SWING_PERIOD // 2
    assert np.all(steps[:half] > 0) and np.all(steps[half:2 * half] < 0)
    assert bench_fast_motion.positions(24.0, 200, "steady")[:3] == [20.0, 44.0, 68.0]


def test_ahead_both_measures_on_and_off_side_by_side(faces_300w, capsys):
    assert bench_fast_motion.main(["--limit", "1", "--speeds", "0.3", "--ahead", "both"]) == 0
    rows = [m for m in map(ROW.match, capsys.readouterr().out.splitlines()) if m]
    assert [(m["speed"], m["ahead"]) for m in rows] == [("30", "on"), ("30", "off")]
    assert all(m["most"] == "1" for m in rows)
    # the face moves steadily: cropped ahead it needs fewer runs than refined every frame
    assert float(rows[0]["runs"]) < float(rows[1]["runs"])
