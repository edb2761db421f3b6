"""``train(config)``: the paper's recipe (Section IV-B) with ``model.fit``.

Output directory layout::

    OUTPUT_DIR/config.yaml          resolved config (what ran)
    OUTPUT_DIR/backup/              resumable state (AtomicBackupAndRestore)
    OUTPUT_DIR/last.keras           training model after the last epoch (atomic)
    OUTPUT_DIR/best.keras           best validation loss so far (atomic, with validation)
    OUTPUT_DIR/model.keras          inference model (final heatmaps, pose, occlusion)
    OUTPUT_DIR/training_log.csv     one row per epoch (appended across resumes)
    OUTPUT_DIR/tensorboard/         TensorBoard logs
    OUTPUT_DIR/training_curves.png  losses and metrics per epoch

Running the same command again after an interruption resumes from the last complete
epoch; when the run had finished, it does nothing more than rewrite ``model.keras``.
"""
from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Optional

import keras
import tensorflow as tf
import yaml

from lponet_tf.config import LPONetConfig
from lponet_tf.model import build_lponet, inference_model
from lponet_tf.training import callbacks as cb
from lponet_tf.training.config import ConfigError
from lponet_tf.training.distribute import check_batch_split, is_chief, make_strategy
from lponet_tf.training.objectives import losses_and_weights, make_optimizer, metrics_for
from lponet_tf.training.pipelines import train_and_validation_datasets


@dataclasses.dataclass
class TrainResult:
    output_dir: pathlib.Path
    model_path: pathlib.Path
    history: dict
    steps: int
    chief: bool = True  # False on the workers of a multi-worker run that write no files


def _init_weights(model, path: str) -> None:
    """Stage 2 starts from stage 1: copy every layer whose name and shape match."""
    path = pathlib.Path(path)
    if not path.exists():
        raise ConfigError(f"init_from: {path} not found (train stage 1 first)")
    if path.suffix == ".keras":
        source = keras.models.load_model(path, safe_mode=True, compile=False)
        src = {layer.name: layer for layer in source.layers}
        for layer in model.layers:
            other = src.get(layer.name)
            if other is None or not layer.weights:
                continue
            if [w.shape for w in other.weights] == [w.shape for w in layer.weights]:
                layer.set_weights(other.get_weights())
    else:
        model.load_weights(path)


