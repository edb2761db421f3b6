"""``lponet export`` (``lponet_tf.export.cli``): files, report, reproduce line, errors."""
import json
import os
import pathlib
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


def test_onnx_export_writes_model_and_parity_report(keras_file, faces_300w, tmp_path, capsys):
    out = tmp_path / "tiny.onnx"
    code = cli.main(["--model", str(keras_file), "--format", "onnx", "--output", str(out),
                     "--data", str(faces_300w), "--eval-faces", "6", "--strict"])
    assert code == 0 and out.is_file()
    assert "lponet export: converting" in capsys.readouterr().err  # progress while converting
    # Only its three files: the staged (temporary) ones were renamed, none left behind.
    assert _files(tmp_path) == ["tiny.onnx", "tiny.report.json", "tiny.report.md"]
    report = json.loads((tmp_path / "tiny.report.json").read_text())
    (record,) = report["exports"]
    assert record["path"] == str(out)  # the final name, not the staged one
    assert record["label"] == "onnx fp32" and report["eval_faces"] == 6
    # Float32 both sides, different kernels: the untrained tiny model's flat heatmaps let the
    # sub-pixel step amplify float rounding (max 0.0012 px measured on an AMD EPYC, under 0.001
    # on an Intel Xeon); a real difference (a wrong layer) moves points by cells.
    assert record["parity"]["landmark_px_max"] < 1e-2, record["parity"]
    assert abs(record["parity"]["nme_delta"]) < 1e-3, record["parity"]
    text = (tmp_path / "tiny.report.md").read_text()
    assert "| onnx fp32 | tiny.onnx |" in text
    # nothing was calibrated: the report says no calibration (it used to claim 200 faces)
    assert report["calibration_faces"] is None and "calibration" not in text
    from lponet_tf.export.report import render_markdown

    assert "int8 calibration on 12 training faces." in render_markdown(
        dict(report, calibration_faces=12))
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


# ---------------------------------------------------------------------------------------
# Arguments are checked before the conversion; a failure leaves nothing behind
# ---------------------------------------------------------------------------------------
def _files(folder):
    """Every file and folder under ``folder``, hidden ones included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def no_conversion(monkeypatch):
    """Make any conversion fail loudly: these cases must be refused before one starts."""
    from lponet_tf.export.pipeline import ModelExporter

    def convert(*args, **kwargs):
        raise AssertionError("the conversion started before the arguments were checked")

    monkeypatch.setattr(ModelExporter, "export", convert)


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    line, = [l for l in err.splitlines() if l.startswith("lponet export: error:")]
    return line


@pytest.mark.parametrize("case", ["suffix", "missing_data", "data_without_faces",
                                  "int8_without_data", "parent_is_a_file", "existing_output",
                                  "qat_float_layers_int8_io", "float_outputs_without_int8_input",
                                  "keep_float_bad_regex"])
def test_arguments_are_checked_before_conversion(keras_file, tmp_path, capsys, no_conversion,
                                                 case):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("not a folder")
    (work / "no_faces").mkdir()
    (work / "keep.tflite").write_bytes(b"an earlier export")
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    out = work / "z.tflite"
    args = {"suffix": ["--format", "onnx", "--output", out],
            "missing_data": ["--output", out, "--data", work / "absent"],
            "data_without_faces": ["--output", out, "--data", work / "no_faces"],
            "int8_without_data": ["--quantize", "int8", "--output", out],
            "parent_is_a_file": ["--output", work / "notes.txt" / "z.tflite"],
            "existing_output": ["--output", work / "keep.tflite"],
            "qat_float_layers_int8_io": ["--quantize", "qat", "--keep-float", "^heat", "--io-dtype",
                                         "int8", "--data", work / "absent", "--output", out],
            "float_outputs_without_int8_input": ["--quantize", "int8", "--float-outputs",
                                                 "--data", work / "absent", "--output", out],
            "keep_float_bad_regex": ["--quantize", "int8", "--keep-float", "[bad", "--data",
                                     work / "absent", "--output", out]}[case]
    assert cli.main(["--model", str(keras_file), *map(str, args)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    named = {"suffix": ".onnx", "missing_data": "absent", "data_without_faces": "no_faces",
             "int8_without_data": "--data", "parent_is_a_file": "notes.txt",
             "existing_output": "--overwrite", "qat_float_layers_int8_io": "'heatmaps', which would stay float32",
             "float_outputs_without_int8_input": "float_outputs needs int8 with an integer io_dtype",
             "keep_float_bad_regex": "'[bad' is not a regular expression"}[case]
    assert named in line
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before
    assert _files(work) == ["keep.tflite", "no_faces", "notes.txt"]


def test_read_only_output_folder_is_one_line(keras_file, tmp_path, capsys, no_conversion):
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    else:  # root writes into chmod 555 folders; nobody can create files under /proc
        folder = pathlib.Path("/proc/self/lponet-out")
    try:
        assert cli.main(["--model", str(keras_file), "--output", str(folder / "z.tflite")]) == 2
    finally:
        if folder.is_relative_to(tmp_path):
            folder.chmod(0o755)
    assert "cannot write output files" in _one_error_line(capsys.readouterr().err)
    assert not folder.exists() or not list(folder.iterdir())


def test_failure_after_conversion_leaves_no_output(keras_file, tmp_path, capsys, monkeypatch):
    from lponet_tf.errors import DataError
    from lponet_tf.export.pipeline import ModelExporter

    def convert_then_fail(self, spec, output, parity=True):
        pathlib.Path(output).parent.mkdir(parents=True, exist_ok=True)  # as write_bytes does
        pathlib.Path(output).write_bytes(b"a converted model")
        raise DataError("faces/x.pts", "malformed line")  # e.g. parity on a bad face file

    monkeypatch.setattr(ModelExporter, "export", convert_then_fail)
    out = tmp_path / "new" / "z.tflite"
    assert cli.main(["--model", str(keras_file), "--output", str(out), "--no-parity"]) == 2
    assert "x.pts" in _one_error_line(capsys.readouterr().err)
    assert _files(tmp_path) == []  # no model, no report, no temporary file, no new folder
