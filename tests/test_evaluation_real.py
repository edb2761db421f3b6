"""Evaluation end to end on real faces (../shared/data; skipped when absent): the oracle
chain on AFLW2000 and 300W, ``lponet evaluate`` on the format samples and on the 300W
subset with a tiny random model, and the .tflite path."""
from __future__ import annotations

import csv
import json
import pathlib

import cv2
import numpy as np
import pytest

from evaluation_runners import OracleRunner

from lponet_tf.data import read_dataset
from lponet_tf.codec.crop import CropTransform
from lponet_tf.data.occlusion import visible_face_from_landmarks
from lponet_tf.evaluation.config import EvalEntry, load_eval_config, parse_eval_config
from lponet_tf.evaluation.evaluate import (evaluate_config, evaluate_records, read_entry,
                                           runner_info)

REPO = pathlib.Path(__file__).resolve().parents[1]
EVAL_CONFIGS = REPO / "lponet_tf" / "configs" / "eval"
SAMPLE_KEYS = {"aflw2000": "aflw2000", "aflw2000_so": "aflw2000", "300w": "lfpw",
               "menpo": "menpo", "300w_lp": "300w_lp"}


def _sample_roots(formats_dir):
    return {key: str(formats_dir / folder) for key, folder in SAMPLE_KEYS.items()}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """The smallest random LPONet (1 stack, 32 px, 8 channels), in memory and as .keras:
    quick to load, trace and convert."""
    from lponet_tf.config import LPONetConfig
    from lponet_tf.model import build_lponet, inference_model

    path = tmp_path_factory.mktemp("tiny_model") / "tiny.keras"
    model = inference_model(build_lponet(LPONetConfig(input_size=32, channels=8, num_stacks=1,
                                                      hourglass_depth=2)))
    model.save(path)
    return model, path


def _decode_error_bound(record, size):
    """NME (%) a perfect heatmap can reach at most: half a cell per axis, in image px."""
    t = CropTransform.from_landmarks(record.landmarks, size)
    d = np.linalg.norm(record.landmarks[36] - record.landmarks[45])
    return 100 * 0.71 * 4 / t.matrix[0, 0] / d


# ----------------------------------------------------------------------------- oracle
def test_oracle_on_real_aflw2000_and_its_so_variants(formats_dir):
    cfg = load_eval_config(EVAL_CONFIGS / "samples.yaml", _sample_roots(formats_dir),
                           only=["aflw2000", "aflw2000_so"])
    records = read_dataset("aflw2000", formats_dir / "aflw2000")
    result = evaluate_config(OracleRunner(records, 256), cfg, progress=False)
    aflw = result.datasets["aflw2000"]
    assert aflw["faces"] == 4
    assert aflw["pose"]["all"]["mean"] < 1e-3 and aflw["pose"]["all"]["geodesic"] < 1e-3
    for face, record in zip(result.scores["aflw2000"].faces, records):
        assert 0 < face.nme < _decode_error_bound(record, 256)
    variants = result.datasets["aflw2000_so"]["variants"]
    assert list(variants) == ["none", "left", "top", "right", "bottom", "middle"]
    assert all(v["faces"] == 4 for v in variants.values())
    # The oracle knows only the un-occluded crops: "none" is exact, every occluded
    # variant is a different image (answered with a zero pose -> a large error).
    assert variants["none"]["pose"]["all"]["mean"] < 1e-3
    assert all(variants[p]["pose"]["all"]["mean"] > 1.0 for p in ("left", "top", "right", "bottom", "middle"))


