"""The pre-flight benchmark (benchmarks/bench_preflight.py) on the real 300W folder: the header
sizes it times agree with decoding every image (it stops otherwise), and it prints both rows."""
from __future__ import annotations

import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_preflight  # noqa: E402

ROW = re.compile(r"^\| (headers \(check_records\)|decoding every image) \| [\d.]+ \| ([\d.]+)x \|$")


def test_prints_both_ways_with_the_headers_as_the_unit(faces_300w, capsys):
    assert bench_preflight.main(["--rounds", "1"]) == 0
    rows = [m for m in map(ROW.match, capsys.readouterr().out.splitlines()) if m]
    assert [m.group(1) for m in rows] == ["headers (check_records)", "decoding every image"]
    assert rows[0].group(2) == "1.0"
