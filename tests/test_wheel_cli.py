"""One CLI style: --output on every subcommand (old spellings still accepted, not shown),
--verbose on every subcommand, TensorFlow's C++ log lines dropped from stderr otherwise."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from lponet_tf import cli

REPO = pathlib.Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "lponet_tf" / "assets" / "astronaut.png"


@pytest.mark.parametrize("command", sorted(cli.SUBCOMMANDS))
def test_every_subcommand_shows_output_and_verbose_and_hides_old_spellings(command):
    text = cli._parser(command)._subparsers._group_actions[0].choices[command].format_help()
    assert "--output " in text or "--output\n" in text, text
    assert "--verbose" in text
    for old in cli.OLD_OUTPUT_FLAGS.get(command, ()):
        assert f"{old} " not in text and f"{old}\n" not in text, f"{old} still in help"


@pytest.mark.parametrize("command, old", [(c, o) for c, olds in cli.OLD_OUTPUT_FLAGS.items()
                                          for o in olds])
def test_old_output_spellings_become_output(command, old, capsys):
    assert cli._new_spellings([command, "x", old, "d"], command) == [command, "x", "--output", "d"]
    assert cli._new_spellings([f"{old}=d"], command) == ["--output=d"]
    assert f"{old} is now --output" in capsys.readouterr().err


def test_cpp_log_lines_are_dropped_and_the_rest_kept_in_order():
    code = r"""
import os, sys
from lponet_tf.cli import _CppLogFilter
f = _CppLogFilter()
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
os.write(2, b"E0000 00:00:1796227145.049973   27545 cuda_platform.cc:52] failed call to cuInit: X\n")
print("first", file=sys.stderr, flush=True)
os.write(2, b"INFO: ")  # LiteRT writes its level and message apart
os.write(2, b"Created TensorFlow Lite XNNPACK delegate for CPU.\n")
os.write(2, b"I0000 00:00:1796227145.1 27545 cpu_feature_guard.cc:210] This TensorFlow binary\n"
            b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.\n")
os.write(2, b"\r 50%|#####     | 1/2")
os.write(2, b"\r100%|##########| 2/2\n")
print("E1 is not a log line", file=sys.stderr, flush=True)
f.close()
print("after", file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode() == ("first\n\r 50%|#####     | 1/2\r100%|##########| 2/2\n"
                                    "E1 is not a log line\nafter\n")


def test_predict_with_the_old_spelling_writes_to_output(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["predict", str(ASTRONAUT), "--out", str(out)]) == 0
    assert "--out is now --output" in capsys.readouterr().err
    results = json.loads((out / "astronaut.json").read_text())
    assert results["faces"], results
