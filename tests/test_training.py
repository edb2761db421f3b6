"""Training: model.fit end to end, atomic checkpoints, resume after SIGKILL, exact resume
(distributed runs: test_training_distributed.py)."""
import csv
import json
import pathlib
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import yaml

from lponet_tf.config import LPONetConfig
from lponet_tf.training.config import ConfigError, load_config
from synthetic_faces import write_300w_folder

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """24 synthetic faces in 300W format (image + .pts), with pseudo-pose-able landmarks."""
    return write_300w_folder(tmp_path_factory.mktemp("faces300w"), 24)


def _weights(model_path):
    """Every variable stored in a ``.keras`` file, by its path in the archive's weights
    file, as stored (loading the model would cast float64 weights to the current floatx)."""
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(model_path) as archive:
        data = io.BytesIO(archive.read("model.weights.h5"))
    out = {}
    with h5py.File(data, "r") as h5:
        h5.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                      if isinstance(obj, h5py.Dataset) else None)
    return out


def _cli(cfg, *extra):
    return [sys.executable, "-m", "lponet_tf.cli", "train", "--config", str(cfg), *extra]


def _log(run_dir):
    return list(csv.DictReader(open(run_dir / "training_log.csv")))


def _tensorboard_scalars(run_dir):
    """Every scalar of a run's TensorBoard log, read independently of the library:
    ``{(writer folder, tag): [(step, value), ...]}`` in the order TensorBoard reads them."""
    import tensorflow as tf

    scalars = {}
    for path in sorted((run_dir / "tensorboard").rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") \
                    else value.simple_value
                scalars.setdefault((path.parent.name, value.tag), []).append((event.step, number))
    return scalars


# Resume runs: the smallest LPONet (one stack, one pooling level) keeps graph tracing, the
# bulk of a short run, short. float64 so that "the same weights" can be tested to 1e-9:
# in float32 rounding differences alone grow to 1e-4 over a run. 8 epochs of 2 steps.
# best.keras follows the learning rate (train.best_monitor), whose schedule makes epoch 3
# the best one by construction (1e-3, 1e-3, 1e-3, 1e-4, then 1e-2): whether a resumed run
# keeps the right best.keras then does not hinge on how the validation loss happens to move.
RESUME_MODEL = {"input_size": 16, "channels": 8, "num_stacks": 1, "hourglass_depth": 1,
                "fpf": "none", "ioaf": False, "pose": "6d", "pose_hidden": 8}
RESUME_EPOCHS, BEST_EPOCH = 8, 3
KEPT_EPOCHS = range(BEST_EPOCH + 2, RESUME_EPOCHS + 1)  # keep_epochs: final_rate (1e-2), 1-based
SAME = dict(rtol=1e-9, atol=1e-12)  # float64 runs of the same ops in the same order


def _resume_config(folder, faces):
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"name": "300w", "root": str(faces), "pseudo_pose": True}
    cfg = {
        "model": RESUME_MODEL,
        "data": {"train": [entry], "validation": [dict(entry, limit=8)], "cache": True},
        "occlusion": {"approx_mask_weight": 1.0},
        "optimizer": {"name": "adam", "learning_rate": 1e-3,
                      "decay_steps": [2 * BEST_EPOCH, 2 * BEST_EPOCH + 2],
                      "decay_values": [1e-4, 1e-2]},
        "train": {"batch_size": 4, "steps": 2 * RESUME_EPOCHS, "steps_per_epoch": 2,
                  "verbose": 0, "mixed_precision": "float64", "best_monitor": "learning_rate",
                  "keep_epochs": "final_rate"},
        "output_dir": str(folder / "run"),
    }
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _same_run(run_dir, reference):
    """``run_dir`` ended where the uninterrupted ``reference`` run did: every epoch logged
    once with the same losses, and model.keras, last.keras and best.keras hold the same
    weights (float64, :data:`SAME`)."""
    rows, ref_rows = _log(run_dir), _log(reference.output_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(RESUME_EPOCHS))
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose([float(r[key]) for r in rows],
                                   [float(r[key]) for r in ref_rows], **SAME)
    # (a SIGKILL during a save may leave its hidden temporary file)
    kept = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "epochs").glob("epoch_*"))
    assert kept == [f"epochs/epoch_{e:03d}.keras" for e in KEPT_EPOCHS]
    # TensorBoard too: each epoch's scalars once, those of the uninterrupted run.
    got, want = _tensorboard_scalars(run_dir), _tensorboard_scalars(reference.output_dir)
    assert got.keys() == want.keys() and ("train", "epoch_loss") in want
    assert [step for step, _ in want["train", "epoch_loss"]] == list(range(RESUME_EPOCHS))
    for key, points in want.items():
        assert [s for s, _ in got[key]] == [s for s, _ in points], key
        np.testing.assert_allclose([v for _, v in got[key]], [v for _, v in points],
                                   rtol=1e-6, err_msg=str(key))  # stored as float32
    for name in ("model.keras", "last.keras", "best.keras", *kept):
        got, want = _weights(run_dir / name), _weights(reference.output_dir / name)
        assert got.keys() == want.keys() and len(want) > 50
        for key, value in want.items():
            assert value.dtype in (np.float64, np.int64), key  # int: the step counter
            np.testing.assert_allclose(got[key], value, **SAME, err_msg=f"{name}: {key}")


