"""A real learning test: `quickstart.yaml` on the real 300W faces lowers the held-out NME by
a large margin within a few CPU minutes, and leaves its logs (skipped without the data)."""
import csv
import json
import pathlib
import subprocess
import sys
import time


REPO = pathlib.Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "lponet_tf" / "configs" / "quickstart.yaml"
EVAL = REPO / "lponet_tf" / "configs" / "eval" / "300w_subset.yaml"


def _lponet(*args, timeout=900):
    res = subprocess.run([sys.executable, "-m", "lponet_tf.cli", *map(str, args)], cwd=REPO,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def _heldout_nme(model, out):
    # The eval config scores exactly the photos quickstart holds out (15%, seed 0).
    _lponet("evaluate", "--model", model, "--config", EVAL, "--output", out,
            "--quiet", "--no-plots", "--no-progress")
    result = json.loads((out / "results.json").read_text())["datasets"]["300w"]
    return result["faces"], result["landmarks"]["all"]["nme"]


def test_quickstart_learns_landmarks_on_real_faces(tmp_path, faces_300w):
    run = tmp_path / "qs"
    start = time.time()
    # Zero steps: the untrained network through the same code path, as the baseline.
    _lponet("train", "--config", QUICKSTART, "--data-root", f"300w={faces_300w}",
            "--output", tmp_path / "untrained", "--set", "train.steps=1",
            "--set", "train.steps_per_epoch=1", "--set", "optimizer.learning_rate=0.0",
            "--set", "train.verbose=0")
    faces, before = _heldout_nme(tmp_path / "untrained" / "model.keras", tmp_path / "e0")
    _lponet("train", "--config", QUICKSTART, "--data-root", f"300w={faces_300w}",
            "--output", run, "--set", "train.verbose=2")
    minutes = (time.time() - start) / 60
    _, after = _heldout_nme(run / "model.keras", tmp_path / "e1")
    print(f"quickstart: held-out NME {before:.2f}% -> {after:.2f}% on {faces} faces, "
          f"{minutes:.1f} min")
    assert faces > 100
    assert before > 30.0  # an untrained network is nowhere near the face
    assert after < 0.4 * before and after < 15.0
    rows = list(csv.DictReader(open(run / "training_log.csv")))
    assert len(rows) == 6 and float(rows[-1]["val_heatmaps_nme"]) < float(rows[0]["val_heatmaps_nme"])
    assert any((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert (run / "training_curves.png").stat().st_size > 1000
