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


# Trains from a saved initial model, then saves the UPDATE of every weight (final - initial).
# Both runs start from the same file: variables created under a strategy draw other random
# initial values than on one device. Plain SGD: updates are proportional to the gradients,
# so a wrong aggregation across replicas (e.g. a loss scaled by the replica count) shows,
# while Adam would amplify float noise in near-zero gradients into full-size steps.
DISTRIBUTED = r"""
import sys, numpy as np, keras
from lponet_tf.training.config import load_config
from lponet_tf.training.trainer import train
cfg_path, npz, init = sys.argv[1:4]
cfg = load_config(cfg_path, sys.argv[4:] + ["optimizer.name=sgd", "optimizer.learning_rate=1e-5",
                                            f"init_from={init}"])
res = train(cfg)
if res.chief:  # the process that wrote model.keras
    m = keras.models.load_model(res.output_dir / "model.keras", compile=False)
    start = {l.name: l for l in keras.models.load_model(init, compile=False).layers}
    # Trainable weights: the gradient-driven part (BatchNorm moving statistics are
    # running averages of activations, not gradient updates).
    np.savez(npz, *[np.asarray(w, "float64") - np.asarray(i, "float64") for l in m.layers
                    if l.trainable_weights
                    for w, i in zip(l.trainable_weights, start[l.name].trainable_weights)])
print("steps", res.steps)
"""
# float64: in float32 the update itself moves by percents when only the summation order
# changes (one device, the same batch in another order: 3% after one step, 37% after
# three), so no tight tolerance could tell a distribution bug from rounding. In float64
# the same comparison agrees to ~1e-12 (docs/training.md).
FLOAT64 = ("train.mixed_precision=float64",)
MIRRORED = ("train.distribute=mirrored", "train.devices=[/cpu:0,/cpu:1]")


def _relative_difference(reference, other):
    ref, got = (np.concatenate([a.ravel() for a in arrays]) for arrays in (reference, other))
    assert np.linalg.norm(ref) > 0  # the weights moved
    return np.linalg.norm(got - ref) / np.linalg.norm(ref)


def _run_script(cfg, npz, init, *overrides, timeout=600, env=None):
    return subprocess.run(
        [sys.executable, "-c", DISTRIBUTED, str(cfg), str(npz), str(init), *overrides],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env,
    )


def _load(npz):
    with np.load(npz) as d:
        return [d[k] for k in sorted(d.files, key=lambda k: int(k.split("_")[1]))]


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
    res = _run_script(cfg, tmp / "w.npz", init, *FLOAT64)
    assert res.returncode == 0, res.stderr[-3000:]
    return cfg, init, _load(tmp / "w.npz"), tmp / "run"


def test_mirrored_strategy_update_equals_one_device(tmp_path, distributed_setup):
    """Two logical CPUs, float64: every weight's update after 3 steps equals one device's."""
    cfg, init, single, _ = distributed_setup
    res = _run_script(cfg, tmp_path / "w.npz", init, *FLOAT64, *MIRRORED,
                      f"output_dir={tmp_path / 'run'}")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "steps 3" in res.stdout
    assert _relative_difference(single, _load(tmp_path / "w.npz")) < 1e-8


def test_mirrored_strategy_in_float32_trains_on_the_same_losses(tmp_path, distributed_setup):
    """The default precision: the run completes, writes its model, and logs the losses of
    the single-device run (forward passes agree to ~1e-5; a loss scaled by the replica
    count or a replica fed other data would be off by far more than 1%)."""
    cfg, init, _, single_dir = distributed_setup
    res = _run_script(cfg, tmp_path / "w.npz", init, *MIRRORED, f"output_dir={tmp_path / 'run'}")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "steps 3" in res.stdout
    assert (tmp_path / "run" / "model.keras").exists()
    np.testing.assert_allclose(_epoch_losses(tmp_path / "run"), _epoch_losses(single_dir), rtol=0.01)


def _free_ports(n):
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_strategy_with_two_local_workers_equals_one_device(tmp_path, distributed_setup):
    """Two worker processes on localhost (TF_CONFIG), float64: the chief's update after 3
    steps equals one device's, its log holds the same losses, and only the chief writes
    the run's files (the other worker writes under .worker-1/)."""
    import os

    cfg, init, single, single_dir = distributed_setup
    cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, "-c", DISTRIBUTED, str(cfg), str(tmp_path / f"w{index}.npz"), str(init),
             *FLOAT64, "train.distribute=multi_worker", f"output_dir={tmp_path / 'run'}"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    try:
        outputs = [p.communicate(timeout=400) for p in procs]
    finally:
        for p in procs:  # a worker left alone would wait in a collective op
            p.kill()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
        assert "steps 3" in out
    run = tmp_path / "run"
    assert (run / "model.keras").exists() and (run / ".worker-1" / "training_log.csv").exists()
    assert not (tmp_path / "w1.npz").exists()  # worker 1 knows it is not the chief
    assert _relative_difference(single, _load(tmp_path / "w0.npz")) < 1e-8
    np.testing.assert_allclose(_epoch_losses(run), _epoch_losses(single_dir), rtol=1e-6)
