"""``train(config)``: the paper's recipe (Section IV-B) with ``model.fit``.

Output directory layout::

    OUTPUT_DIR/config.yaml          resolved config (what ran)
    OUTPUT_DIR/backup/              resumable state (AtomicBackupAndRestore): weights, optimizer
                                state, epoch, best val_loss and its epoch, architecture
    OUTPUT_DIR/last.keras           training model after the last epoch (atomic)
    OUTPUT_DIR/best.keras           best train.best_monitor (val_loss) so far (atomic, with validation)
    OUTPUT_DIR/model.keras          inference model (final heatmaps, pose, occlusion)
    OUTPUT_DIR/epochs/              training model after each epoch (train.keep_epochs: all)
                                or each epoch at the last learning rate (final_rate), for
                                scripts/average_weights.py
    OUTPUT_DIR/training_log.csv     one row per epoch (appended across resumes)
    OUTPUT_DIR/tensorboard/         TensorBoard logs (when TensorFlow is installed)
    OUTPUT_DIR/training_curves.png  losses and metrics per epoch

Running the same command again after an interruption resumes from the last complete
epoch; when the run had finished, it does nothing more than rewrite ``model.keras``. A
config whose architecture (``model``) or optimizer differs from the saved state's is
refused before any work (:class:`StateMismatchError`).

Backends (``docs/training.md``, "Backends"): on TensorFlow the data comes from the
``tf.data`` pipelines and ``train.distribute`` picks a ``tf.distribute`` strategy; on JAX
(``KERAS_BACKEND=jax``, no TensorFlow needed) from the numpy pipeline
(:class:`lponet_tf.data.numpy_pipeline.FaceBatches`), the step is jit-compiled and
several devices are used by ``keras.distribution.DataParallel``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import math
import pathlib
import shutil
from typing import Optional

import keras
import numpy as np
import yaml

from lponet_tf.config import LPONetConfig
from lponet_tf.fileio import remove_stale_temporaries
from lponet_tf.data.numpy_pipeline import blas_threads
from lponet_tf.model import build_lponet, inference_model, output_names
from lponet_tf.training import callbacks as cb
from lponet_tf.training import schema as S
from lponet_tf.training.config import ConfigError, StateMismatchError, validate_config
from lponet_tf.training.datasets import check_roots, data_plan
from lponet_tf.training.objectives import losses_and_weights, make_optimizer, metrics_for
from lponet_tf.training.precision import check_precision, set_precision
from lponet_tf.training.tensorboard_log import trim_event_files


@dataclasses.dataclass
class TrainResult:
    output_dir: pathlib.Path
    model_path: pathlib.Path
    history: dict
    steps: int
    chief: bool = True  # False on the workers of a multi-worker run that write no files
    best_epoch: Optional[int] = None  # epoch of best.keras (0-based, as in training_log.csv)
    best_value: Optional[float] = None  # its val_loss


#: ``init_from: preset:NAME`` starts from a preset's bundled weights, wherever installed.
PRESET_PREFIX = "preset:"


def init_from_path(value) -> pathlib.Path:
    """The file ``init_from`` names: a path (relative to the folder ``lponet train`` runs in)
    or ``preset:NAME``, the preset's bundled ``.weights.npz``.

    Raises:
        ConfigError: no such file, or a preset without weights.
    """
    text = str(value)
    if text.startswith(PRESET_PREFIX):
        from lponet_tf.presets import get_preset

        preset = get_preset(text[len(PRESET_PREFIX):])  # unknown: PresetError naming them
        if not preset.has_weights:
            raise ConfigError(f"init_from: {text}: the preset has no bundled weights")
        return pathlib.Path(preset.weights_path)
    path = pathlib.Path(text)
    if not path.exists():
        raise ConfigError(f"init_from: {path} not found (relative paths are from the folder "
                          f"lponet train runs in: train the stage that writes it first; "
                          f"{PRESET_PREFIX}NAME starts from a preset's bundled weights)")
    return path


def _check_init_from(path: pathlib.Path, out: pathlib.Path) -> None:
    """Refuse, before the output folder is touched, an ``init_from`` file inside it (the
    run would write over its own input, or continue the run that folder holds) and a file
    that is not of the kind its name says (a photo named ``.keras``); whether its layers
    fit the model is checked when the model is built, before ``config.yaml`` is written."""
    import zipfile

    resolved = path.expanduser().resolve()
    if resolved == out or out in resolved.parents:
        raise ConfigError(f"init_from: {path} is inside output_dir {out}: the run would write "
                          "over its own input; choose another output folder")
    if resolved.is_dir():
        raise ConfigError(f"init_from: {path} is a folder, not a .keras, .weights.h5 or .npz file")
    kind = {".keras": "a .keras archive", ".npz": "an .npz archive", ".h5": "an HDF5 weights file"}
    if path.suffix not in kind:
        raise ConfigError(f"init_from: {path}: not a .keras, .weights.h5 or .npz file")
    with open(resolved, "rb") as fh:
        head = fh.read(8)
    is_kind = (head == b"\x89HDF\r\n\x1a\n" if path.suffix == ".h5"
               else zipfile.is_zipfile(resolved))
    if not is_kind:
        raise ConfigError(f"init_from: {path}: not {kind[path.suffix]} (its first bytes are not)")


def _init_weights(model, path: str) -> int:
    """Stage 2 starts from stage 1: copy every layer whose name and shape match.

    Returns:
        the number of layers copied (layers with weights).

    Raises:
        ConfigError: the file is missing or not a model / weights file, or fewer than
            half of ``model``'s layers fit it (another architecture: training would start
            mostly from scratch).
    """
    path = init_from_path(path)
    copied = 0
    try:
        if path.suffix == ".keras":
            source = keras.models.load_model(path, safe_mode=True, compile=False)
            src = {layer.name: layer for layer in source.layers}
            for layer in model.layers:
                other = src.get(layer.name)
                if other is None or not layer.weights:
                    continue
                if [w.shape for w in other.weights] == [w.shape for w in layer.weights]:
                    layer.set_weights(other.get_weights())
                    copied += 1
        elif path.suffix == ".npz":  # a preset's archive (fine-tuning lponet_lite): same rule
            with np.load(path) as data:
                stored = dict(data)
            for layer in model.layers:
                keys = [f"{layer.name}/{w.name}" for w in layer.weights]
                if keys and all(k in stored and stored[k].shape == tuple(w.shape)
                                for k, w in zip(keys, layer.weights)):
                    layer.set_weights([stored[k].astype("float32") for k in keys])
                    copied += 1
        else:
            model.load_weights(path)  # .weights.h5: Keras checks every variable itself
            copied = sum(1 for layer in model.layers if layer.weights)
    except ConfigError:
        raise
    except Exception as exc:  # a JPEG named .keras, a truncated file, another format
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ConfigError(f"init_from: {path}: not a model or weights file this run can load "
                          f"({first})") from None
    total = sum(1 for layer in model.layers if layer.weights)
    if copied < total / 2:  # stage 1 -> 2 copies all; an inference archive all but a head
        raise ConfigError(f"init_from: {path}: only {copied} of this model's {total} layers "
                          "fit it (names and shapes differ: another architecture?); training "
                          "would start mostly from scratch")
    return copied


def _write_curves(csv_path: pathlib.Path, png_path: pathlib.Path) -> None:
    """Training curves PNG from the CSV log (people look at pictures); without matplotlib
    a note says so: the run itself has finished and must not end as a failure."""
    import csv

    if importlib.util.find_spec("matplotlib") is None:
        print(f"{png_path.name} not drawn: it needs matplotlib (pip install 'lponet-tf[plot]'); "
              f"the log is {csv_path}", flush=True)
        return
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


def _trim_log(csv_path: pathlib.Path, done: int) -> None:
    """Keep only the rows of the epochs the resumable state holds: an epoch logged, then
    killed before its state was saved, is trained again and must not be logged twice."""
    import csv

    if not csv_path.exists():
        return
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    index = header.index("epoch") if "epoch" in header else None
    kept = [r for r in body if index is not None and r and r[index].isdigit() and int(r[index]) < done]
    if kept == body:
        return
    if not kept:  # nothing of the saved state: the next run writes a fresh header
        csv_path.unlink()
        return

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows([header, *kept])

    cb.atomic_write_via(csv_path, write)


def logged_names(model_cfg: LPONetConfig, validation: bool) -> list:
    """The values each epoch logs (``training_log.csv`` columns but ``epoch``): the losses,
    the metrics of :func:`metrics_for`, with ``val_`` twins when validating, and the
    learning rate."""
    names = ["loss", *(f"{n}_loss" for n in output_names(model_cfg.num_stacks)),
             *(f"{out}_{m.name}" for out, ms in metrics_for(model_cfg).items() for m in ms)]
    return names + [f"val_{n}" for n in names if validation] + ["learning_rate"]


#: Config keys a resumed run may change: how long it runs (a run is extended by a larger
#: ``train.steps``), what it prints and keeps, where its data and its first weights are
#: (another machine's mount; ``init_from`` is not read on resume: the state holds every
#: weight). Every other key binds the run: its batches, schedule and losses would not
#: continue the epochs before.
RESUMABLE_CHANGES = ("output_dir", "init_from", "train.steps", "train.verbose",
                     "train.keep_epochs", "train.data_workers",
                     # where the YAML lies (another checkout, install or the run's own
                     # config.yaml): its values, compared here, bind the run
                     "config_paths")


def _flat(tree, prefix: str = "") -> dict:
    out = {}
    for key, value in (tree or {}).items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):  # data.train.0.name, ...
                out.update(_flat(item, f"{prefix}{key}.{i}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _run_info(model_cfg: LPONetConfig, config: dict) -> dict:
    """What a resumable state is bound to: the variables it holds (architecture, and the
    optimizer's slots), and every config value a resume must keep (all but
    :data:`RESUMABLE_CHANGES` and the data roots)."""
    bound = {key: value for key, value in _flat(config).items()
             if key not in RESUMABLE_CHANGES and not key.startswith("model.")
             and not (key.startswith("data.") and key.endswith(".root"))}
    # as the state's JSON metadata will give it back (tuples as lists)
    bound = json.loads(json.dumps({key: bound[key] for key in sorted(bound)}))
    return {"model": model_cfg.to_dict(), "optimizer": {"name": config["optimizer"]["name"]},
            "config": bound, "backend": keras.backend.backend()}


def _check_same_run(saved: dict, current: dict, write_dir: pathlib.Path) -> None:
    def show(values, key):
        return repr(values[key]) if key in values else "(not set)"

    def keyed(info):
        values = _flat({k: v for k, v in info.items() if k != "config"})
        values.update(info.get("config") or {})
        return values

    if "config" not in saved:  # a state saved before the config was bound: as it was then
        current = {k: v for k, v in current.items() if k != "config"}
    # Another backend restores the state exactly but shuffles with its own pipeline: the
    # rest of the data epoch comes in another order (some faces twice, others not).
    before, now = saved.get("backend"), current.get("backend")
    if before is not None and before != now:
        print(f"{write_dir}: a run started on {before} continues on {now}: its data pipeline "
              f"shuffles differently, so the rest of this data epoch comes in another order "
              f"(statistically the same run, not batch for batch)", flush=True)
    saved, current = ({k: v for k, v in info.items() if k != "backend"} for info in (saved, current))
    old, new = keyed(saved), keyed(current)
    diffs = [f"{key}: {show(old, key)} in the saved state, {show(new, key)} now"
             for key in sorted(set(old) | set(new)) if show(old, key) != show(new, key)]
    if diffs:
        raise StateMismatchError(
            f"{write_dir}: the resumable state there was trained with another configuration "
            f"({'; '.join(diffs)}). To start fresh, pass another output directory "
            f"(--output) or delete {write_dir / 'backup'}; to continue that run, use its "
            f"configuration ({write_dir / 'config.yaml'})")


def _tensorflow_installed() -> bool:
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except ImportError:  # an import hook that refuses it
        return False


def _hide_gpus_from_tensorflow() -> None:
    """On another backend with TensorFlow installed, Keras still runs TensorFlow for the
    seeds and the TensorBoard callback, and TensorFlow takes nearly all of a GPU's memory
    when it first touches one, beside JAX's own pool: it is kept to the CPU (what Keras'
    guides advise for tf.data beside JAX). Too late once TensorFlow has started."""
    if not _tensorflow_installed():
        return
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TensorFlow's devices are already initialised in this process
        pass


def _other_backend_setup(tcfg: dict) -> None:
    """JAX / PyTorch: no ``tf.distribute``; several JAX devices -> ``DataParallel``."""
    _hide_gpus_from_tensorflow()
    kind = str(tcfg.get("distribute", "none")).lower()
    if kind not in ("none", "default", ""):
        raise ConfigError(f"train.distribute={kind} is a tf.distribute strategy: it needs "
                          f"KERAS_BACKEND=tensorflow (on {keras.backend.backend()}, the "
                          "devices of this machine are used by keras.distribution)")
    if keras.backend.backend() == "jax":
        devices = keras.distribution.list_devices()
        if tcfg.get("devices"):  # e.g. ["/gpu:0", "/gpu:1"] as for tf.distribute
            def plain(name):
                return str(name).lower().lstrip("/").replace("device:", "")

            wanted = [plain(d) for d in tcfg["devices"]]
            unknown = [d for d, w in zip(tcfg["devices"], wanted) if w not in map(plain, devices)]
            if unknown:
                raise ConfigError(f"train.devices {unknown}: not devices of this JAX process "
                                  f"({', '.join(map(str, devices))})")
            devices = [d for d in devices if plain(d) in wanted]
        if len(devices) > 1:
            if int(tcfg["batch_size"]) % len(devices):
                raise ConfigError(f"train.batch_size {tcfg['batch_size']} does not split over "
                                  f"{len(devices)} devices")
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        else:  # not an earlier run's of this process
            keras.distribution.set_distribution(None)


def _keep_epochs(which: str, optimizer: dict, write_dir: pathlib.Path) -> list:
    """``train.keep_epochs`` as callbacks: none, all, or the epochs at the last rate."""
    if which == "none":
        return []
    final = (optimizer["decay_values"] or [optimizer["learning_rate"]])[-1]
    return [cb.KeepEpochs(write_dir / "epochs" / "epoch_{epoch:03d}.keras",
                          final_rate=float(final) if which == "final_rate" else None)]


def _numpy_datasets(config: dict, model_cfg: LPONetConfig, start_batch: int = 0, plan=None):
    """``(train, validation or None)`` as :func:`lponet_tf.training.pipelines.
    train_and_validation_datasets`, from the numpy pipeline (no TensorFlow): the same
    :func:`~lponet_tf.training.datasets.data_plan` ("exact" mixing only), the same seeds."""
    from lponet_tf.data.numpy_pipeline import FaceBatches

    if config["data"].get("mixing", "exact") != "exact":
        raise ConfigError("data.mixing=sampled needs the tf.data pipeline (TensorFlow backend)")
    plan = plan or data_plan(config)
    # FaceBatches keeps decoded images only: any data.cache means that.
    cache = bool(plan.cache)
    # Batch b is a pure function of b: any number of workers, threads or processes, gives
    # the same stream. Threads by default: Keras forks its worker processes, and JAX warns
    # that a fork of its multithreaded process can deadlock.
    workers = int(config["train"]["data_workers"])
    train = FaceBatches(plan.sources, model_cfg, plan.batch_size, augment=plan.augment,
                        occlusion=plan.occlusion, seed=plan.seed, start_batch=start_batch,
                        cache=cache, compact=bool(config["train"]["data_compact"]),
                        workers=workers, max_queue_size=max(10, 2 * workers),
                        use_multiprocessing=bool(config["train"]["data_processes"]) and workers > 1)
    if plan.validation is None:
        return train, None
    validation = list(plan.validation)
    distribution = keras.distribution.distribution()
    devices = distribution.device_mesh.devices.size if distribution is not None else 1
    extra = (len(validation) % plan.batch_size) % devices
    if extra:  # a last batch that does not split over the devices stops fit after an epoch
        print(f"validation: {len(validation) - extra} of {len(validation)} faces (the last "
              f"batch must split over {devices} devices)", flush=True)
        validation = validation[:-extra]
    val = FaceBatches([(validation, 1)], model_cfg, plan.batch_size, occlusion=plan.occlusion,
                      seed=plan.validation_seed, repeat=False, cache=True)
    return train, val


#: What a run writes in its output folder (besides worker scratch space).
RUN_OUTPUTS = ("config.yaml", "model.keras", "best.keras", "last.keras", "training_log.csv",
               "training_curves.png", "epochs", "tensorboard", "backup")
#: The name prefixes of the files a run writes atomically (``epochs/epoch_NNN.keras`` included): a
#: temporary of another name in its folder is not the run's to remove.
RUN_TEMPORARIES = ("config.", "model.", "best.", "last.", "training_curves.", "epoch_")


def _config_text(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def _claim_output(out: pathlib.Path, config: dict, resuming: bool, overwrite: bool) -> None:
    """Refuse an output folder holding files no resumable run of this config made.

    A folder with a resumable state is a run's (resumed; ``_check_same_run`` compared it
    with this config), and so is one whose ``config.yaml`` is this config's (the run was
    stopped before its first state was saved). Otherwise files of :data:`RUN_OUTPUTS` there
    are another run's or the user's own: they would be replaced or deleted, so they need
    ``overwrite``, which removes them first (a fresh run must not append to an old log).
    """
    from lponet_tf.fileio import OutputError

    if out.exists() and not out.is_dir():
        raise OutputError(out, "is a file; output_dir (--output) must be a folder")
    if resuming or not out.is_dir():
        return
    own = out / "config.yaml"
    finished = [name for name in ("model.keras", "best.keras", "last.keras", "epochs")
                if (out / name).exists()]
    if (own.is_file() and own.read_text(errors="replace") == _config_text(config)
            and not finished):  # stopped before its first epoch: nothing of it to lose
        return
    earlier = [name for name in RUN_OUTPUTS if (out / name).exists()]
    if not earlier:
        return
    if not overwrite:
        raise OutputError(out, f"holds {', '.join(earlier)} but no resumable training state "
                               "(another program's files, or a run of another config whose "
                               "backup/ is gone); give --overwrite to replace them, or choose "
                               "another output folder")
    for name in earlier:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def train(config: dict, epochs_limit: Optional[int] = None,
          time_limit: Optional[float] = None, overwrite: bool = False) -> TrainResult:
    """Train LPONet as the config says; resumable.

    Args:
        config: from :func:`lponet_tf.training.config.load_config` (a plain dict is
            checked the same way).
        epochs_limit: stop after this many epochs in this call (tests, time slicing);
            the run can be continued later by calling ``train`` again.
        time_limit: stop at the end of the first epoch that ends after this many seconds
            of this call (a machine lent for a while); resumable as ``epochs_limit``.
        overwrite: an output folder that holds files of :data:`RUN_OUTPUTS` but no
            resumable state and no ``config.yaml`` of this config (the user's files, or a
            run whose ``backup/`` is gone) is refused unless this is set; then those files
            are removed before the run starts.

    Returns:
        A :class:`TrainResult` with the output directory and the inference model path.

    Raises:
        ConfigError: the config breaks the schema, or (:class:`StateMismatchError`) the
            output folder holds the state of a run of another config (all but
            :data:`RESUMABLE_CHANGES` and the data roots), or a dataset root does not exist,
            or ``init_from`` is missing, inside ``output_dir`` or not the file its name
            says; all before any data is read, model built or file written. An
            ``init_from`` whose layers do not fit the model is refused once the model is
            built, before ``config.yaml`` is written.
        DataError: a dataset's file is missing or not an image, or a face's landmarks lie
            mostly outside its image (labels of another copy of the photo); named, before
            the output folder is made or the model built.
        OutputError: ``output_dir`` is a file, or holds files that are not a resumable
            run's (see ``overwrite``), or another run holds its lock (``.lock``); also
            before anything is written.
        TrainingDivergedError: a training or validation loss became NaN or +-inf; it names
            the epoch, and the files hold the last finite epoch
            (:class:`~lponet_tf.training.callbacks.StopOnNonFiniteLoss`).
    """
    with contextlib.ExitStack() as held:  # the output folder's lock, released however it ends
        return _train(config, epochs_limit, time_limit, overwrite, held)


@contextlib.contextmanager
def _output_lock(out: pathlib.Path):
    """An exclusive lock on ``out/.lock`` for the run: a second ``lponet train`` on the same
    folder (a job submitted twice) is refused instead of both appending to one log and
    deleting each other's states. POSIX ``flock``, released by the OS if the process dies;
    where there is none (Windows) no lock is taken."""
    from lponet_tf.fileio import OutputError

    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(out / ".lock", "a") as fh:  # appended to, never written over
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(out, "another lponet train is running on this folder (it holds "
                                   f"{out / '.lock'}); wait for it, or choose another output "
                                   "folder") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _train(config: dict, epochs_limit: Optional[int], time_limit: Optional[float],
           overwrite: bool, held: contextlib.ExitStack) -> TrainResult:
    config = validate_config(config)
    if epochs_limit is not None and int(epochs_limit) < 1:
        raise ConfigError(f"epochs_limit must be >= 1, got {epochs_limit}")
    if time_limit is not None and not float(time_limit) > 0:
        raise ConfigError(f"time_limit must be > 0 seconds, got {time_limit}")
    tcfg = config["train"]
    check_precision(tcfg.get("mixed_precision"))
    tensorflow = keras.backend.backend() == "tensorflow"
    strategy = None
    if tensorflow:
        from lponet_tf.training.distribute import check_batch_split, is_chief, make_strategy

        # First: logical devices and collective ops must be configured before TF initialises.
        strategy = make_strategy(tcfg)
        check_batch_split(strategy, int(tcfg["batch_size"]))
        chief = is_chief(strategy)
    else:
        _other_backend_setup(tcfg)
        chief = True
    model_cfg = LPONetConfig.from_dict(config["model"])
    out = pathlib.Path(config["output_dir"]).expanduser().resolve()
    # Non-chief workers of a multi-worker run write to scratch space (TF's convention),
    # so only the chief's files are ever visible.
    write_dir = out if chief else out / f".worker-{strategy.cluster_resolver.task_id}"

    best = None
    if config["data"].get("validation"):
        monitor, names = tcfg["best_monitor"], logged_names(model_cfg, validation=True)
        if monitor not in names:
            raise ConfigError(f"train.best_monitor: {monitor!r} is not a logged value"
                              f"{S.did_you_mean(monitor, names)} (logged: {', '.join(names)})")
        best = cb.AtomicModelCheckpoint(write_dir / "best.keras", monitor=monitor,
                                        mode=tcfg["best_mode"], save_best_only=True)
    run_info = _run_info(model_cfg, config)
    backup = cb.AtomicBackupAndRestore(write_dir / "backup", run_info=run_info,
                                       stateful=[best] if best else [])
    saved = backup.saved_metadata()
    if saved is not None and saved.get("run") is not None:
        _check_same_run(saved["run"], run_info, write_dir)
    done = 0 if saved is None else int(saved["epoch"])

    check_roots(config)  # a missing dataset is reported before the output folder is made
    # Every record read and its labels checked against its image (header sizes) before the
    # output folder is made or the model built: bad data stops the run before it starts.
    plan = data_plan(config)
    init_from = config.get("init_from") if saved is None else None  # the state holds every weight
    if init_from:
        _check_init_from(init_from_path(init_from), out)  # refused before the output folder
    if chief:
        if out.is_dir():  # a folder made now is this run's alone
            held.enter_context(_output_lock(out))
        _claim_output(out, config, resuming=saved is not None, overwrite=overwrite)
        for folder in (out, out / "epochs"):  # a killed run's half-written checkpoints
            remove_stale_temporaries(folder, names=RUN_TEMPORARIES)
    keras.utils.set_random_seed(int(tcfg["seed"]))
    if tcfg.get("deterministic") and tensorflow:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    set_precision(tcfg.get("mixed_precision"))

    steps_per_epoch = int(tcfg["steps_per_epoch"])
    _trim_log(write_dir / "training_log.csv", done)
    if _tensorflow_installed():
        trim_event_files(write_dir / "tensorboard", done, steps_per_epoch)
    total_epochs = math.ceil(int(tcfg["steps"]) / steps_per_epoch)
    # The stream is random-access: a resumed run starts where the last complete epoch
    # ended and sees the batches an uninterrupted run would have seen.
    if tensorflow:
        from lponet_tf.training.pipelines import train_and_validation_datasets

        train_ds, val_ds = train_and_validation_datasets(
            config, model_cfg, strategy, start_batch=done * steps_per_epoch, plan=plan
        )
    else:
        train_ds, val_ds = _numpy_datasets(config, model_cfg, start_batch=done * steps_per_epoch,
                                           plan=plan)

    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_lponet(model_cfg)
        if init_from:
            copied = _init_weights(model, init_from)
            if chief and int(tcfg.get("verbose", 1)):
                total = sum(1 for layer in model.layers if layer.weights)
                print(f"init_from: {copied} of {total} layers copied from {config['init_from']}",
                      flush=True)
        # The folder is made (and locked) once init_from has loaded: a file it refuses
        # leaves nothing behind, and the corrected command starts as if it had not run.
        if chief and not out.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            held.enter_context(_output_lock(out))
        write_dir.mkdir(parents=True, exist_ok=True)  # out itself, or a worker's folder in it
        if chief:
            cb.atomic_write_via(
                out / "config.yaml",
                lambda tmp: pathlib.Path(tmp).write_text(_config_text(config)),
            )
        losses, weights = losses_and_weights(model_cfg, config["loss"])
        model.compile(
            optimizer=make_optimizer(config["optimizer"]),
            loss=losses,
            loss_weights=weights,
            # weighted: a sample without a label (weight 0) must not count in its metric
            weighted_metrics=metrics_for(model_cfg, decode=tcfg["nme_decode"]),
            # TensorFlow: XLA gives no speed-up on a CPU after minutes of compiling; JAX:
            # jit is its graph mode (torch: jit_compile would mean torch.compile; off).
            jit_compile=keras.backend.backend() == "jax",
        )

    if not tensorflow:
        # Built from one batch before fit, so that fit has nothing to peek at: its peek
        # takes a batch from the shared queue of a PyDataset with several workers, and
        # training then started one batch late (another stream than one worker's).
        model._symbolic_build(data_batch=train_ds[0])
    decay_seconds = config["optimizer"].get("decay_seconds")
    callbacks = [
        *([cb.DecayAfterSeconds(decay_seconds, config["optimizer"]["decay_values"])]
          if decay_seconds is not None else []),
        cb.ScalarLogger(),
        # Before the loggers and checkpoints: a NaN / inf loss (training or validation)
        # raises TrainingDivergedError before any file records that epoch.
        cb.StopOnNonFiniteLoss(),
        keras.callbacks.CSVLogger(str(write_dir / "training_log.csv"), append=True),
        # Keras' TensorBoard callback writes with tf.summary, whatever the backend.
        *([keras.callbacks.TensorBoard(str(write_dir / "tensorboard"), write_graph=False)]
          if _tensorflow_installed() else []),
        cb.AtomicModelCheckpoint(write_dir / "last.keras"),
        *_keep_epochs(tcfg["keep_epochs"], config["optimizer"], write_dir),
        *([best] if best is not None and val_ds is not None else []),
        # Last: its save then holds the best value of the epoch whose files were written.
        backup,
        *([cb.StopAfterSeconds(float(time_limit))] if time_limit is not None else []),
    ]

    # fit's `epochs` is absolute; the backup sets the initial epoch when resuming.
    epochs = total_epochs if epochs_limit is None else min(total_epochs, done + int(epochs_limit))
    # numpy's BLAS serves only the samples' preparation here, whose worker threads it
    # slows with threads of its own (blas_threads); the model runs on the backend's.
    with blas_threads(1):
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
        best_epoch=None if best is None else best.best_epoch,
        best_value=None if best is None else best.best,
    )
