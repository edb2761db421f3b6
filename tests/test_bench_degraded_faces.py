"""The poor-photo benchmark's per-face file: what `lponet compare` pairs, row by row, agrees with
the table the benchmark prints (benchmarks/bench_degraded_faces.py; real 300W faces)."""
from __future__ import annotations

import pathlib
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_degraded_faces  # noqa: E402

from lponet_tf.evaluation.compare import compare_files, read_per_face  # noqa: E402

ROW = re.compile(r"^\| (?P<photo>[a-z ]+) \| (?P<size>photo|1/\d) .*?\| (?P<found>[\d.]+) \| "
                 r"(?P<nme>[\d.]+|nan)% ")


def test_per_face_file_matches_the_table_and_is_not_overwritten(faces_300w, tmp_path, capsys):
    out = tmp_path / "bundled.json"
    assert bench_degraded_faces.main(["--limit", "2", "--per-face", str(out)]) == 0
    rows = [m for m in map(ROW.match, capsys.readouterr().out.splitlines()) if m]
    assert len(rows) == len(bench_degraded_faces.DEGRADATIONS) * len(bench_degraded_faces.SHRINKS)
    sets = read_per_face(out)
    for m in rows:
        name = f"{m['photo'].replace(' ', '_')}_{m['size']}"
        values = [f["nme_end_to_end"] for f in sets[name].values()]
        assert len(values) == 2
        found = [v for v in values if v is not None]
        assert len(found) / 2 == pytest.approx(float(m["found"]), abs=1e-3)
        if found:
            assert np.mean(found) == pytest.approx(float(m["nme"]), abs=0.006)
    before = out.read_bytes()
    with pytest.raises(SystemExit) as exc:
        bench_degraded_faces.main(["--limit", "2", "--per-face", str(out)])
    assert exc.value.code == 2 and "exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    paired = compare_files(out, out).rows
    assert paired and {r.set for r in paired} <= set(sets)
    assert all(r.difference == 0 for r in paired)