def _log_tensorboard_epoch(logdir, epoch):
    """Scalars of ``epoch`` as Keras' TensorBoard callback writes them (a value no real
    epoch has), in new event files of each writer folder, as a killed run leaves them."""
    import tensorflow as tf

    for folder in ("train", "validation"):
        writer = tf.summary.create_file_writer(str(logdir / folder), filename_suffix=".killed")
        with writer.as_default():
            tf.summary.scalar("epoch_loss", 123.0, step=epoch)
            if folder == "validation":
                tf.summary.scalar("evaluation_loss_vs_iterations", 123.0, step=2 * (epoch + 1))
        writer.close()


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, faces):
    """The resume config trained in one go, in this process: ``(config path, result)``."""
    from lponet_tf.training.precision import set_precision
    from lponet_tf.training.trainer import train

    cfg = _resume_config(tmp_path_factory.mktemp("reference"), faces)
    try:
        result = train(load_config(cfg))
    finally:
        set_precision(None)  # the run set float64 globally; later tests expect float32
    return cfg, result


def test_an_uninterrupted_run_writes_every_artifact(reference_run):
    _, result = reference_run
    out = result.output_dir
    assert result.steps == 2 * RESUME_EPOCHS
    for name in ("model.keras", "last.keras", "best.keras", "training_log.csv", "config.yaml",
                 "training_curves.png", "backup/latest"):
        assert (out / name).exists(), name
    assert any((out / "tensorboard").rglob("events.out.tfevents.*"))
    rows = _log(out)
    assert [int(r["epoch"]) for r in rows] == list(range(RESUME_EPOCHS))
    from lponet_tf.config import LPONetConfig
    from lponet_tf.training.trainer import logged_names

    assert set(rows[0]) - {"epoch"} == set(logged_names(LPONetConfig(**RESUME_MODEL), True))
    assert all(np.isfinite(float(r["val_loss"])) for r in rows)
    rates = [float(r["learning_rate"]) for r in rows]
    assert result.best_epoch == int(np.argmin(rates)) == BEST_EPOCH
    assert result.best_value == pytest.approx(min(rates), rel=1e-6)
    # best.keras is not last.keras: it holds the weights of an earlier epoch.
    best, last = _weights(out / "best.keras"), _weights(out / "last.keras")
    assert max(float(np.max(np.abs(best[k] - last[k]))) for k in best) > 1e-3
    # keep_epochs: final_rate kept the epochs logged at the last rate, the last one of them
    # being last.keras; an epoch at another rate was not kept.
    assert [i + 1 for i, r in enumerate(rates) if r == pytest.approx(1e-2)] == list(KEPT_EPOCHS)
    assert sorted(p.name for p in (out / "epochs").iterdir()) == [
        f"epoch_{e:03d}.keras" for e in KEPT_EPOCHS]
    final = _weights(out / "epochs" / f"epoch_{RESUME_EPOCHS:03d}.keras")
    assert final.keys() == last.keys()
    for key, value in last.items():
        np.testing.assert_array_equal(final[key], value, err_msg=key)
    first = _weights(out / "epochs" / f"epoch_{KEPT_EPOCHS[0]:03d}.keras")
    assert max(float(np.max(np.abs(first[k] - last[k]))) for k in last) > 1e-3