def test_a_pose_label_beyond_yaw_90_is_scored_on_its_own_euler_branch(formats_dir, tmp_path):
    """AFLW2000 keeps faces up to 99 degrees: a Pose_Para of yaw 95 stays (95, 10, 5), and a
    prediction 10 degrees off in yaw scores 10 there (not 0 / 180 / 180 against the same
    rotation's (85, -170, -175))."""
    import shutil

    import scipy.io

    from lponet_tf.evaluation.protocol import predicted_euler

    src = formats_dir / "aflw2000"
    shutil.copytree(src, tmp_path / "aflw")
    mat_path = tmp_path / "aflw" / "image00430.mat"
    mat = {k: v for k, v in scipy.io.loadmat(mat_path).items() if not k.startswith("__")}
    mat["Pose_Para"][0, :3] = np.radians([10.0, 95.0, 5.0])  # pitch, yaw, roll
    scipy.io.savemat(mat_path, mat)
    records = read_dataset("aflw2000", tmp_path / "aflw")
    assert len(records) == 4
    # the oracle's answer: the label's matrix turned by 10 degrees of yaw (matrix_to_euler's
    # branch), for the yaw-95 face the rotation of (85, 10, 5)
    runner = OracleRunner(records, 64, pose_offset=(10.0, 0.0, 0.0))
    scores = evaluate_records(records, runner, runner_info(runner), tasks=("pose",),
                              progress=False)
    turned = next(f for f in scores.faces if f.image_path.endswith("image00430.jpg"))
    np.testing.assert_allclose(turned.gt_ypr, [95.0, 10.0, 5.0], atol=1e-6)
    np.testing.assert_allclose(turned.pred_ypr, [85.0, 10.0, 5.0], atol=1e-4)
    pose = scores.summary()["pose"]["all"]
    assert [pose[a] for a in ("yaw", "pitch", "roll")] == pytest.approx([10.0, 0.0, 0.0], abs=1e-3)
    # an Euler head's numbers are compared as they are (the benchmark protocol)
    np.testing.assert_allclose(predicted_euler(None, [97.0, 10.0, 5.0], "euler", [95.0, 10.0, 5.0]),
                               [97.0, 10.0, 5.0])


def test_oracle_on_300w_subset_with_landmark_masks(faces_300w, tmp_path):
    """The 300W subset config (landmarks), and a RealOcc-Wild-style copy of the same faces
    with masks drawn from their landmarks, cropped from the whole image (no box)."""
    cfg = load_eval_config(EVAL_CONFIGS / "300w_subset.yaml", {"300w": str(faces_300w)}, limit=6)
    records = read_entry(cfg.entry("300w"))  # the quickstart's held-out photos, first 6
    assert len(records) == 6
    folder = tmp_path / "realocc"
    folder.mkdir()
    for i, r in enumerate(records):
        image = cv2.imread(r.image_path)
        cv2.imwrite(str(folder / f"face{i}.png"), image)
        mask = visible_face_from_landmarks(r.landmarks, image.shape[:2]) > 0.5
        cv2.imwrite(str(folder / f"face{i}_mask.png"), mask.astype(np.uint8) * 255)
    masked = read_dataset("realocc_wild", folder)
    cfg.entries.append(EvalEntry("realocc_wild", "realocc_wild", str(folder)))
    result = evaluate_config(OracleRunner(records + masked, 256), cfg, progress=False)
    lm = result.datasets["300w"]["landmarks"]["all"]
    assert lm["faces"] == 6
    for face, record in zip(result.scores["300w"].faces, records):
        assert 0 < face.nme < _decode_error_bound(record, 256)
    occ = result.datasets["realocc_wild"]
    assert occ["crop_sources"] == {"image": 6} and occ["occlusion"]["all"]["miou"] > 95.0


# ----------------------------------------------------------------------------- real model
class RecordingRunner:
    """Wraps a runner and keeps every output it returned (to recompute numbers by hand)."""

    def __init__(self, runner):
        self.runner, self.metadata, self.backend = runner, runner.metadata, runner.backend
        self.outputs = []

    def __call__(self, images):
        out = self.runner(images)
        self.outputs.append({k: np.array(v) for k, v in out.items()})
        return out


def test_tiny_model_numbers_recomputed_by_hand(faces_300w, tiny_model):
    from lponet_tf.heatmaps import decode_heatmaps
    from lponet_tf.runtime import load_runner

    records = read_dataset("300w", faces_300w)[:5]
    runner = RecordingRunner(load_runner(str(tiny_model[1])))
    scores = evaluate_records(records, runner, runner_info(runner), batch_size=4, progress=False)
    heatmaps = np.concatenate([o["heatmaps"] for o in runner.outputs])  # 8 rows: 5 + 3 padding
    assert heatmaps.shape == (8, 8, 8, 68)
    for i, (face, record) in enumerate(zip(scores.faces, records)):
        xy, _ = decode_heatmaps(heatmaps[i])
        m = CropTransform.from_landmarks(record.landmarks, 32).matrix
        pred = (xy - m[:, 2]) / np.diag(m[:, :2])
        d = np.linalg.norm(record.landmarks[36] - record.landmarks[45])
        assert face.nme == pytest.approx(100 * np.linalg.norm(pred - record.landmarks, axis=1).mean() / d,
                                         rel=1e-4)
    assert scores.summary()["landmarks"]["all"]["nme"] > 5.0  # an untrained net is far off


