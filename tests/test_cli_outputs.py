"""The output rule of the ``lponet`` commands (:mod:`lponet_tf.fileio`), on ``predict`` and
``evaluate``: an input is never overwritten, an existing output only with ``--overwrite``,
and a failed run leaves no partial or temporary file. Plus empty vs corrupt videos.

Each case is a reproduced report: ``lponet predict DIR/clip.mp4 --out DIR`` truncated the
video to 257 bytes, ``lponet predict DIR/me.png --out DIR`` replaced the photo."""
import json
import os
import pathlib

import cv2
import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT, model_file, shifted_astronaut, write_video  # noqa: F401
from lponet_tf.cli import main
from lponet_tf.errors import ImageError
from lponet_tf.fileio import OutputError, Staging, atomic_write_via, check_outputs



_ANALYZERS = {}


@pytest.fixture(autouse=True)
def reuse_analyzers(monkeypatch):
    """One analyzer per model for the whole module: these tests are about files, and
    loading the model and detector is most of a predict run's time."""
    import lponet_tf.inference.cli as predict_cli

    real = predict_cli._analyzer

    def cached(args):
        key = (args.model, args.preset, args.no_smoothing)
        if key not in _ANALYZERS:
            _ANALYZERS[key] = real(args)
        return _ANALYZERS[key]

    monkeypatch.setattr(predict_cli, "_analyzer", cached)


def snapshot(folder):
    """``{relative path: bytes}`` of every file under ``folder`` (hidden ones included)."""
    return {os.path.relpath(os.path.join(d, f), folder): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(folder) for f in files}


def error_line(err: str, command: str = "predict") -> str:
    assert "Traceback" not in err
    line, = [l for l in err.splitlines() if l.startswith(f"lponet {command}: error:")]
    return line


def video_suffix():
    from lponet_tf.inference.cli import video_format

    return video_format()[0]


# ---------------------------------------------------------------------------------------
# lponet predict
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("overwrite", [False, True])
def test_predict_never_overwrites_its_input_image(tmp_path, model_file, capsys, overwrite):
    photo = tmp_path / "me.png"
    photo.write_bytes(ASTRONAUT.read_bytes())
    before = snapshot(tmp_path)
    argv = ["predict", str(photo), "--out", str(tmp_path), "--model", model_file]
    assert main(argv + ["--overwrite"] * overwrite) == 2
    line = error_line(capsys.readouterr().err)
    assert "would overwrite the input" in line and str(photo) in line
    assert snapshot(tmp_path) == before  # the photo intact, no JSON, no temporary file


@pytest.mark.parametrize("overwrite", [False, True])
def test_predict_never_overwrites_its_input_video(tmp_path, model_file, capsys, overwrite):
    clip = tmp_path / f"clip{video_suffix()}"  # the name the annotated video would get
    write_video(clip, shifted_astronaut(3), fps=10,
                codec="mp4v" if clip.suffix == ".mp4" else "MJPG")
    before = snapshot(tmp_path)
    assert main(["predict", str(clip), "--out", str(tmp_path), "--model", model_file]
                + ["--overwrite"] * overwrite) == 2
    assert "would overwrite the input" in error_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before  # the video intact (it was cut to 257 bytes)


def test_predict_folder_into_itself_refuses_before_any_work(tmp_path, model_file, capsys):
    (tmp_path / "a.png").write_bytes(ASTRONAUT.read_bytes())
    (tmp_path / "b.jpg").write_bytes(cv2.imencode(".jpg", cv2.imread(str(ASTRONAUT)))[1])
    before = snapshot(tmp_path)
    assert main(["predict", str(tmp_path), "--out", str(tmp_path), "--model", model_file]) == 2
    assert "a.png" in error_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before  # b.jpg's outputs were not written either


def test_predict_existing_outputs_need_overwrite(tmp_path, model_file, capsys):
    out = tmp_path / "out"
    argv = ["predict", str(ASTRONAUT), "--out", str(out), "--model", model_file]
    assert main(argv) == 0
    first = snapshot(out)
    assert sorted(first) == ["astronaut.json", "astronaut.png"]  # no temporary file left
    (out / "astronaut.json").write_text("my own notes")  # a file the user cares about
    capsys.readouterr()
    assert main(argv) == 2
    line = error_line(capsys.readouterr().err)
    assert "astronaut.png" in line and "--overwrite" in line
    assert (out / "astronaut.json").read_text() == "my own notes"
    assert main(argv + ["--overwrite"]) == 0
    assert json.loads((out / "astronaut.json").read_text())["width"] == 512
    assert sorted(snapshot(out)) == sorted(first)