def test_a_run_resumed_in_slices_ends_like_an_uninterrupted_one(tmp_path, faces, reference_run):
    """Stopped with epochs_limit after the best epoch, then resumed: the same
    weights (the data stream continues, the optimizer state is restored) and the same
    best.keras and best epoch (the best value so far is part of the resumable state)."""
    from lponet_tf.training.precision import set_precision
    from lponet_tf.training.trainer import train

    _, reference = reference_run
    config = load_config(_resume_config(tmp_path, faces))
    try:
        first = train(config, epochs_limit=BEST_EPOCH + 1)
        assert first.steps == 2 * (BEST_EPOCH + 1)
        # As if killed after logging the next epoch but before saving its state: that
        # epoch is trained again and must be logged once.
        rows = _log(first.output_dir)
        with open(first.output_dir / "training_log.csv", "a", newline="") as f:
            csv.DictWriter(f, fieldnames=list(rows[0])).writerow(dict(rows[-1], epoch=BEST_EPOCH + 1))
        _log_tensorboard_epoch(first.output_dir / "tensorboard", BEST_EPOCH + 1)
        # ... and mid-write of a checkpoint (kill -9: the temporary file stays behind).
        stale = first.output_dir / ".last.3y0iljel.keras"
        stale.write_bytes(b"PK\x03\x04 half a zip")
        (first.output_dir / ".notes.txt").write_text("the user's own")
        rest = train(config)
    finally:
        set_precision(None)
    assert rest.steps == 2 * RESUME_EPOCHS
    assert (rest.best_epoch, rest.best_value) == (reference.best_epoch, reference.best_value)
    _same_run(rest.output_dir, reference)
    assert not stale.exists() and (rest.output_dir / ".notes.txt").exists()


def test_a_time_limit_stops_after_whole_epochs_and_the_run_resumes(tmp_path, faces,
                                                                   reference_run):
    """time_limit: a limit that has passed by the end of the first epoch stops there (its
    files written); the next call finishes the run as an uninterrupted one."""
    from lponet_tf.training.config import ConfigError
    from lponet_tf.training.precision import set_precision
    from lponet_tf.training.trainer import train

    _, reference = reference_run
    config = load_config(_resume_config(tmp_path, faces))
    with pytest.raises(ConfigError, match="time_limit"):
        train(config, time_limit=0)
    assert not (tmp_path / "run").exists()  # refused before anything was written
    try:
        first = train(config, time_limit=1e-6)
        assert first.steps == 2 and len(_log(first.output_dir)) == 1
        rest = train(config)
    finally:
        set_precision(None)
    assert rest.steps == 2 * RESUME_EPOCHS
    _same_run(rest.output_dir, reference)