def _cli(*argv):
    from lponet_tf.cli import main

    return main(["evaluate", *map(str, argv)])


def test_cli_on_the_format_samples(formats_dir, tiny_model, tmp_path, capsys):
    out = tmp_path / "eval"
    roots = [a for k, v in _sample_roots(formats_dir).items() for a in ("--data-root", f"{k}={v}")]
    assert _cli("--model", tiny_model[1], "--config", EVAL_CONFIGS / "samples.yaml", "--out", out,
                "--no-progress", *roots) == 0
    printed = capsys.readouterr().out
    assert "Table 9" in printed and "| tiny.keras |" in printed
    doc = json.loads((out / "results.json").read_text())
    ds = doc["datasets"]
    assert {k: ds[k]["faces"] for k in SAMPLE_KEYS} == {
        "aflw2000": 4, "aflw2000_so": 4, "300w": 1, "menpo": 3, "300w_lp": 1}
    assert doc["model"]["input_size"] == 32 and doc["model"]["pose"] == "6d"
    # Table 7 / Table 1 cells are the AFLW2000 numbers, and match the per-face CSV.
    t7 = doc["tables"]["table7"]["rows"][0]["cells"]
    with open(out / "per_face.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["dataset"] == "aflw2000"]
    assert len(rows) == 4
    for j, col in enumerate(("yaw_error", "pitch_error", "roll_error")):
        assert t7[j]["value"] == pytest.approx(np.mean([float(r[col]) for r in rows]), rel=1e-4)
        assert t7[j]["faces"] == 4
    t1 = doc["tables"]["table1"]["rows"][0]["cells"]
    assert t1[2]["value"] == pytest.approx(t7[3]["value"]) and t1[3]["value"] is None
    t9 = doc["tables"]["table9"]["rows"]
    assert [r["label"] for r in t9] == ["None", "Left", "Top", "Right", "Bottom", "Middle"]
    assert all(r["cells"][3]["faces"] == 4 for r in t9)
    assert t9[0]["cells"][3]["value"] == pytest.approx(t7[3]["value"])  # none = plain AFLW2000
    for name in ("aflw2000", "300w", "menpo", "300w_lp"):
        assert (out / f"ced_{name}.png").is_file()


def test_cli_300w_subset_limit_and_missing_dataset(faces_300w, tiny_model, tmp_path, capsys):
    out = tmp_path / "eval"
    assert _cli("--model", tiny_model[1], "--config", EVAL_CONFIGS / "300w_subset.yaml", "--out", out,
                "--data-root", f"300w={faces_300w}", "--limit", 10, "--quiet") == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["tables"]["table5"]["rows"][0]["cells"][2]["faces"] == 10
    # A config naming an absent dataset is an error with --strict (listed without it:
    # test_evaluation.py::test_not_present_and_strict).
    assert _cli("--model", tiny_model[1], "--config", EVAL_CONFIGS / "paper.yaml", "--out",
                tmp_path / "eval_biwi", "--only", "biwi", "--data-root", f"biwi={tmp_path / 'nope'}",
                "--strict") == 2
    assert "not present: biwi at" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_exported_model_goes_through_the_same_path(formats_dir, tiny_model, tmp_path, fmt):
    """A .tflite / .onnx file is evaluated like the .keras it came from: same faces, same
    pose errors (float32 conversion noise only)."""
    from lponet_tf.runtime import load_runner

    model, keras_path = tiny_model
    if fmt == "tflite":
        from lponet_tf.export.tflite import export_tflite as export
    else:
        from lponet_tf.export.onnx import export_onnx as export
    path = export(model, tmp_path / f"tiny.{fmt}")
    cfg = load_eval_config(EVAL_CONFIGS / "samples.yaml", _sample_roots(formats_dir),
                           only=["aflw2000"])
    results = {}
    for name in (keras_path, path):
        runner = load_runner(str(name))
        results[runner.backend] = evaluate_config(runner, cfg, progress=False).datasets["aflw2000"]
    assert set(results) == {"keras", fmt}
    k, t = results["keras"]["pose"]["all"], results[fmt]["pose"]["all"]
    for angle in ("yaw", "pitch", "roll"):
        assert t[angle] == pytest.approx(k[angle], abs=0.05)
    assert results[fmt]["landmarks"]["all"]["faces"] == 4


def test_faces_without_landmarks_or_box_are_cropped_from_a_detection(faces_300w):
    """BIWI / RealOcc-Wild style records (image only) with the entry's detector: the crop
    comes from the detection's landmark-box estimate, close to the true landmark box."""
    from lponet_tf.data.records import FaceRecord
    from lponet_tf.evaluation import protocol
    from lponet_tf.detection import as_detector, box_iou
    detector = as_detector("blazeface_auto")
    for record in read_dataset("300w", faces_300w)[:3]:
        face = protocol.prepare_face(FaceRecord(record.image_path), 64, detector=detector)
        assert face.crop_source == "detector"
        truth = CropTransform.from_landmarks(record.landmarks, 64)
        # compare the two crop squares in image pixels
        squares = [t.to_image(np.array([[-0.5, -0.5], [63.5, 63.5]])).reshape(4) for t in (face.transform, truth)]
        assert float(box_iou(squares[0][None], squares[1][None]).squeeze()) > 0.6


def test_preset_evaluates_the_bundled_file_wherever_it_is_installed(faces_300w, tmp_path, capsys):
    from lponet_tf.cli import main
    from lponet_tf.presets import get_preset

    args = ["evaluate", "--config", "300w_subset", "--data-root", f"300w={faces_300w}",
            "--limit", "3", "--no-plots", "--no-progress", "--quiet"]
    assert main([*args, "--preset", "lponet_lite", "--output", str(tmp_path / "p")]) == 0
    bundled = str(get_preset("lponet_lite").bundled_tflite())
    assert main([*args, "--model", bundled, "--output", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    by_preset = json.loads((tmp_path / "p" / "results.json").read_text())["datasets"]["300w"]
    by_file = json.loads((tmp_path / "m" / "results.json").read_text())["datasets"]["300w"]
    assert by_preset["landmarks"] == by_file["landmarks"] and by_preset["faces"] == 3
    assert main([*args, "--preset", "nope", "--output", str(tmp_path / "x")]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # one model, named one way
        main([*args, "--preset", "lponet_lite", "--model", bundled])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_flip_tta_run_is_labelled_and_recorded(faces_300w, tiny_model, tmp_path):
    out = tmp_path / "eval"
    assert _cli("--model", tiny_model[1], "--config", EVAL_CONFIGS / "300w_subset.yaml", "--out", out,
                "--data-root", f"300w={faces_300w}", "--limit", 2, "--quiet", "--no-plots",
                "--flip-tta", "--flip-label-x-offset", "0.75") == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["model"]["label"] == "tiny.keras + flip TTA"
    assert doc["model"]["flip_tta"] == {"label_x_offset": 0.75}
    assert "| tiny.keras + flip TTA |" in (out / "results.md").read_text()


def test_a_prebuilt_aflw2000_so_folder_keeps_the_entrys_holdout(formats_dir, tmp_path):
    """The same holdout of the same 4 faces, variants built on the fly or read from a folder
    the builder wrote: the same faces in every part (the prebuilt folder used to give all 4)."""
    from lponet_tf.data import benchmark_sets

    prebuilt = tmp_path / "so"
    benchmark_sets.build_aflw2000_so(formats_dir / "aflw2000", prebuilt)
    hold = {"fraction": 0.5, "seed": 1, "part": "val"}
    names = {}
    for kind, root in (("built", formats_dir / "aflw2000"), ("prebuilt", prebuilt)):
        cfg = parse_eval_config({"datasets": {"aflw2000_so": {
            "reader": "aflw2000", "root": str(root), "tasks": ["pose"], "holdout": hold}}})
        result = evaluate_config(OracleRunner([], 64), cfg, progress=False)
        names[kind] = {key: sorted(pathlib.Path(f.image_path).name for f in scores.faces)
                       for key, scores in result.scores.items() if not key.endswith("/none")}
    assert names["built"] == names["prebuilt"]
    assert all(0 < len(faces) < 4 for faces in names["built"].values())
