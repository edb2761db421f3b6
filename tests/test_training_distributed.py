"""Distributed training is the training of one device: a MirroredStrategy run on two
logical CPUs and a MultiWorkerMirroredStrategy run of two local worker processes, each
compared weight update by weight update with one device (lponet_tf.training.equivalence).

The runs: each a fresh process (logical devices and the dtype policy are set before
TensorFlow starts), from one saved initial model, a few plain-SGD steps; the chief saves
every weight's update. float64 because in float32 the update moves by percents when only
the summation order changes, so no tight tolerance could tell a distribution bug from
rounding; in float64 it agrees to ~1e-12.
"""
import csv
import socket
import sys

import numpy as np
import pytest
import yaml

from lponet_tf.training import equivalence
from synthetic_faces import write_300w_folder

#: The smallest LPONet with every head and BatchNorm (one stack, one pooling level): graph
#: tracing, most of each short fresh-process run, stays short. Aggregation across replicas
#: (loss scaling, sample weights, BatchNorm) does not depend on the width.
DIST_MODEL = {"input_size": 16, "channels": 8, "num_stacks": 1, "hourglass_depth": 1,
              "fpf": "none", "ioaf": False, "pose": "6d", "pose_hidden": 8}
FLOAT64 = equivalence.FLOAT64
MIRRORED = ["train.distribute=mirrored", "train.devices=[/cpu:0,/cpu:1]"]


def _epoch_losses(run_dir):
    rows = list(csv.DictReader(open(run_dir / "training_log.csv")))
    return np.array([float(r["loss"]) for r in rows])


@pytest.fixture(scope="module")
def distributed_setup(tmp_path_factory):
    """Three SGD steps of batch 4 on two partial-label sources (with / without pose, 1:1,
    so pose weights are 0 for half of every batch): config, initial model, single-device
    float64 updates and run directory."""
    from lponet_tf.config import LPONetConfig
    from lponet_tf.model import build_lponet

    faces = write_300w_folder(tmp_path_factory.mktemp("faces300w"), 24)
    tmp = tmp_path_factory.mktemp("single")
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": DIST_MODEL,
        "data": {"train": [{"name": "300w", "root": str(faces), "pseudo_pose": True},
                           {"name": "300w", "root": str(faces)}],
                 "cache": True},
        "occlusion": {"approx_mask_weight": 1.0},
        "optimizer": {"name": "adam", "learning_rate": 1e-3, "decay_steps": [],
                      "decay_values": []},
        "train": {"batch_size": 4, "steps": 3, "steps_per_epoch": 3, "verbose": 0},
        "output_dir": str(tmp / "run"),
    }))
    init = tmp / "init.keras"
    build_lponet(LPONetConfig.from_dict(DIST_MODEL)).save(init)
    equivalence.run_single(cfg, tmp / "w.npz", init, FLOAT64)
    return cfg, init, equivalence.load_updates(tmp / "w.npz"), tmp / "run"


def test_mirrored_strategy_update_and_losses_equal_one_device(tmp_path, distributed_setup):
    """Two logical CPUs, float64: every weight's update after 3 steps equals one device's
    (a loss scaled by the replica count, a replica fed other data or unsynchronised
    BatchNorm would be off by far more), the log holds the same losses, the model is
    written."""
    cfg, init, single, single_dir = distributed_setup
    run = tmp_path / "run"
    done = equivalence.run_single(cfg, tmp_path / "w.npz", init,
                                  [*FLOAT64, *MIRRORED, f"output_dir={run}"])
    assert "steps 3" in done.stdout
    assert (run / "model.keras").exists()
    difference = equivalence.relative_difference(single, equivalence.load_updates(tmp_path / "w.npz"))
    print(f"mirrored float64 vs one device: {difference:.2e}")
    assert difference < 1e-8
    np.testing.assert_allclose(_epoch_losses(run), _epoch_losses(single_dir), rtol=1e-6)


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


def test_local_workers_start_again_on_new_ports_when_a_port_was_taken(tmp_path, monkeypatch):
    """free_ports releases its sockets before the workers bind them, so another process can
    take a port in between: the workers then fail to bind, and the run starts again on new
    ports; a port lost on every attempt is a PortTakenError. (Stand-in workers that only
    bind their TF_CONFIG port: no TensorFlow here.)"""
    bind = ("import json, os, socket; c = json.loads(os.environ['TF_CONFIG']); "
            "port = int(c['cluster']['worker'][c['task']['index']].rsplit(':', 1)[1]); "
            "socket.socket().bind(('localhost', port)); print('bound', port)")
    monkeypatch.setattr(equivalence, "_command", lambda *args: [sys.executable, "-c", bind])
    real, handed = equivalence.free_ports, []
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()

        def ports(n, always_taken=False):  # the first run (or every run) gets a taken port
            lost = always_taken or not handed
            handed.append([taken.getsockname()[1], *real(n - 1)] if lost else real(n))
            return handed[-1]

        monkeypatch.setattr(equivalence, "free_ports", ports)
        outputs = equivalence.run_local_workers("cfg", tmp_path, "init", [])
        assert len(handed) == 2 and outputs == [f"bound {port}\n" for port in handed[1]]

        monkeypatch.setattr(equivalence, "free_ports", lambda n: ports(n, always_taken=True))
        with pytest.raises(equivalence.PortTakenError, match="Address already in use"):
            equivalence.run_local_workers("cfg", tmp_path, "init", [], attempts=2)
        assert len(handed) == 4
