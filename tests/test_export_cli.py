"""``lponet export`` (``lponet_tf.export.cli``): files, report, reproduce line, errors."""
import json
import subprocess
import sys

import pytest

from export_helpers import artifacts
from lponet_tf.export import cli

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "tiny.keras"
    artifacts().model.save(path)
    return path


def test_onnx_export_writes_model_and_parity_report(keras_file, faces_300w, tmp_path):
    out = tmp_path / "tiny.onnx"
    code = cli.main(["--model", str(keras_file), "--format", "onnx", "--output", str(out),
                     "--data", str(faces_300w), "--eval-faces", "6", "--strict"])
    assert code == 0 and out.is_file()
    report = json.loads((tmp_path / "tiny.report.json").read_text())
    (record,) = report["exports"]
    assert record["label"] == "onnx fp32" and report["eval_faces"] == 6
    assert record["parity"]["landmark_px_max"] < 1e-3 and abs(record["parity"]["nme_delta"]) < 1e-4
    text = (tmp_path / "tiny.report.md").read_text()
    assert "| onnx fp32 | tiny.onnx |" in text
    assert report["command"].startswith("lponet export --model")
    assert "--format onnx" in report["command"] and "--eval-faces 6" in report["command"]


def test_bad_options_and_files_fail_cleanly(keras_file, tmp_path, capsys):
    assert cli.main(["--model", str(tmp_path / "none.keras"), "--output",
                     str(tmp_path / "x.tflite")]) == 2
    assert "none.keras" in capsys.readouterr().err
    assert cli.main(["--model", str(keras_file), "--format", "onnx", "--quantize", "int8",
                     "--output", str(tmp_path / "x.onnx")]) == 2
    assert "float32 only" in capsys.readouterr().err


def test_module_and_script_entry_points_show_help():
    for cmd in ([sys.executable, "-m", "lponet_tf.export", "--help"],
                [sys.executable, "export/export.py", "--help"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "--quantize" in proc.stdout