def test_failed_inputs_leave_no_partial_output(tmp_path, model_file, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _empty_video(src / "empty.avi")
    (src / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    assert main(["predict", str(src), "--out", str(out), "--model", model_file]) == 1
    errors = [l for l in capsys.readouterr().err.splitlines() if "error:" in l]
    assert any("empty.avi" in e and "empty video: no frames" in e for e in errors)
    assert any("broken.mp4" in e and "corrupt" in e for e in errors)
    assert not out.exists()  # nothing written, so not even the folder this run created


def test_unusable_model_leaves_no_output_folder(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 64)
    out = tmp_path / "new" / "out"
    assert main(["predict", str(ASTRONAUT), "--out", str(out), "--model", str(bad)]) == 2
    assert "bad.tflite" in error_line(capsys.readouterr().err)
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------------------------------
# Videos without frames
# ---------------------------------------------------------------------------------------
def _empty_video(path, codec="MJPG"):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 10.0, (64, 48))
    assert writer.isOpened()
    writer.release()  # no frame written: a valid container with zero frames
    return path


@pytest.mark.parametrize("name,codec", [("empty.mp4", "mp4v"), ("empty.avi", "MJPG")])
def test_zero_frame_video_is_reported_as_empty(tmp_path, name, codec):
    from lponet_tf.inference.video import iter_frames

    path = _empty_video(tmp_path / name, codec)
    with pytest.raises(ImageError, match="empty video: no frames") as info:
        list(iter_frames(path))
    assert str(path) in str(info.value) and "corrupt" not in str(info.value)
    if name.endswith(".mp4"):  # OpenCV cannot open it: the container parser tells
        from lponet_tf.inference.video import mp4_video_frames

        assert mp4_video_frames(path) == 0


def test_corrupt_and_truncated_videos_stay_typed_errors(tmp_path):
    from lponet_tf.inference.video import iter_frames, mp4_video_frames

    good = write_video(tmp_path / "three.mp4", shifted_astronaut(3), fps=10, codec="mp4v")
    assert mp4_video_frames(good) == 3  # the container parser counts real frames
    data = open(good, "rb").read()
    cases = {"garbage.mp4": np.random.default_rng(1).bytes(4000),
             "truncated.mp4": data[: len(data) // 2], "zero.mp4": b""}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ImageError) as info:
            list(iter_frames(tmp_path / name))
        assert str(tmp_path / name) in str(info.value)
        assert "empty video: no frames" not in str(info.value), name
    assert len(list(iter_frames(good))) == 3


# ---------------------------------------------------------------------------------------
# lponet evaluate
# ---------------------------------------------------------------------------------------
def _eval_config(path, tmp_path):
    # JSON is YAML; two drawn faces, and a set whose root is absent (listed as not present).
    from synthetic_faces import write_300w_folder

    faces = write_300w_folder(tmp_path / "faces", 2)
    path.write_text(json.dumps({"datasets": {"300w": {"root": str(faces)},
                                             "wflw": {"root": str(tmp_path / "absent")}}}))
    return path


@pytest.mark.parametrize("overwrite", [False, True])
def test_evaluate_never_overwrites_its_config(tmp_path, model_file, capsys, overwrite):
    config = _eval_config(tmp_path / "results.json", tmp_path)
    before = config.read_bytes()
    assert main(["evaluate", "--model", model_file, "--config", str(config), "--out",
                 str(tmp_path), "--quiet", "--no-progress"] + ["--overwrite"] * overwrite) == 2
    assert "would overwrite the input" in error_line(capsys.readouterr().err, "evaluate")
    assert config.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["faces", "results.json"]


def test_evaluate_existing_report_needs_overwrite(tmp_path, model_file, capsys):
    config = _eval_config(tmp_path / "eval.yaml", tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.md").write_text("last week's results")
    argv = ["evaluate", "--model", model_file, "--config", str(config), "--out", str(out),
            "--quiet", "--no-progress"]
    assert main(argv) == 2
    line = error_line(capsys.readouterr().err, "evaluate")
    assert "results.md" in line and "--overwrite" in line
    assert snapshot(out) == {"results.md": b"last week's results"}
    assert main(argv + ["--overwrite"]) == 0
    assert (out / "results.md").read_text().startswith("# LPONet evaluation")
    assert sorted(snapshot(out)) == ["ced_300w.png", "per_face.csv", "results.json", "results.md"]


# ---------------------------------------------------------------------------------------
# lponet_tf.fileio
# ---------------------------------------------------------------------------------------
def test_fileio_helpers(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def failing(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_via(target, failing)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
    link = tmp_path / "link.txt"
    os.symlink(target, link)
    with pytest.raises(OutputError, match="would overwrite the input"):
        check_outputs([link], inputs=[target], overwrite=True)
    check_outputs([tmp_path / "new.txt"], inputs=[target])  # absent outputs are fine
    with Staging() as stage:
        stage.path(tmp_path / "deep" / "b.txt").write_text("staged")
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "link.txt"]  # no commit: nothing left
    # a file inside an input folder (a dataset) is an input, --overwrite or not
    data = tmp_path / "faces"
    (data / "afw").mkdir(parents=True)
    (data / "afw" / "a.pts").write_text("labels")
    with pytest.raises(OutputError, match="would overwrite the input"):
        check_outputs([data / "afw" / "a.pts"], inputs=[data], overwrite=True)
    check_outputs([data / "afw" / "new.json"], inputs=[data])      # a new file there is not
    check_outputs([target], inputs=[data], overwrite=True)          # nor one outside it


def test_a_file_that_appears_while_a_command_runs_is_not_replaced_without_overwrite(tmp_path):
    """The outputs are checked before the work; a file another process writes at an output
    path meanwhile must not be replaced at the end (it was, by os.replace)."""
    out = tmp_path / "m.txt"

    def slow_writer(tmp):
        open(tmp, "w").write("ours")
        out.write_text("theirs")  # appears during the run

    with pytest.raises(OutputError, match="appeared while this command ran"):
        atomic_write_via(out, slow_writer, replace=False)
    assert out.read_text() == "theirs" and sorted(os.listdir(tmp_path)) == ["m.txt"]
    atomic_write_via(out, lambda tmp: open(tmp, "w").write("ours"), replace=True)  # --overwrite
    assert out.read_text() == "ours"
    # Several staged outputs: all or nothing, checked before the first is moved.
    first, second = tmp_path / "out" / "a.tflite", tmp_path / "out" / "a.report.md"
    with Staging(replace=False) as stage:
        stage.path(first).write_text("model")
        stage.path(second).write_text("report")
        second.write_text("someone else's report")
        with pytest.raises(OutputError, match="a.report.md: appeared"):
            stage.commit()
    assert not first.exists() and second.read_text() == "someone else's report"
    assert os.listdir(tmp_path / "out") == ["a.report.md"]  # the staging folder is gone
    with Staging(replace=False) as stage:
        stage.path(first).write_text("model")
        assert stage.commit() == [first]
    assert first.read_text() == "model" and sorted(os.listdir(tmp_path / "out")) == ["a.report.md", "a.tflite"]


def _unwritable_folder(tmp_path):
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    return pathlib.Path("/proc/self/lponet-out")  # root writes into chmod 555 folders


def test_a_device_is_never_an_output_even_with_overwrite(tmp_path):
    """``--output /dev/null --overwrite`` would have replaced the device node with a file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for node in ("/dev/null", fifo):
        with pytest.raises(OutputError, match="is not a regular file"):
            check_outputs([node], overwrite=True)
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_an_unwritable_output_is_named_by_its_own_path(tmp_path):
    from lponet_tf.fileio import check_writable

    out = _unwritable_folder(tmp_path) / "sub" / "e.json"
    with pytest.raises(OutputError, match="cannot write output files in") as err:
        check_writable(out)
    assert err.value.path == str(out)
    with pytest.raises(OutputError, match="cannot write here") as err:
        atomic_write_via(out, lambda tmp: open(tmp, "w").write("x"))
    assert err.value.path == str(out) and ".e." not in str(err.value)   # not the temporary
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(OutputError, match="is not a folder"):
        check_writable(tmp_path / "notes.txt" / "e.json")
    check_writable(tmp_path / "new" / "deeper" / "e.json")             # would be created
    assert sorted(os.listdir(tmp_path)) == sorted(["notes.txt"] + (["ro"] if os.geteuid() else []))
    # a writer's own failure on another file keeps its own message
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        atomic_write_via(tmp_path / "copy.txt", lambda tmp: open(tmp_path / "absent.txt").read())


STOPPED_COMMAND = """
import sys, time, types
from lponet_tf import cli
from lponet_tf.fileio import Staging

def add_arguments(parser):
    parser.add_argument("--output")

def run(args):
    with Staging(replace=False) as stage:
        stage.path(args.output).write_text("half")
        print("staged", flush=True)
        time.sleep(60)
        stage.commit()

sys.modules["slow_command"] = types.SimpleNamespace(add_arguments=add_arguments, run=run)
cli.SUBCOMMANDS["slow"] = ("slow_command", "a command stopped half-way")
sys.exit(cli.main(["slow", "--output", sys.argv[1]]))
"""


@pytest.mark.parametrize("sig, code, said", [("SIGTERM", 143, "terminated (SIGTERM)"),
                                             ("SIGINT", 130, "interrupted")])
def test_a_command_stopped_by_a_signal_leaves_no_staged_output(tmp_path, sig, code, said):
    """``timeout``, ``kill``, a CI cancel send SIGTERM: the command's cleanup must run as for
    Ctrl-C (a stopped export left its folder, a hidden staging folder and a SavedModel)."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "new" / "m.tflite"
    # A suite started in the background (`make test &`) hands its children SIGINT ignored,
    # and Python then installs no KeyboardInterrupt for it: give the command the default.
    proc = subprocess.Popen([sys.executable, "-c", STOPPED_COMMAND, str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline().strip() == "staged"
        assert (tmp_path / "new").is_dir()  # the staging folder is there now
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert f"lponet slow: {said}" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []  # the folder it created, and the staged file, are gone


def test_atomic_write_replaces_the_name_not_the_file(tmp_path):
    """The new file is renamed over the old name, never written into the old file: a reader
    holding the old file (here a hard link to it) keeps the whole old content, and the
    folder holds no temporary afterwards."""
    out = tmp_path / "out.txt"
    out.write_text("old")
    os.link(out, tmp_path / "alias.txt")
    atomic_write_via(out, lambda tmp: pathlib.Path(tmp).write_text("new"))
    assert out.read_text() == "new" and (tmp_path / "alias.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.txt", "out.txt"]
