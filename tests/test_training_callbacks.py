"""A NaN / +-inf loss stops training with a typed error naming the epoch, before the
loggers, checkpoints and TensorBoard record that epoch (lponet_tf.training.callbacks)."""
from __future__ import annotations

import csv

import keras
import numpy as np
import pytest

from lponet_tf.errors import LPONetError
from lponet_tf.training.callbacks import (AtomicModelCheckpoint, DecayAfterSeconds, KeepEpochs,
                                          StopOnNonFiniteLoss, TrainingDivergedError)


class _BadFrom(keras.callbacks.Callback):
    """Sets ``flag`` while validating (``phase="val"``) or training (``"train"``) from
    epoch ``epoch`` on; the loss adds ``value`` where the flag is set."""

    def __init__(self, flag, epoch, phase):
        super().__init__()
        self.flag, self.epoch, self.phase, self.current = flag, epoch, phase, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        self.flag.assign(1.0 if self.phase == "train" and epoch >= self.epoch else 0.0)

    def on_test_begin(self, logs=None):
        self.flag.assign(1.0 if self.phase == "val" and self.current >= self.epoch else 0.0)

    def on_test_end(self, logs=None):
        self.flag.assign(0.0)


@pytest.mark.parametrize("value, phase, key, batch", [
    (np.inf, "val", "val_loss", None), (-np.inf, "val", "val_loss", None),
    (np.nan, "val", "val_loss", None), (np.inf, "train", "loss", 0),
])
def test_non_finite_loss_raises_naming_the_epoch_before_files_record_it(tmp_path, value, phase, key, batch):
    flag = keras.Variable(0.0, trainable=False)

    def loss(y, p):
        base = keras.ops.mean(keras.ops.square(y - p), axis=-1)
        return keras.ops.where(flag > 0, value * keras.ops.ones_like(base), base)

    inp = keras.Input((2,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss=loss)
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    callbacks = [_BadFrom(flag, 2, phase), StopOnNonFiniteLoss(),
                 keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
                 keras.callbacks.TensorBoard(str(tmp_path / "tb"), write_graph=False),
                 AtomicModelCheckpoint(tmp_path / "last_{epoch}.weights.h5", save_weights_only=True)]
    with pytest.raises(TrainingDivergedError, match=f"{key} = {value} at epoch 2") as info:
        model.fit(x, y, validation_data=(x, y), epochs=4, batch_size=2, verbose=0, callbacks=callbacks)
    err = info.value
    assert isinstance(err, LPONetError)
    assert (err.epoch, err.key, err.batch) == (2, key, batch)
    assert np.isnan(err.value) if np.isnan(value) else err.value == value
    callbacks[2].csv_file.close()
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert all(np.isfinite(float(r["val_loss"])) for r in rows)
    assert sorted(p.name for p in tmp_path.glob("last_*")) == ["last_1.weights.h5", "last_2.weights.h5"]


class _Rates(keras.callbacks.Callback):
    """The learning rate each epoch trained with (read at its first batch)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


@pytest.mark.parametrize("start, expected", [
    # Boundaries at 4 s and 10 s; epochs begin at 0, 5, 12 and 30 s.
    (1e-3, [1e-3, 1e-4, 1e-5, 1e-5]),
    (5e-5, [5e-5, 5e-5, 1e-5, 1e-5]),  # never raised (a resumed call restored 5e-5)
])
def test_decay_after_seconds_lowers_the_rate_at_the_first_epoch_past_each_boundary(start, expected):
    times = iter([0.0, 0.0, 5.0, 12.0, 30.0])  # on_train_begin, then each epoch's begin
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate=start), "mse")
    rates = _Rates()
    x = np.zeros((4, 2), np.float32)
    model.fit(x, x[:, :1], epochs=4, batch_size=2, verbose=0,
              callbacks=[DecayAfterSeconds([4, 10], [1e-4, 1e-5], clock=lambda: next(times)), rates])
    assert rates.seen == pytest.approx(expected)
    with pytest.raises(ValueError, match="2 boundaries need as many values"):
        DecayAfterSeconds([4, 10], [1e-4])


@pytest.mark.parametrize("final_rate, kept", [
    (None, [1, 2, 3, 4]),  # keep_epochs: all (a missing rate too)
    # final_rate: the float32 rate variable's 1e-5 (1.0000000e-05 ~ 9.99999975e-06) counts,
    # 1e-4 and a missing rate do not.
    (1e-5, [2, 4]),
])
def test_keep_epochs_keeps_every_epoch_or_those_at_the_final_rate(tmp_path, final_rate, kept):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keep = KeepEpochs(tmp_path / "epochs" / "epoch_{epoch:03d}.keras", final_rate=final_rate)
    keep.set_model(model)
    for epoch, logs in enumerate([{"learning_rate": 1e-4},
                                  {"learning_rate": float(np.float32(1e-5))},
                                  {},
                                  {"learning_rate": 1e-5}]):
        model.layers[0].kernel.assign(np.full((2, 1), epoch, np.float32))
        keep.on_epoch_end(epoch, logs)
    names = sorted(p.name for p in (tmp_path / "epochs").iterdir())
    assert names == [f"epoch_{e:03d}.keras" for e in kept]
    for e in kept:  # each file holds the weights of its own epoch
        loaded = keras.saving.load_model(tmp_path / "epochs" / f"epoch_{e:03d}.keras")
        np.testing.assert_array_equal(loaded.layers[0].kernel.numpy(), np.full((2, 1), e - 1))


def test_best_checkpoint_skips_an_epoch_whose_monitor_measured_nothing(tmp_path):
    """A monitored metric reads NaN when its epoch saw no label (lponet_tf.keras_metrics):
    that epoch is not "best", whether or not a best exists yet."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    best = AtomicModelCheckpoint(tmp_path / "best.keras", monitor="val_nme", save_best_only=True)
    best.set_model(model)
    for epoch, value in enumerate([float("nan"), 5.0, float("nan"), 6.0, 4.0]):
        model.layers[0].kernel.assign(np.full((2, 1), epoch, np.float32))
        best.on_epoch_end(epoch, {"val_nme": value})
        if epoch == 0:
            assert not (tmp_path / "best.keras").exists()
    assert (best.best, best.best_epoch) == (4.0, 4)
    loaded = keras.saving.load_model(tmp_path / "best.keras")
    np.testing.assert_array_equal(loaded.layers[0].kernel.numpy(), np.full((2, 1), 4))


def test_a_saved_best_of_another_monitor_or_mode_is_not_restored(tmp_path):
    from lponet_tf.training.callbacks import AtomicModelCheckpoint

    saved = {"monitor": "val_loss", "mode": "min", "best": 0.1, "best_epoch": 3}
    cb = AtomicModelCheckpoint(tmp_path / "best.keras", monitor="val_nme", save_best_only=True)
    cb.set_state(saved)
    assert (cb.best, cb.best_epoch) == (None, None)
    cb = AtomicModelCheckpoint(tmp_path / "best.keras", monitor="val_loss", mode="max",
                               save_best_only=True)
    cb.set_state(saved)
    assert (cb.best, cb.best_epoch) == (None, None)
    cb = AtomicModelCheckpoint(tmp_path / "best.keras", monitor="val_loss", save_best_only=True)
    cb.set_state(saved)
    assert (cb.best, cb.best_epoch) == (0.1, 3)


def test_best_checkpoint_keeps_the_first_epoch_of_a_tie(tmp_path):
    from lponet_tf.training.callbacks import AtomicModelCheckpoint

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    best = AtomicModelCheckpoint(tmp_path / "best.keras", monitor="val_nme", save_best_only=True)
    best.set_model(model)
    for epoch, value in enumerate([5.0, 5.0, 6.0]):  # epoch 1 equals, it does not improve
        model.layers[0].kernel.assign(np.full((2, 1), epoch, np.float32))
        best.on_epoch_end(epoch, {"val_nme": value})
    assert (best.best, best.best_epoch) == (5.0, 0)
    loaded = keras.saving.load_model(tmp_path / "best.keras")
    np.testing.assert_array_equal(loaded.layers[0].kernel.numpy(), np.zeros((2, 1)))
