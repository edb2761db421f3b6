"""``lponet predict``: annotated PNG + JSON per image, annotated video, folders with bad files,
one-line errors and exit codes (run in-process through ``lponet_tf.cli.main``)."""
import argparse
import json

import cv2
import pytest

from analyzer_fixtures import ASTRONAUT, model_file, shifted_astronaut, write_video  # noqa: F401
from lponet_tf.cli import main

def one_line_errors(err: str):
    lines = [l for l in err.splitlines() if l.startswith("lponet predict: error:")]
    assert "Traceback" not in err
    return lines


def test_image_gives_annotated_png_and_json(tmp_path, model_file, capsys):
    out = tmp_path / "out"
    assert main(["predict", str(ASTRONAUT), "--out", str(out), "--model", model_file]) == 0
    printed = capsys.readouterr().out
    assert f"{out / 'astronaut.png'}" in printed and f"{out / 'astronaut.json'}" in printed
    png = cv2.imread(str(out / "astronaut.png"))
    assert png.shape == (512, 512, 3)
    assert (png != cv2.imread(str(ASTRONAUT))).any()   # something was drawn
    data = json.loads((out / "astronaut.json").read_text())
    assert (data["width"], data["height"]) == (512, 512)
    assert data["model"]["backend"] == "keras" and data["model"]["input_size"] == 64
    face, = data["faces"]
    assert len(face["landmarks"]) == 68 and len(face["visibility"]) == 68
    assert set(face["pose"]) == {"yaw", "pitch", "roll"}


def test_folder_keeps_going_past_bad_files(tmp_path, model_file, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "good.png").write_bytes(ASTRONAUT.read_bytes())
    (src / "truncated.jpg").write_bytes(ASTRONAUT.read_bytes()[:300])
    (src / "empty.png").write_bytes(b"")
    (src / "notes.txt").write_text("ignored: not an image suffix")
    write_video(src / "clip.avi", shifted_astronaut(3), fps=10)
    assert main(["predict", str(src), "--out", str(out), "--model", model_file]) == 1
    captured = capsys.readouterr()
    errors = one_line_errors(captured.err)
    assert len(errors) == 2
    assert any("truncated.jpg" in e for e in errors) and any("empty.png" in e for e in errors)
    assert "wrote 2 of 4 inputs" in captured.out
    assert (out / "good.png").is_file() and (out / "good.json").is_file()
    video = next(p for p in out.iterdir() if p.stem == "clip" and p.suffix in (".mp4", ".avi"))
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()
    frames = json.loads((out / "clip.json").read_text())["frames"]
    assert [f["timestamp_ms"] for f in frames] == [0, 100, 200]
    assert all(len(f["faces"]) == 1 and f["faces"][0]["track_id"] == 1 for f in frames)


def test_missing_preset_weights_fail_with_one_line(tmp_path, monkeypatch, capsys):
    import lponet_tf.presets as presets
    monkeypatch.setattr(presets, "WEIGHTS_DIR", tmp_path)
    assert main(["predict", str(ASTRONAUT), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    line, = one_line_errors(err)
    assert "lponet_lite.weights.npz" in line and "bundled weights file is missing" in line


@pytest.mark.parametrize("case", ["missing_input", "bad_model", "text_model", "bad_detector",
                                  "bad_threads"])
def test_unusable_inputs_and_models_exit_2(tmp_path, capsys, case):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"\x00" * 64)
    text = tmp_path / "model.keras"
    text.write_text("hello")
    args = {"missing_input": [str(tmp_path / "nope.png"), "--model", str(model)],
            "bad_model": [str(ASTRONAUT), "--model", str(model)],
            "text_model": [str(ASTRONAUT), "--model", str(text)],
            "bad_detector": [str(ASTRONAUT), "--detector", "dlib", "--model", str(model)],
            "bad_threads": [str(ASTRONAUT), "--threads", "0", "--model", str(model)]}[case]
    assert main(["predict", *args, "--out", str(tmp_path / "o")]) == 2
    line, = one_line_errors(capsys.readouterr().err)
    named = {"missing_input": "nope.png", "bad_model": "model.tflite",
             "text_model": "model.keras", "bad_detector": "dlib", "bad_threads": "threads"}[case]
    assert named in line


def test_refine_iou_reaches_the_analyzer_and_the_json(tmp_path, model_file):
    # what the refinement does with the threshold is tested in test_analyzer.py (the tiny
    # model here is never confident enough to be refined); this checks the wiring
    out = tmp_path / "out"
    assert main(["predict", str(ASTRONAUT), "--output", str(out), "--model", model_file,
                 "--refine-iou", "0.95"]) == 0
    assert json.loads((out / "astronaut.json").read_text())["model"]["refine_iou"] == 0.95


@pytest.mark.parametrize("flags, refine, iou", [([], True, None), (["--no-refine"], False, None),
                                                (["--refine-iou", "1"], True, 1.0)])
def test_refine_flags_set_the_options(tmp_path, monkeypatch, flags, refine, iou):
    from lponet_tf.inference import analyzer as analyzer_module
    from lponet_tf.inference import cli as predict_cli

    seen = []
    monkeypatch.setattr(analyzer_module.FaceAnalyzer, "create", staticmethod(seen.append))
    parser = argparse.ArgumentParser()
    predict_cli.add_arguments(parser)
    predict_cli._analyzer(parser.parse_args([str(ASTRONAUT), "--output", str(tmp_path), *flags]))
    options, = seen
    assert options.refine is refine
    assert options.refine_iou == (analyzer_module.REFINE_IOU if iou is None else iou)


@pytest.mark.parametrize("flags, check", [([], True), (["--no-candidate-check"], False)])
def test_candidate_check_flag_reaches_the_analyzer_and_the_json(tmp_path, model_file, flags, check):
    out = tmp_path / "out"
    assert main(["predict", str(ASTRONAUT), "--output", str(out), "--model", model_file, *flags]) == 0
    assert json.loads((out / "astronaut.json").read_text())["model"]["candidate_check"] is check


@pytest.mark.parametrize("flags, named", [(["--refine-iou", "1.5"], "refine_iou"),
                                          (["--refine-iou", "0"], "refine_iou")])
def test_refine_iou_outside_0_1_exits_2(tmp_path, model_file, capsys, flags, named):
    out = tmp_path / "o"
    assert main(["predict", str(ASTRONAUT), "--output", str(out), "--model", model_file,
                 *flags]) == 2
    line, = one_line_errors(capsys.readouterr().err)
    assert named in line
    assert not out.exists() or not any(out.iterdir())


def test_refine_iou_and_no_refine_exclude_each_other(tmp_path, model_file, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(ASTRONAUT), "--output", str(tmp_path / "o"), "--model", model_file,
              "--refine-iou", "0.9", "--no-refine"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
