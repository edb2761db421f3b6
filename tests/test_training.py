"""Training: model.fit end to end, atomic checkpoints, resume after SIGKILL, exact resume,
distributed runs (two logical CPUs, two worker processes)."""
import csv
import json
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import yaml

from lponet_tf.data.pts import write_pts
from lponet_tf.training import equivalence
from lponet_tf.training.config import load_config
from synthetic_faces import write_face

REPO = pathlib.Path(__file__).resolve().parents[1]
TINY_MODEL = {"input_size": 64, "channels": 16, "hourglass_depth": 2, "fpf": "half",
              "ioaf": True, "pose": "6d"}


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """24 synthetic faces in 300W format (image + .pts), with pseudo-pose-able landmarks."""
    root = tmp_path_factory.mktemp("faces300w")
    for i in range(24):
        rec = write_face(root, f"face_{i:03d}", seed=i, shape=(120, 120))
        write_pts(root / f"face_{i:03d}.pts", rec.landmarks)
    return root


def _config(tmp_path, faces, **train):
    cfg = {
        "model": TINY_MODEL,
        "data": {"train": [{"name": "300w", "root": str(faces), "pseudo_pose": True}],
                 "cache": True},
        "occlusion": {"approx_mask_weight": 1.0},
        "optimizer": {"name": "adam", "learning_rate": 1e-3, "decay_steps": [], "decay_values": []},
        "train": {"batch_size": 4, "steps": 12, "steps_per_epoch": 3, "verbose": 0, **train},
        "output_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _weights(model_path):
    model = keras.models.load_model(model_path, safe_mode=True, compile=False)
    return [np.asarray(w) for w in model.weights]


def test_fit_writes_every_artifact_and_resumes_to_the_same_weights(tmp_path, faces):
    """One uninterrupted run vs the same run stopped after each epoch and resumed: the same
    number of steps and the same final weights (the stream is random-access, the backup
    holds the optimizer state)."""
    from lponet_tf.training.trainer import train

    (tmp_path / "a").mkdir()
    full = train(load_config(_config(tmp_path / "a", faces)))
    assert full.steps == 12
    out = full.output_dir
    for name in ("model.keras", "last.keras", "training_log.csv", "config.yaml",
                 "training_curves.png", "backup/latest"):
        assert (out / name).exists(), name
    assert any((out / "tensorboard").rglob("events.out.tfevents.*"))
    rows = list(csv.DictReader(open(out / "training_log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert all(np.isfinite(float(r["loss"])) for r in rows)

    (tmp_path / "b").mkdir()
    cfg_b = load_config(_config(tmp_path / "b", faces))
    for _ in range(4):  # one epoch per call, as if killed after each
        part = train(cfg_b, epochs_limit=1)
    assert part.steps == 12
    rows = list(csv.DictReader(open(part.output_dir / "training_log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    for wa, wb in zip(_weights(out / "model.keras"), _weights(part.output_dir / "model.keras")):
        np.testing.assert_allclose(wb, wa, rtol=1e-4, atol=1e-5)


def _cli(cfg, *extra, env=None):
    return [sys.executable, "-m", "lponet_tf.cli", "train", "--config", str(cfg), *extra]


def test_sigkill_mid_run_resumes_with_nothing_lost(tmp_path, faces):
    cfg = _config(tmp_path, faces, steps=60, steps_per_epoch=3)
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(cfg), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    pointer = out / "backup" / "latest"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if pointer.exists():
            meta = out / "backup" / pointer.read_text().strip() / "training_metadata.json"
            if meta.exists() and json.loads(meta.read_text())["epoch"] >= 2:
                break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(
        (out / "backup" / pointer.read_text().strip() / "training_metadata.json").read_text()
    )["epoch"]
    assert 2 <= killed_at < 20
    assert (out / "last.keras").exists()
    keras.models.load_model(out / "last.keras", safe_mode=True, compile=False)

    done = subprocess.run(_cli(cfg), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained 60 steps" in done.stdout
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(out / "training_log.csv"))]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 19  # no epoch twice, none after
    assert set(range(killed_at, 20)) <= set(epochs)  # the resumed run did the rest
    assert not list((out / "backup").glob("state-*"))[1:]  # one complete state kept


# The runs of lponet_tf.training.equivalence: each a fresh process, from one saved initial
# model, a few plain-SGD steps; the chief saves every weight's update. float64 because in
# float32 the update moves by percents when only the summation order changes, so no tight
# tolerance could tell a distribution bug from rounding; in float64 it agrees to ~1e-12.
FLOAT64 = equivalence.FLOAT64
MIRRORED = ["train.distribute=mirrored", "train.devices=[/cpu:0,/cpu:1]"]


def _epoch_losses(run_dir):
    rows = list(csv.DictReader(open(run_dir / "training_log.csv")))
    return np.array([float(r["loss"]) for r in rows])


@pytest.fixture(scope="module")
def distributed_setup(tmp_path_factory, faces):
    """Three SGD steps of batch 4 on two partial-label sources (with / without pose, 1:1,
    so pose weights are 0 for half of every batch): config, initial model, single-device
    float64 updates and run directory."""
    tmp = tmp_path_factory.mktemp("single")
    cfg = _config(tmp, faces, steps=3, steps_per_epoch=3, batch_size=4)
    data = yaml.safe_load(cfg.read_text())
    data["data"]["train"] = [{"name": "300w", "root": str(faces), "pseudo_pose": True},
                             {"name": "300w", "root": str(faces)}]
    cfg.write_text(yaml.safe_dump(data))
    from lponet_tf.config import LPONetConfig
    from lponet_tf.model import build_lponet

    init = tmp / "init.keras"
    build_lponet(LPONetConfig.from_dict(TINY_MODEL)).save(init)
    equivalence.run_single(cfg, tmp / "w.npz", init, FLOAT64)
    return cfg, init, equivalence.load_updates(tmp / "w.npz"), tmp / "run"


def test_mirrored_strategy_update_equals_one_device(tmp_path, distributed_setup):
    """Two logical CPUs, float64: every weight's update after 3 steps equals one device's."""
    cfg, init, single, _ = distributed_setup
    done = equivalence.run_single(cfg, tmp_path / "w.npz", init,
                                  [*FLOAT64, *MIRRORED, f"output_dir={tmp_path / 'run'}"])
    assert "steps 3" in done.stdout
    difference = equivalence.relative_difference(single, equivalence.load_updates(tmp_path / "w.npz"))
    print(f"mirrored float64 vs one device: {difference:.2e}")
    assert difference < 1e-8


def test_mirrored_strategy_in_float32_trains_on_the_same_losses(tmp_path, distributed_setup):
    """The default precision: the run completes, writes its model, and logs the losses of
    the single-device run (forward passes agree to ~1e-4; a loss scaled by the replica
    count or a replica fed other data would be off by far more than 1%)."""
    cfg, init, _, single_dir = distributed_setup
    done = equivalence.run_single(cfg, tmp_path / "w.npz", init,
                                  [*MIRRORED, f"output_dir={tmp_path / 'run'}"])
    assert "steps 3" in done.stdout
    assert (tmp_path / "run" / "model.keras").exists()
    np.testing.assert_allclose(_epoch_losses(tmp_path / "run"), _epoch_losses(single_dir), rtol=0.01)


def test_multi_worker_strategy_with_two_local_workers_equals_one_device(tmp_path, distributed_setup):
    """Two worker processes on localhost (TF_CONFIG), float64: the chief's update after 3
    steps equals one device's, its log holds the same losses, and only the chief writes
    the run's files (the other worker writes under .worker-1/)."""
    cfg, init, single, single_dir = distributed_setup
    outputs = equivalence.run_local_workers(cfg, tmp_path, init,
                                            [*FLOAT64, f"output_dir={tmp_path / 'run'}"])
    assert all("steps 3" in out for out in outputs)
    run = tmp_path / "run"
    assert (run / "model.keras").exists() and (run / ".worker-1" / "training_log.csv").exists()
    assert not (tmp_path / "w1.npz").exists()  # worker 1 knows it is not the chief
    difference = equivalence.relative_difference(single, equivalence.load_updates(tmp_path / "w0.npz"))
    print(f"multi-worker float64 vs one device: {difference:.2e}")
    assert difference < 1e-8
    np.testing.assert_allclose(_epoch_losses(run), _epoch_losses(single_dir), rtol=1e-6)
