"""Callbacks that make training safe to interrupt.

Keras' own ``ModelCheckpoint`` and ``BackupAndRestore`` write files in place: a process
killed mid-write (SIGKILL, pre-emption, out of memory) can leave a truncated checkpoint,
or new weights next to old metadata. Here every file is written to a temporary name in
the same directory and moved into place with ``os.replace`` (atomic on POSIX), and the
backup's weights and epoch counter live in one directory switched by an atomic pointer.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import shutil
import tempfile
import time
from typing import Optional

import keras
import numpy as np

from lponet_tf.errors import LPONetError
from lponet_tf.fileio import atomic_write_via  # noqa: F401  (also used as cb.atomic_write_via)


class TrainingDivergedError(LPONetError, FloatingPointError):
    """A loss became NaN or +-inf; the message names the epoch (and batch) and the value.

    Attributes:
        epoch: 0-based, as ``training_log.csv`` counts.
        batch: the training batch within the epoch, or None for an epoch-end value.
        key: the logged name (``"loss"``, ``"val_loss"``, ``"val_pose_loss"``, ...).
        value: the non-finite value.
    """

    def __init__(self, message, epoch, batch, key, value):
        super().__init__(message)
        self.epoch, self.batch, self.key, self.value = epoch, batch, key, value


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raise :class:`TrainingDivergedError` on a NaN / +-inf training or validation loss.

    Keras' ``TerminateOnNaN`` only watches the training batch loss and ends ``fit``
    quietly, so a run that diverged returned as if it had finished; a non-finite
    VALIDATION loss went unnoticed and ``-inf`` even became the "best" value for good.
    This callback raises instead, after the training batch or, for epoch values (every
    logged ``*loss``, ``val_`` ones included), before the callbacks after it see the
    epoch: list it before the loggers and checkpoints, and the logs, ``last.keras``,
    ``best.keras`` and the resumable backup all stay at the last finite epoch.

    Example:
        >>> cb = StopOnNonFiniteLoss(); cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
        >>> try:
        ...     cb.on_epoch_end(4, {"loss": 1.0, "val_loss": float("-inf")})
        ... except TrainingDivergedError as e:
        ...     print(e.epoch, e.key)
        4 val_loss
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)

    def _check(self, logs, batch=None):
        for key, value in (logs or {}).items():
            if not key.endswith("loss"):
                continue
            # A multi-worker strategy's step logs are (1,) arrays (lponet_tf.distributed_fit).
            values = np.asarray(value, dtype=np.float64).reshape(-1)
            bad = values[~np.isfinite(values)]
            if bad.size:
                where = f"epoch {self._epoch}" + ("" if batch is None else f", batch {batch}")
                raise TrainingDivergedError(
                    f"training diverged: {key} = {bad[0]} at {where} (0-based, as "
                    f"training_log.csv counts); the logs, checkpoints and backup hold the "
                    f"last finite epoch. Lower optimizer.learning_rate or set "
                    f"optimizer.clipnorm and resume, or start afresh",
                    self._epoch, batch, key, float(bad[0]))

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:  # the running mean of the epoch so far
            self._check({"loss": logs["loss"]}, int(batch))

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = int(epoch)
        self._check(logs)


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Save the model (``.keras``) or weights (``.weights.h5``) atomically.

    With ``save_best_only`` the best value so far and its epoch are state that a resumed
    run must continue from (else the first epoch after a resume always "improves"): pass
    the callback to :class:`AtomicBackupAndRestore` ``stateful=[...]``, which saves and
    restores :meth:`get_state` with the weights.

    Args:
        filepath: may contain ``{epoch}`` and metric names like ``{val_loss:.3f}``.
        monitor: metric to compare when ``save_best_only``.
        save_best_only: only write when ``monitor`` improved (a NaN value, a metric that
            saw no label, never does).
        mode: ``"min"`` or ``"max"``.
        save_weights_only: write ``.weights.h5`` instead of a full ``.keras``.

    Attributes:
        best: the best ``monitor`` value so far (None before the first).
        best_epoch: its epoch, 0-based as in ``training_log.csv`` (None before the first).
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="min",
                 save_weights_only=False):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.filepath = str(filepath)
        self.monitor = monitor
        self.mode = mode
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
        self.best = None
        self.best_epoch = None

    @property
    def state_key(self) -> str:
        """Name of this callback's entry in a backup's metadata."""
        return f"checkpoint:{pathlib.Path(self.filepath).name}"

    def get_state(self) -> dict:
        return {"monitor": self.monitor, "mode": self.mode, "best": self.best,
                "best_epoch": self.best_epoch}

    def set_state(self, state) -> None:
        # A state kept for another monitor or mode says nothing about this one.
        if state and state.get("monitor") == self.monitor and state.get("mode") == self.mode:
            self.best, self.best_epoch = state.get("best"), state.get("best_epoch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = logs.get(self.monitor)
            # NaN: a metric that saw no labelled sample this epoch measured nothing.
            if value is None or not math.isfinite(float(value)) or (
                    self.best is not None and not self.better(value, self.best)):
                return
            self.best, self.best_epoch = float(value), int(epoch)
        path = self.filepath.format(epoch=epoch + 1, **logs)
        save = self.model.save_weights if self.save_weights_only else self.model.save
        atomic_write_via(path, save)


class KeepEpochs(AtomicModelCheckpoint):
    """Keep the model after each epoch (``{epoch}`` in ``filepath``), or only after the
    epochs that end at ``final_rate``, for averaging the weights of the last epochs
    (stochastic weight averaging, Izmailov et al. 2018; ``scripts/average_weights.py``).

    The rate is the logged ``learning_rate`` (:class:`ScalarLogger` runs first). A resumed
    run rewrites the file of the epoch it repeats, so the files match an uninterrupted run.

    Args:
        filepath: e.g. ``OUTPUT_DIR/epochs/epoch_{epoch:03d}.keras``.
        final_rate: keep only epochs that end at this rate (relative tolerance 1e-5, the
            rate being a float32 variable); None keeps every epoch.
    """

    def __init__(self, filepath, final_rate: Optional[float] = None):
        super().__init__(filepath)
        self.final_rate = final_rate

    def on_epoch_end(self, epoch, logs=None):
        rate = (logs or {}).get("learning_rate")
        if self.final_rate is not None and (
                rate is None or not math.isclose(rate, self.final_rate, rel_tol=1e-5)):
            return
        super().on_epoch_end(epoch, logs)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backup survives being killed at any instant.

    Each save goes to a fresh ``state-<n>/`` directory (weights including the optimizer
    state, plus the epoch counter); a one-line ``latest`` file, replaced atomically, names
    the complete one. On restart ``fit`` resumes at the epoch after the last complete save,
    with the optimizer's step counter, hence the learning-rate schedule, where it was.

    The metadata also holds ``run`` (what the caller says the state was made by, e.g. the
    architecture, for :meth:`saved_metadata` to compare before a resume) and the state of
    the ``stateful`` callbacks. List this callback AFTER those in ``fit``'s callbacks, so
    that each save holds their state of the same epoch (a kill between their file and the
    backup then replays that epoch, which writes the same file again).

    Args:
        backup_dir: directory for the backups (kept after training unless
            ``delete_checkpoint=True``).
        save_freq: ``"epoch"`` or a number of batches.
        delete_checkpoint: delete the backup when training finishes normally.
        run_info: JSON-serialisable description of the run, saved with each state.
        stateful: callbacks with ``state_key``, ``get_state()`` and ``set_state(state)``.
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=False,
                 run_info=None, stateful=()):
        super().__init__(backup_dir, save_freq=save_freq, delete_checkpoint=delete_checkpoint)
        self._pointer = pathlib.Path(backup_dir) / "latest"
        self.run_info = run_info
        self.stateful = list(stateful)

    def _state_dir(self):
        if not self._pointer.exists():
            return None
        name = self._pointer.read_text().strip()
        path = pathlib.Path(self.backup_dir) / name
        return path if (path / "latest.weights.h5").exists() else None

    def saved_metadata(self):
        """The last complete backup's metadata (``epoch``, ``step``, ``run``, ...), or None."""
        state = self._state_dir()
        if state is None:
            return None
        return json.loads((state / "training_metadata.json").read_text())

    def completed_epochs(self) -> int:
        """Epochs finished by the last complete backup (0 when there is none)."""
        meta = self.saved_metadata()
        return 0 if meta is None else int(meta["epoch"])

    def on_train_begin(self, logs=None):
        self._load_model()

    def _load_model(self):
        state = self._state_dir()
        if state is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(state / "latest.weights.h5")
        except ValueError as exc:  # a state from an older version, without `run` to compare
            from lponet_tf.training.config import StateMismatchError

            first = str(exc).strip().splitlines()[0][:300]
            raise StateMismatchError(
                f"{state}: the saved training state does not fit this model ({first}). "
                f"To start fresh, use another output_dir or delete {self.backup_dir}"
            ) from None
        meta = json.loads((state / "training_metadata.json").read_text())
        states = meta.get("callbacks") or {}
        for callback in self.stateful:
            callback.set_state(states.get(callback.state_key))
        self.model._initial_epoch = meta["epoch"]
        self._current_epoch = meta["epoch"]

    def _save_model(self):
        root = pathlib.Path(self.backup_dir)
        root.mkdir(parents=True, exist_ok=True)
        state = pathlib.Path(tempfile.mkdtemp(prefix="state-", dir=root))
        self.model.save_weights(str(state / "latest.weights.h5"))
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                "step": int(self.model.optimizer.iterations.numpy()), "run": self.run_info,
                "callbacks": {c.state_key: c.get_state() for c in self.stateful}}
        (state / "training_metadata.json").write_text(json.dumps(meta))
        for f in state.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        previous = self._state_dir()
        atomic_write_via(self._pointer, lambda tmp: pathlib.Path(tmp).write_text(state.name))
        if previous is not None and previous != state:
            shutil.rmtree(previous, ignore_errors=True)
        # A kill between mkdtemp and the pointer switch leaves an orphan: sweep them.
        for orphan in root.glob("state-*"):
            if orphan != state:
                shutil.rmtree(orphan, ignore_errors=True)