def test_cli_refuses_a_time_limit_that_is_not_positive(tmp_path, faces):
    done = subprocess.run(_cli(_resume_config(tmp_path, faces), "--time-limit", "-5"), cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "--time-limit must be > 0" in done.stderr
    assert not (tmp_path / "run").exists()


def test_sigkill_mid_run_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, faces,
                                                                         reference_run):
    """`lponet train` killed (SIGKILL) after the best epoch was saved, then run again:
    the log, the step count, every weight of model.keras, last.keras and best.keras, and
    the best epoch are those of the uninterrupted run (float64, :data:`SAME`)."""
    _, reference = reference_run
    cfg = _resume_config(tmp_path, faces)
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(cfg), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    pointer = out / "backup" / "latest"

    def saved_epoch():
        meta = out / "backup" / pointer.read_text().strip() / "training_metadata.json"
        return json.loads(meta.read_text())["epoch"] if meta.exists() else 0

    try:
        deadline = time.time() + 600
        while time.time() < deadline and proc.poll() is None:
            if pointer.exists() and saved_epoch() > BEST_EPOCH:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = saved_epoch()
    assert BEST_EPOCH < killed_at < RESUME_EPOCHS
    keras.models.load_model(out / "last.keras", safe_mode=True, compile=False)

    done = subprocess.run(_cli(cfg), cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"trained {2 * RESUME_EPOCHS} steps" in done.stdout
    assert f"at epoch {reference.best_epoch} " in done.stdout
    assert not list((out / "backup").glob("state-*"))[1:]  # one complete state kept
    _same_run(out, reference)


def test_resuming_with_another_architecture_is_refused_before_any_work(tmp_path, faces,
                                                                       reference_run):
    """A folder holding another architecture's state: a StateMismatchError naming the
    differing fields and how to start fresh; nothing in the folder is touched."""
    import shutil

    from lponet_tf.training.config import StateMismatchError
    from lponet_tf.training.trainer import train

    cfg_path, reference = reference_run
    run = tmp_path / "run"
    shutil.copytree(reference.output_dir, run)
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    config = load_config(cfg_path, [f"output_dir={run}", "model.channels=16",
                                    "model.num_stacks=2", "optimizer.name=rmsprop"])
    with pytest.raises(StateMismatchError) as err:
        train(config)
    message = str(err.value)
    for text in ("model.channels: 8 in the saved state, 16 now",
                 "model.num_stacks: 1 in the saved state, 2 now",
                 "optimizer.name: 'adam' in the saved state, 'rmsprop' now",
                 "(--output)", str(run / "backup")):
        assert text in message
    assert "input_size" not in message  # only what differs
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before
    assert keras.mixed_precision.global_policy().name == "float32"  # refused before it was set

    # From the command line: exit 2 and the message, no traceback.
    done = subprocess.run(_cli(cfg_path, "--output", str(run), "--set", "model.channels=16"),
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "model.channels: 8 in the saved state, 16 now" in done.stderr
    assert "Traceback" not in done.stderr


def test_both_data_paths_are_built_from_one_data_plan(tmp_path, faces):
    """``data_plan`` reads a config's data options once (no TensorFlow); the tf.data and the
    numpy pipelines built from it give the same validation batches (occluded, seed + 1)."""
    from lponet_tf.config import LPONetConfig
    from lponet_tf.data.occlusion import OcclusionConfig
    from lponet_tf.training.datasets import data_plan
    from lponet_tf.training.pipelines import train_and_validation_datasets
    from lponet_tf.training.trainer import _numpy_datasets

    cfg = load_config(_resume_config(tmp_path, faces), overrides=["augment=false", "train.seed=5"])
    plan = data_plan(cfg)
    assert [(len(records), ratio) for records, ratio in plan.sources] == [(24, 1.0)]
    assert len(plan.validation) == 8 and plan.validation_seed == 6 and plan.batch_size == 4
    assert plan.augment is None and plan.cache == "decoded" and plan.mixing == "exact"
    assert plan.occlusion == OcclusionConfig(approx_mask_weight=1.0)
    model_cfg = LPONetConfig.from_dict(cfg["model"])
    _, tf_val = train_and_validation_datasets(cfg, model_cfg)
    _, np_val = _numpy_datasets(cfg, model_cfg)
    batches = list(tf_val)
    assert len(batches) == np_val.num_batches == 2
    for b, (x, y, w) in enumerate(batches):
        x2, y2, w2 = np_val[b]
        np.testing.assert_array_equal(x2, x.numpy())
        for k in y:
            np.testing.assert_array_equal(y2[k], y[k].numpy(), err_msg=k)
            np.testing.assert_array_equal(w2[k], w[k].numpy(), err_msg=k)


def test_a_missing_dataset_is_refused_before_anything_is_written(tmp_path, faces):
    """The bundled configs name example roots (/data/300w): without --data-root a run must
    stop with the dataset, the root and the flag to pass, and leave no output folder."""
    from lponet_tf.training.config import ConfigError
    from lponet_tf.training.trainer import train

    missing = tmp_path / "no_such_300w"
    config = load_config(_resume_config(tmp_path / "cfg", faces),
                         [f"output_dir={tmp_path / 'run'}", f"data.validation.0.root={missing}"])
    with pytest.raises(ConfigError, match=r"data\.validation: dataset '300w' not found at .*"
                                          r"no_such_300w .*--data-root 300w=PATH"):
        train(config)
    assert not (tmp_path / "run").exists()


def test_labels_outside_their_image_stop_a_run_before_it_starts(tmp_path, faces, monkeypatch):
    """One .pts of another copy of its photo (shifted off the 120 x 120 image) used to stop
    the run when its sample came up, after the model was built and training had begun: the
    pre-flight reads every image's size from its header and names the file first."""
    import shutil

    from lponet_tf.data.pts import read_pts, write_pts
    from lponet_tf.errors import DataError
    from lponet_tf.training import datasets
    from lponet_tf.training.trainer import train

    root = shutil.copytree(faces, tmp_path / "faces")
    bad = root / "face_017.pts"
    write_pts(bad, read_pts(bad) + 500.0)
    config = load_config(_resume_config(tmp_path / "cfg", root), [f"output_dir={tmp_path / 'run'}"])
    with pytest.raises(DataError) as err:
        datasets.data_plan(config)
    assert err.value.path == str(bad) and "the landmarks lie outside the 120x120 image" in str(err.value)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was built before the data was checked")

    monkeypatch.setattr("lponet_tf.training.trainer.build_lponet", no_model)
    with pytest.raises(DataError, match="face_017.pts"):
        train(config)
    assert not (tmp_path / "run").exists()


def test_an_output_folder_of_other_files_is_refused_unless_overwrite(tmp_path, faces):
    """`lponet train --output DIR` replaced a user's config.yaml / model.keras and deleted
    their training_log.csv: files of RUN_OUTPUTS without a resumable state are refused."""
    from lponet_tf.fileio import OutputError
    from lponet_tf.training.precision import set_precision
    from lponet_tf.training.trainer import train

    cfg_path = _resume_config(tmp_path / "cfg", faces)
    run = tmp_path / "mine"
    run.mkdir()
    (run / "training_log.csv").write_text("epoch,loss\n0,1.5\n1,1.2\n")
    (run / "model.keras").write_text("my model")
    (run / "notes.txt").write_text("kept")
    config = load_config(cfg_path, [f"output_dir={run}"])
    with pytest.raises(OutputError, match=r"holds model.keras, training_log.csv but no resumable"):
        train(config)
    assert (run / "model.keras").read_text() == "my model" and not (run / "config.yaml").exists()
    done = subprocess.run(_cli(cfg_path, "--output", str(run)), cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and "--overwrite" in done.stderr and "Traceback" not in done.stderr
    assert (run / "training_log.csv").read_text().endswith("1,1.2\n")
    try:
        train(config, epochs_limit=1, overwrite=True)
        assert [int(r["epoch"]) for r in _log(run)] == [0]      # a fresh log, not appended
        assert (run / "notes.txt").read_text() == "kept"          # not a run's file: untouched
        # a finished epoch whose backup/ was deleted: its models would be replaced, refused
        import shutil

        shutil.rmtree(run / "backup")
        with pytest.raises(OutputError, match="holds config.yaml, model.keras, best.keras, last.keras"):
            train(config, epochs_limit=1)
        # stopped before its first epoch's files (config.yaml and the log's header only):
        # the folder is this config's, and is trained again
        for name in ("model.keras", "best.keras", "last.keras"):
            (run / name).unlink()
        train(config, epochs_limit=1)
        (run / "file").write_text("x")
        with pytest.raises(OutputError, match="is a file"):
            train(load_config(cfg_path, [f"output_dir={run / 'file'}"]))
    finally:
        set_precision(None)


def test_a_resume_is_bound_to_the_config_it_started_with_but_may_run_longer(tmp_path, capsys):
    """A resumed run with another batch size, seed, data or loss used to be accepted (its
    config.yaml rewritten, batches skipped, "trained 6 steps" of 8): every config value but
    the run's length, printing, kept files, data roots and init_from now binds it."""
    from lponet_tf.training.config import StateMismatchError
    from lponet_tf.training.trainer import _check_same_run, _run_info

    def info(*overrides):
        cfg = load_config(_resume_config(tmp_path / "cfg", tmp_path / "faces"), list(overrides))
        return _run_info(LPONetConfig.from_dict(cfg["model"]), cfg)

    saved = json.loads(json.dumps(info()))  # as the state's metadata gives it back
    for allowed in (["train.steps=40"], ["train.verbose=2"], [f"data.train.0.root={tmp_path}"],
                    ["init_from=elsewhere.keras"], [f"output_dir={tmp_path / 'moved'}"]):
        _check_same_run(saved, info(*allowed), tmp_path)
    for changed, shown in ((["train.batch_size=8"], "train.batch_size: 4 in the saved state, 8 now"),
                           (["train.seed=7"], "train.seed"), (["loss.alpha=100.0"], "loss.alpha"),
                           (["data.train.0.limit=20"], "data.train.0.limit"),
                           (["train.steps_per_epoch=4"], "train.steps_per_epoch")):
        with pytest.raises(StateMismatchError, match=re.escape(shown)):
            _check_same_run(saved, info(*changed), tmp_path)
    legacy = {k: v for k, v in saved.items() if k != "config"}  # a state saved before this
    _check_same_run(legacy, info("train.seed=7"), tmp_path)
    # another backend: allowed (the state restores exactly), said aloud (another shuffle)
    _check_same_run(dict(saved, backend="jax"), info(), tmp_path)
    assert "a run started on jax continues on tensorflow" in capsys.readouterr().out
    _check_same_run({k: v for k, v in saved.items() if k != "backend"}, info(), tmp_path)
    assert capsys.readouterr().out == ""
    # The same values from another file (the run's own config.yaml, as the refusal
    # suggests, or another checkout's copy) continue the run; a changed value there does not.
    from lponet_tf.training.trainer import _config_text

    first = load_config(_resume_config(tmp_path / "cfg", tmp_path / "faces"))
    copy = tmp_path / "elsewhere" / "config.yaml"
    copy.parent.mkdir()
    copy.write_text(_config_text(first))
    again = load_config(copy)
    assert again["config_paths"] != first["config_paths"]
    _check_same_run(saved, _run_info(LPONetConfig.from_dict(again["model"]), again), tmp_path)
    changed = load_config(copy, ["train.seed=7"])
    with pytest.raises(StateMismatchError, match="train.seed"):
        _check_same_run(saved, _run_info(LPONetConfig.from_dict(changed["model"]), changed), tmp_path)


def test_init_from_is_checked_before_the_output_folder_and_never_inside_it(tmp_path):
    from lponet_tf.training.trainer import _check_init_from

    out = tmp_path / "run"
    out.mkdir()
    photo = tmp_path / "photo.keras"
    photo.write_bytes(b"\xff\xd8\xff\xe0 a JPEG")
    cases = [(out / "last.keras", "is inside output_dir"), (photo, "not a .keras archive"),
             (tmp_path, "is a folder"), (tmp_path / "w.pt", "not a .keras, .weights.h5 or .npz")]
    (out / "last.keras").write_bytes(b"PK")
    (tmp_path / "w.pt").write_bytes(b"x")
    for path, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            _check_init_from(path, out.resolve())


def test_stale_temporaries_of_the_run_only_and_one_run_per_folder(tmp_path):
    """A run into an existing folder used to delete the user's dotfiles shaped like its
    temporaries (.vscode.settings.json); two runs on one folder both appended to its log."""
    from lponet_tf.fileio import OutputError, remove_stale_temporaries
    from lponet_tf.training.trainer import RUN_TEMPORARIES, _output_lock

    for name in (".vscode.settings.json", ".last.k2j4h8x1.keras", ".epoch_003.ab12cd34.keras",
                 ".config.x1y2z3w4.yaml", ".lastly.k2j4h8x1.keras"):
        (tmp_path / name).write_text("x")
    removed = remove_stale_temporaries(tmp_path, names=RUN_TEMPORARIES)
    assert sorted(p.name for p in removed) == [".config.x1y2z3w4.yaml", ".epoch_003.ab12cd34.keras",
                                               ".last.k2j4h8x1.keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lastly.k2j4h8x1.keras", ".vscode.settings.json"]
    with _output_lock(tmp_path):
        with pytest.raises(OutputError, match="another lponet train is running on this folder"):
            with _output_lock(tmp_path):
                pass
    with _output_lock(tmp_path):  # released when the first run ended
        pass


def test_an_init_from_of_another_architecture_leaves_no_output_folder(tmp_path, faces):
    """Its layers are checked when the model is built; the output folder is made only
    after that, so the corrected command is not refused for a folder the failed one left
    (it used to hold config.yaml, and the fixed command was then refused)."""
    from lponet_tf.training.precision import set_precision
    from lponet_tf.training.trainer import train

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="elsewhere")])
    other.save(tmp_path / "other.keras")
    run = tmp_path / "run"
    config = load_config(_resume_config(tmp_path / "cfg", faces),
                         [f"output_dir={run}", f"init_from={tmp_path / 'other.keras'}"])
    try:
        with pytest.raises(ConfigError, match="layers"):
            train(config)
    finally:
        set_precision(None)
    assert not run.exists()