def _write_curves(csv_path: pathlib.Path, png_path: pathlib.Path) -> None:
    """Training curves PNG from the CSV log (people look at pictures)."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    def number(text):
        try:
            return float(text)
        except (TypeError, ValueError):  # CSVLogger writes "NA" for absent keys
            return float("nan")

    keys = [k for k in rows[0] if k != "epoch"]
    groups = {
        "loss": [k for k in keys if k.endswith("loss") and "_1_" not in k],
        "landmarks NME (%)": [k for k in keys if "nme" in k],
        "pose": [k for k in keys if "geodesic" in k or "pose_mae" in k],
        "mask IoU": [k for k in keys if "iou" in k],
    }
    groups = {t: ks for t, ks in groups.items() if ks}
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.5), squeeze=False)
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for ax, (title, ks) in zip(axes[0], groups.items()):
        for k in ks:
            ax.plot(epochs, [number(r[k]) for r in rows], label=k)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=6)
        if title == "loss":
            ax.set_yscale("log")
    fig.tight_layout()
    cb.atomic_write_via(png_path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)


PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "float64")


def _set_precision(policy: Optional[str]) -> None:
    """Keras dtype policy of a run (``train.mixed_precision``; None = float32).

    ``float64`` runs variables, activations and losses (which follow ``floatx``) in double
    precision: slow, for numerical checks such as comparing a multi-replica run with one
    device, where float32 rounding is amplified by the network past any tight tolerance.
    Set on every call, so a previous run's policy in the same process does not leak in.
    """
    policy = policy or "float32"
    if policy not in PRECISIONS:
        raise ConfigError(f"train.mixed_precision must be one of {PRECISIONS} or null, got {policy!r}")
    keras.config.set_floatx("float64" if policy == "float64" else "float32")
    keras.mixed_precision.set_global_policy(policy)


def train(config: dict, epochs_limit: Optional[int] = None) -> TrainResult:
    """Train LPONet as the config says; resumable.

    Args:
        config: from :func:`lponet_tf.training.config.load_config`.
        epochs_limit: stop after this many epochs in this call (tests, time slicing);
            the run can be continued later by calling ``train`` again.

    Returns:
        A :class:`TrainResult` with the output directory and the inference model path.
    """
    tcfg = config["train"]
    # First: logical devices and collective ops must be configured before TF initialises.
    strategy = make_strategy(tcfg)
    check_batch_split(strategy, int(tcfg["batch_size"]))
    out = pathlib.Path(config["output_dir"]).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(int(tcfg["seed"]))
    if tcfg.get("deterministic"):
        tf.config.experimental.enable_op_determinism()
    _set_precision(tcfg.get("mixed_precision"))

    model_cfg = LPONetConfig.from_dict(config["model"])
    chief = is_chief(strategy)
    if chief:
        cb.atomic_write_via(
            out / "config.yaml",
            lambda tmp: pathlib.Path(tmp).write_text(yaml.safe_dump(config, sort_keys=False)),
        )

    steps_per_epoch = int(tcfg["steps_per_epoch"])
    total_epochs = math.ceil(int(tcfg["steps"]) / steps_per_epoch)
    # Non-chief workers of a multi-worker run write to scratch space (TF's convention),
    # so only the chief's files are ever visible.
    write_dir = out if chief else out / f".worker-{strategy.cluster_resolver.task_id}"
    write_dir.mkdir(parents=True, exist_ok=True)
    backup = cb.AtomicBackupAndRestore(write_dir / "backup")
    done = backup.completed_epochs()
    # The stream is random-access: a resumed run starts where the last complete epoch
    # ended and sees the batches an uninterrupted run would have seen.
    train_ds, val_ds = train_and_validation_datasets(
        config, model_cfg, strategy, start_batch=done * steps_per_epoch
    )

    with strategy.scope():
        model = build_lponet(model_cfg)
        if config.get("init_from"):
            _init_weights(model, config["init_from"])
        losses, weights = losses_and_weights(model_cfg, config["loss"])
        model.compile(
            optimizer=make_optimizer(config["optimizer"]),
            loss=losses,
            loss_weights=weights,
            # weighted: a sample without a label (weight 0) must not count in its metric
            weighted_metrics=metrics_for(model_cfg),
            jit_compile=False,
        )

    callbacks = [
        backup,
        cb.ScalarLogger(),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(write_dir / "training_log.csv"), append=True),
        keras.callbacks.TensorBoard(str(write_dir / "tensorboard"), write_graph=False),
        cb.AtomicModelCheckpoint(write_dir / "last.keras"),
    ]
    if val_ds is not None:
        callbacks.append(cb.AtomicModelCheckpoint(write_dir / "best.keras", save_best_only=True))

    # fit's `epochs` is absolute; the backup sets the initial epoch when resuming.
    epochs = total_epochs if epochs_limit is None else min(total_epochs, done + int(epochs_limit))
    history = model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=val_ds,
        validation_steps=tcfg.get("validation_steps"),
        callbacks=callbacks,
        shuffle=False,  # the stream is shuffled (seeded) by the data pipeline
        verbose=tcfg.get("verbose", 1),
    )
    model_path = out / "model.keras"
    if chief:
        cb.atomic_write_via(model_path, inference_model(model).save)
        _write_curves(out / "training_log.csv", out / "training_curves.png")
    return TrainResult(
        output_dir=out,
        model_path=model_path,
        history=history.history,
        steps=int(model.optimizer.iterations.numpy()),
        chief=chief,
    )

