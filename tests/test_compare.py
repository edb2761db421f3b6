"""``lponet compare`` (lponet_tf.evaluation.compare): the paired interval against the normal
theory computed by hand, verdicts on differences of known size and sign, both file formats as
the evaluation commands write them, and bad input."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from lponet_tf.errors import DataError
from lponet_tf.evaluation.compare import (
    MIN_FACES, CompareError, compare_files, compare_metric, format_markdown, paired_interval,
    read_per_face,
)

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_paired_interval_is_the_normal_theory_interval_for_a_large_sample():
    # For n = 400 the bootstrap distribution of the mean is close to normal, so the percentile
    # interval is mean +- 1.96 sd / sqrt(n) (sd with ddof=0, as the bootstrap resamples it).
    diff = np.random.default_rng(3).normal(0.3, 1.0, 400)
    half = 1.959964 * diff.std() / np.sqrt(len(diff))
    low, high = paired_interval(diff, 0.95, resamples=20_000, seed=1)
    assert low == pytest.approx(diff.mean() - half, abs=0.01)
    assert high == pytest.approx(diff.mean() + half, abs=0.01)
    # a narrower coverage gives a narrower interval, inside the first
    low80, high80 = paired_interval(diff, 0.80, resamples=20_000, seed=1)
    assert low < low80 < high80 < high
    assert high80 - low80 == pytest.approx(2 * 1.281552 * diff.std() / np.sqrt(400), abs=0.01)
    # seeded: the same differences give the same interval
    assert paired_interval(diff, 0.95, 20_000, 1) == (low, high)


def test_paired_interval_in_chunks_equals_the_figure_of_a_large_set():
    # 50,000 faces x 10,000 resamples would be 4 GB at once; drawn in chunks it is not.
    diff = np.random.default_rng(0).normal(-0.05, 2.0, 50_000)
    low, high = paired_interval(diff, 0.95, resamples=1_000, seed=0)
    half = 1.959964 * diff.std() / np.sqrt(len(diff))
    assert low == pytest.approx(diff.mean() - half, abs=0.003)
    assert high == pytest.approx(diff.mean() + half, abs=0.003)


def test_verdicts_follow_the_sign_the_size_and_the_figures_direction():
    a = np.random.default_rng(1).gamma(4.0, 0.8, 60)            # NME-like, skewed
    noise = np.random.default_rng(2).normal(0.0, 0.3, 60)
    better = compare_metric("s", "nme_true_box", a, a - 0.5 + 0.1 * noise)
    assert better.verdict == "B better" and better.difference == pytest.approx(
        -0.5 + 0.1 * noise.mean(), abs=1e-4)
    assert better.ci_low < better.difference < better.ci_high < 0
    assert (better.b_better, better.a_better) == (60, 0)
    assert compare_metric("s", "nme", a, a + 0.5 + 0.1 * noise).verdict == "A better"
    # a difference that is only noise: mean exactly 0, faces split
    flip = np.where(np.arange(60) % 2, 0.3, -0.3)
    same = compare_metric("s", "nme", a, a + flip)
    assert same.verdict == "within noise" and same.difference == 0.0
    assert same.ci_low < 0 < same.ci_high and (same.b_better, same.a_better) == (30, 30)
    # IoU grows with quality: a higher B is better
    iou = compare_metric("s", "iou_visible", a, a + 0.5 + 0.1 * noise)
    assert iou.higher_is_better and iou.verdict == "B better" and iou.b_better == 60
    # fewer than MIN_FACES paired faces get no verdict, however large the difference
    few = compare_metric("s", "nme", a[:MIN_FACES - 1], a[:MIN_FACES - 1] - 5.0)
    assert few.verdict == "too few faces" and few.faces == MIN_FACES - 1


def _e2e_doc(nmes_e2e, nmes_box, pose_errors):
    """An ``lponet end-to-end --output`` document of the layout evaluate_set and
    evaluate_pose_set write (tests/test_end_to_end_script.py checks the real one)."""
    faces = [{"image": f"img_{i:03d}.png", "found": e is not None, "nme_end_to_end": e,
              "nme_true_box": t} for i, (e, t) in enumerate(zip(nmes_e2e, nmes_box))]
    pose = [{"image": f"aflw_{i}.jpg", "reference_ypr": [10.0, 0.0, 0.0],
             "end_to_end_error_ypr": err, "true_box_error_ypr": [1.0, 1.0, 1.0]}
            for i, err in enumerate(pose_errors)]
    return {"model": "m.tflite", "flip_tta": False,
            "300w_val": {"faces": len(faces), "nme_end_to_end": 3.0, "per_face": faces},
            "pose_aflw2000": {"faces": len(pose), "end_to_end_mae": 3.0, "per_face": pose}}


def test_end_to_end_files_pair_faces_by_image_and_skip_faces_one_model_missed(tmp_path):
    rng = np.random.default_rng(5)
    box = rng.uniform(2, 5, 25).round(3)
    e2e_a = (box + 0.1).round(3).tolist()
    e2e_b = (box - 0.2).round(3).tolist()
    e2e_b[7] = None                                             # B misses one face
    pose_a = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    pose_b = [[1.0, 1.0, 1.0], [4.0, 5.0, 9.0]]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_e2e_doc(e2e_a, box.tolist(), pose_a)))
    b.write_text(json.dumps(_e2e_doc(e2e_b, (box - 0.05).round(3).tolist(), pose_b)))
    got = {(r.set, r.metric): r for r in compare_files(a, b).rows}
    assert set(got) == {("300w_val", "nme_end_to_end"), ("300w_val", "nme_true_box"),
                        ("pose_aflw2000", "end_to_end_pose_mae"),
                        ("pose_aflw2000", "true_box_pose_mae")}
    e2e = got[("300w_val", "nme_end_to_end")]
    assert (e2e.faces, e2e.only_a, e2e.only_b) == (24, 1, 0)
    assert e2e.difference == pytest.approx(-0.3, abs=1e-3) and e2e.verdict == "B better"
    assert e2e.mean_a == pytest.approx(np.delete(np.array(e2e_a), 7).mean(), abs=1e-4)
    tb = got[("300w_val", "nme_true_box")]
    assert tb.faces == 25 and tb.difference == pytest.approx(-0.05, abs=1e-3)
    # a pose run's figure per face is the mean of its three angle errors: (2, 5) -> (1, 6)
    pose = got[("pose_aflw2000", "end_to_end_pose_mae")]
    assert (pose.mean_a, pose.mean_b, pose.difference) == (3.5, 3.5, 0.0)
    assert pose.verdict == "too few faces" and (pose.b_better, pose.a_better) == (1, 1)
    text = format_markdown(compare_files(a, b))
    assert "| 300w_val | nme_end_to_end ↓ | 24 |" in text and "1 faces scored in A only" in text


def test_evaluate_per_face_csv_from_its_writer_and_repeated_image_names(tmp_path):
    from lponet_tf.evaluation.scores import DatasetScores, FaceScore, write_per_face_csv

    def scores(nme_shift, iou_shift):
        ds = DatasetScores()
        for i in range(12):
            # two folders hold a file of the same name (300W's lfpw trainset / testset do)
            name = f"/data/{'train' if i % 2 else 'test'}set/image_{i // 2:04d}.png"
            ds.add(FaceScore(name, ("all",), "landmarks", nme=2.0 + i / 10 + nme_shift,
                             pred_ypr=np.array([1.0, 2.0, 3.0]), gt_ypr=np.zeros(3),
                             pred_R=np.eye(3), gt_R=np.eye(3),
                             iou=np.array([90.0, 80.0 + iou_shift])))
        return {"300w_common": ds}

    (tmp_path / "a").mkdir()
    write_per_face_csv(tmp_path / "a" / "per_face.csv", scores(0.0, 0.0))
    write_per_face_csv(tmp_path / "b.csv", scores(0.25, -1.0))
    faces = read_per_face(tmp_path / "a")                       # the folder is enough
    assert len(faces["300w_common"]) == 12 and ("/data/trainset/image_0000.png", 0) in faces["300w_common"]
    got = {r.metric: r for r in compare_files(tmp_path / "a", tmp_path / "b.csv").rows}
    assert got["nme"].difference == pytest.approx(0.25) and got["nme"].verdict == "A better"
    assert got["iou_visible"].difference == pytest.approx(-1.0) and got["iou_visible"].verdict == "A better"
    assert got["yaw_error"].difference == 0.0 and got["yaw_error"].verdict == "within noise"
    assert got["geodesic"].mean_a == 0.0


def test_bad_files_are_typed_errors_that_name_the_file_and_line(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_per_face(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"300w_val": {"per_face": [\n  {"image": "a.png",}\n]}}')
    with pytest.raises(DataError, match=r"broken\.json:2: not JSON"):
        read_per_face(broken)
    text_nme = tmp_path / "text.json"
    text_nme.write_text(json.dumps({"s": {"per_face": [{"image": "a.png", "nme_true_box": "3.1"}]}}))
    assert read_per_face(text_nme) == {"s": {("a.png", 0): {}}}   # a string is not a figure
    nan = tmp_path / "nan.json"
    nan.write_text('{"s": {"per_face": [{"image": "a.png", "nme_true_box": NaN}]}}')
    with pytest.raises(DataError, match=r"s\.per_face\[0\]\.nme_true_box: expected a number"):
        read_per_face(nan)
    no_faces = tmp_path / "summary.json"
    no_faces.write_text(json.dumps({"300w_val": {"nme_end_to_end": 3.2}}))
    with pytest.raises(DataError, match="no per-face figures"):
        read_per_face(no_faces)
    csv_bad = tmp_path / "per_face.csv"
    csv_bad.write_text("dataset,image,groups,crop_source,nme\ns,a.png,all,landmarks,2.5\n"
                       "s,b.png,all,landmarks,two\n")
    with pytest.raises(DataError, match=r"per_face\.csv:3: nme = 'two' is not a number"):
        read_per_face(csv_bad)
    short = tmp_path / "short.csv"
    short.write_text("dataset,image,nme\ns,a.png\n")
    with pytest.raises(DataError, match=r"short\.csv:2: 2 fields"):
        read_per_face(short)
    binary = tmp_path / "model.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(DataError, match="model.csv"):
        read_per_face(binary)


def test_files_of_different_faces_and_bad_settings_are_refused(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_e2e_doc([3.0] * 12, [3.0] * 12, [])))
    other = _e2e_doc([3.0] * 12, [3.0] * 12, [])
    other["masked_300w_val"] = other.pop("300w_val")
    b.write_text(json.dumps(other))
    with pytest.raises(CompareError, match="share no scored face"):
        compare_files(a, b)
    with pytest.raises(CompareError, match="confidence"):
        compare_files(a, a, confidence=1.5)
    with pytest.raises(CompareError, match="resamples"):
        compare_files(a, a, resamples=5)


def _lponet(*args):
    return subprocess.run([sys.executable, "-m", "lponet_tf.cli", "compare", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def test_command_prints_the_table_writes_json_and_never_overwrites(tmp_path):
    box = np.linspace(2.0, 5.0, 20)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_e2e_doc(box.tolist(), box.tolist(), [])))
    b.write_text(json.dumps(_e2e_doc((box + 1.0).tolist(), box.tolist(), [])))
    out = tmp_path / "cmp.json"
    done = _lponet(a, b, "--output", out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| 300w_val | nme_end_to_end ↓ | 20 | 3.500 | 4.500 | +1.000 |" in done.stdout
    assert "A better" in done.stdout and "within noise" in done.stdout    # true box: equal
    doc = json.loads(out.read_text())
    assert [r["verdict"] for r in doc["rows"]] == ["A better", "within noise"]
    assert "tensorflow" not in done.stderr.lower()
    again = _lponet(a, b, "--output", out)
    assert again.returncode == 2 and "exists" in again.stderr
    onto_input = _lponet(a, b, "--output", a, "--overwrite")
    assert onto_input.returncode == 2 and "overwrite the input" in onto_input.stderr
    assert json.loads(a.read_text())["model"] == "m.tflite"
    bad = _lponet(a, tmp_path / "nope.json")
    assert bad.returncode == 2 and "nope.json: no such file" in bad.stderr
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)  # root writes there anyway: then a folder nobody can create
    unwritable = ro if os.geteuid() else pathlib.Path("/proc/self/lponet-out")
    stuck = _lponet(a, b, "--output", unwritable / "cmp.json")
    assert stuck.returncode == 2 and "cannot write output files in" in stuck.stderr
    assert "|" not in stuck.stdout                      # refused before the comparison


def test_exactly_min_faces_paired_faces_get_a_verdict():
    from lponet_tf.evaluation.compare import MIN_FACES, compare_metric

    a = np.linspace(2.0, 5.0, MIN_FACES)
    row = compare_metric("s", "nme", a, a - 1.0)
    assert row.faces == MIN_FACES and row.verdict == "B better"


def test_photos_of_one_name_in_two_folders_are_not_paired_with_each_other(tmp_path):
    """300W's LFPW numbers its train and test photos alike. A scored the train photos only,
    B (the same model, on another machine's data root) both: each train face pairs with
    itself (difference 0) and the test photos are B's alone; pairing by file name used to
    pair A's train photo with B's test photo of that name."""
    from lponet_tf.evaluation.scores import DatasetScores, FaceScore, write_per_face_csv

    def scores(root, folders):
        ds = DatasetScores()
        for i in range(12):
            for folder in folders:
                nme = 2.0 + i / 10 + (1.0 if folder == "testset" else 0.0)
                ds.add(FaceScore(f"{root}/lfpw/{folder}/image_{i:04d}.png", ("all",), "landmarks", nme=nme))
        return {"300w": ds}

    write_per_face_csv(tmp_path / "a.csv", scores("/data/300w", ["trainset"]))
    write_per_face_csv(tmp_path / "b.csv", scores("/mnt/other/300w", ["testset", "trainset"]))
    comparison = compare_files(tmp_path / "a.csv", tmp_path / "b.csv")
    (row,) = comparison.rows
    assert row.faces == 12 and row.difference == 0.0 and row.verdict == "within noise"
    assert comparison.unpaired["300w"] == (0, 12)
