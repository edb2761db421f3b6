"""scripts/device_train.py: the GPU-machine trainer (JAX), run here on the CPU.

``run --steps`` stretches the config's learning-rate schedule to them; ``run --seconds`` puts
its decays at the same fractions of the time and stops at it; the run itself is
``lponet_tf.training.train`` under ``KERAS_BACKEND=jax`` (a subprocess: the backend is fixed
per process).
"""
import csv
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from script_modules import load_script
from synthetic_faces import write_300w_folder

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "device_train.py"


def _script():
    return load_script("scripts/device_train.py")


def test_the_schedule_is_stretched_to_the_planned_steps():
    fit = _script()._fit_schedule
    config = {"optimizer": {"name": "adam", "learning_rate": 2e-4, "decay_steps": [800, 1600, 2100],
                            "decay_values": [1e-4, 3e-5, 1e-5]},
              "train": {"steps": 2400}}
    assert fit(config, 1800)["decay_steps"] == [600, 1200, 1575]
    assert fit(config, 4800)["decay_steps"] == [1600, 3200, 4200]
    assert fit(config, 1800)["decay_values"] == [1e-4, 3e-5, 1e-5]
    with pytest.raises(SystemExit, match="too few"):
        fit(config, 2)  # the three boundaries would collapse onto one step


def test_a_schedule_in_seconds_keeps_the_fractions_of_the_steps():
    timed = _script()._time_schedule
    config = {"optimizer": {"name": "adam", "learning_rate": 2e-4, "decay_steps": [800, 1600, 2100],
                            "decay_values": [1e-4, 3e-5, 1e-5]},
              "train": {"steps": 2400}}
    opt = timed(config, 480)
    assert opt["decay_seconds"] == [160.0, 320.0, 420.0] and opt["decay_steps"] == []
    assert opt["decay_values"] == [1e-4, 3e-5, 1e-5] and opt["learning_rate"] == 2e-4
    in_seconds = {**config, "optimizer": opt}
    assert timed(in_seconds, 60) == opt  # a schedule in seconds already is kept


def test_run_trains_for_the_time_given_on_jax_with_worker_processes(tmp_path):
    bundle = tmp_path / "bundle"
    write_300w_folder(bundle / "faces" / "300w", 12)
    (bundle / "wheels").mkdir()  # Keras is installed here: nothing to install
    entry = {"name": "300w", "root": "unused", "pseudo_pose": True}
    config = {
        "model": {"input_size": 16, "channels": 8, "num_stacks": 1, "hourglass_depth": 1,
                  "fpf": "none", "ioaf": False, "pose": "6d", "pose_hidden": 8},
        "data": {"train": [entry], "validation": [dict(entry, limit=4)], "cache": True},
        "occlusion": {"approx_mask_weight": 1.0},
        "optimizer": {"name": "adam", "learning_rate": 1e-3, "decay_steps": [4],
                      "decay_values": [1e-4]},
        "train": {"batch_size": 4, "steps": 8, "steps_per_epoch": 2, "verbose": 0},
    }
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    # 30 s: the decay at step 4 of 8 falls at 15 s; more steps than 30 s can run, so time ends it.
    # (16 s was too short on a loaded 2-core machine: JAX's first epoch, compilation included,
    # took longer than that, the run stopped after it and never reached the decay.)
    cmd = [sys.executable, str(SCRIPT), "run", "--bundle", str(bundle), "--config", str(cfg),
           "--seconds", "30", "--steps", "1000000", "--calibrate", "1",
           "--workers", "2", "--processes", "--out", str(out)]
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "jax"
    assert summary["steps_planned"] == 1000000 and 0 < summary["steps"] < 1000000
    assert summary["seconds"] >= 30 and summary["data_batches_per_second"] > 0
    used = yaml.safe_load((out / "config.yaml").read_text())
    assert used["optimizer"]["decay_seconds"] == [15.0] and used["optimizer"]["decay_steps"] == []
    assert used["train"]["steps"] == 1000000
    assert used["train"]["data_workers"] == 2 and used["train"]["data_processes"] is True
    assert used["train"]["data_compact"] is True and summary["data_compact"] is True
    rows = list(csv.DictReader(open(out / "training_log.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(len(rows)))
    assert 2 * len(rows) == summary["steps"]
    rates = [float(r["learning_rate"]) for r in rows]
    # 1e-3 until the first epoch that began 15 s in, 1e-4 from then on (the run went past 30 s).
    assert len(rows) >= 2, f"one epoch took the whole {summary['seconds']:.0f} s: no decay to check"
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)
    assert rates == sorted(rates, reverse=True) and set(map(lambda r: round(r, 7), rates)) == {1e-3, 1e-4}
    assert (out / "model.keras").stat().st_size > 0 and (out / "last.keras").exists()
    again = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "exists: pass a new --out folder" in again.stderr
    assert json.loads((out / "summary.json").read_text()) == summary  # untouched