def test_a_finished_run_without_matplotlib_skips_its_curves_with_a_note(tmp_path, monkeypatch,
                                                                       capsys):
    """The [jax] extra lacked matplotlib and every JAX run ended with exit status 2 after
    writing its model: the curves are a picture of a finished run, not a condition of it."""
    import importlib.util

    from lponet_tf.training.trainer import _write_curves

    log = tmp_path / "training_log.csv"
    log.write_text("epoch,loss,val_loss\n0,2.0,2.5\n1,1.5,2.0\n")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    _write_curves(log, tmp_path / "training_curves.png")
    assert not (tmp_path / "training_curves.png").exists()
    assert "training_curves.png not drawn: it needs matplotlib" in capsys.readouterr().out
    monkeypatch.setattr(importlib.util, "find_spec", real)
    _write_curves(log, tmp_path / "training_curves.png")
    assert (tmp_path / "training_curves.png").stat().st_size > 1000


def test_another_backend_keeps_tensorflow_off_the_gpus(monkeypatch):
    """KERAS_BACKEND=jax with TensorFlow installed: Keras runs TensorFlow for the seeds and
    TensorBoard, which would take a GPU's memory beside JAX's; the run hides the GPUs from
    it first (a machine without TensorFlow is left alone)."""
    import tensorflow as tf

    from lponet_tf.training import trainer

    hidden = []
    monkeypatch.setattr(tf.config, "set_visible_devices",
                        lambda devices, kind=None: hidden.append((list(devices), kind)))
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    trainer._other_backend_setup({"distribute": "none", "batch_size": 4})
    assert hidden == [([], "GPU")]
    monkeypatch.setattr(trainer, "_tensorflow_installed", lambda: False)
    trainer._other_backend_setup({"distribute": "none", "batch_size": 4})
    assert len(hidden) == 1