class StopAfterSeconds(keras.callbacks.Callback):
    """End ``fit`` after the first epoch that ends ``seconds`` after training began.

    Whole epochs only, after every file of that epoch is written (place it after the
    checkpoint and backup callbacks), so the run resumes where it stopped.
    """

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = float(seconds)
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self._start >= self.seconds:
            self.model.stop_training = True


class DecayAfterSeconds(keras.callbacks.Callback):
    """Lower the learning rate at wall-clock boundaries: ``values[i]`` from the first epoch
    that begins ``seconds[i]`` after training began (``optimizer.decay_seconds``).

    For a run given a fixed time rather than a number of steps (how many fit is known only
    once it runs): the schedule's shape is kept whatever the speed. Epoch granularity (the
    JAX backend reads the optimizer's variables at epoch starts), and the rate is never
    raised: a resumed call, whose clock starts again, keeps the lower rate it restored.

    Args:
        seconds: increasing boundaries, seconds after ``on_train_begin``.
        values: the learning rate from each boundary on.
        clock: seconds now (tests pass their own).
    """

    def __init__(self, seconds, values, clock=time.monotonic):
        super().__init__()
        if len(seconds) != len(values):
            raise ValueError(f"{len(seconds)} boundaries need as many values, got {len(values)}")
        self.seconds, self.values = [float(s) for s in seconds], [float(v) for v in values]
        self.clock = clock
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = self.clock()

    def on_epoch_begin(self, epoch, logs=None):
        elapsed = self.clock() - self._start
        passed = [v for s, v in zip(self.seconds, self.values) if elapsed >= s]
        if not passed:
            return
        lr = self.model.optimizer.learning_rate
        current = float(keras.ops.convert_to_numpy(lr))
        if passed[-1] < current:
            lr.assign(passed[-1])


class ScalarLogger(keras.callbacks.Callback):
    """Add the learning rate to the epoch logs (seen by CSVLogger and TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        opt = self.model.optimizer
        lr = opt.learning_rate
        if callable(lr) and not isinstance(lr, keras.Variable):
            lr = lr(opt.iterations)
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
