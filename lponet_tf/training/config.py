"""Training configuration: YAML files with ``base:`` inheritance and dotted overrides.

A config is a nested dict. ``base: other.yaml`` (relative to the file) is loaded first and
the file's keys are merged on top (dicts merge recursively, everything else replaces), so
an ablation variant is a few lines over a stage config. ``--set a.b=value`` overrides on
the command line parse ``value`` as YAML (``--set train.steps=100``; ``--set
data.train.0.root=PATH`` indexes a list).

The merged config is checked against one typed schema (:data:`SCHEMA`) before any work:
an unknown key (with a "did you mean" for a close misspelling), a value of a wrong type
or out of range is a :class:`ConfigError` naming where the value came from (the file, the
``--set`` or the ``--data-root``), the key and the reason.
"""
from __future__ import annotations

import copy
import pathlib
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

from lponet_tf.data.pseudo_pose import PSEUDO_POSE_CENTRES
from lponet_tf.data.records import TASKS  # labels a dataset entry can keep; others get weight 0
from lponet_tf.errors import LPONetError
from lponet_tf.heatmaps import DECODERS
from lponet_tf.training import schema as S

DEFAULTS: Dict[str, Any] = {
    "model": {},  # LPONetConfig fields
    "init_from": None,  # .keras / .weights.h5 / preset .npz to start from (stage 2)
    "data": {
        "train": [],  # [{name, root, split, ratio, tasks, pseudo_pose, pseudo_pose_centre, holdout}]
        "validation": [],
        "mixing": "exact",  # exact | sampled
        "cache": False,
    },
    "augment": {},  # AugmentConfig fields; false disables
    "occlusion": {},  # OcclusionConfig fields; false disables
    "loss": {
        "alpha": 1.0,
        "beta": 1.0,
        "gamma": 10.0,
        "omega": 60.0,
        "weighted": False,
        "W": 10.0,
        "pose": "geodesic",
        "deep_supervision": True,
        "normalize": "batch",  # batch | labelled: the 1/N of Eq. 3-8 (docs/training.md)
    },
    "optimizer": {
        "name": "rmsprop",
        "learning_rate": 1.0e-4,
        "decay_steps": [30000],
        "decay_values": [1.0e-5],
        # Or boundaries in seconds of training (of each call; a machine lent for a while):
        # decay_values apply from then on, never raising the rate (a resumed call keeps
        # the rate it restored). Exclusive with decay_steps.
        "decay_seconds": None,
        "clipnorm": None,
        "momentum": 0.0,  # sgd only
    },
    "train": {
        "batch_size": 64,
        "steps": 40000,
        "steps_per_epoch": 1000,
        "validation_steps": None,
        "seed": 0,
        "mixed_precision": None,  # None (float32) | mixed_bfloat16 | mixed_float16 | float64
        "distribute": "none",  # none | mirrored | multi_worker
        "devices": None,  # e.g. [/gpu:0, /gpu:1] for mirrored; None = all visible
        "deterministic": False,
        "verbose": 1,
        "best_monitor": "val_loss",  # a logged value (training_log.csv column) for best.keras
        "best_mode": "min",  # min | max
        "nme_decode": "dark",  # the logged NME's heatmap decoder: dark | top2 (the paper's)
        # Training models kept after epochs, OUTPUT_DIR/epochs/epoch_NNN.keras, for weight
        # averaging (scripts/average_weights.py): none | all | final_rate (the epochs that
        # end at the schedule's last learning rate).
        "keep_epochs": "none",
        # Workers preparing batches in the numpy pipeline (JAX / PyTorch backends): threads,
        # or forked processes with data_processes; the tf.data pipeline sizes its own
        # parallelism (AUTOTUNE) and ignores all three. data_compact: uint8 images and
        # float16 heatmap targets (FaceBatches' compact), 2.5x fewer bytes through a
        # worker process's pipe.
        "data_workers": 1,
        "data_processes": False,
        "data_compact": False,
    },
    "output_dir": "runs/lponet",
}


#: ``train.mixed_precision`` values (None = float32).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "float64")


class ConfigError(LPONetError, ValueError):
    """A training config is missing, malformed or names a dataset that is not there."""


class StateMismatchError(ConfigError):
    """The resumable state in an output folder was made by another architecture (or
    optimizer) than the config asks for; the message names the differing fields."""


def deep_merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- the schema ---------------------------------------------------------------------


def _dataset_name(value, path):
    from lponet_tf.data import list_datasets  # readers only: no TensorFlow

    S.text()(value, path)
    names = list_datasets()
    if value.lower().replace("-", "_") not in names:
        raise S.Invalid([path], f"unknown dataset {value!r}{S.did_you_mean(value, names)} "
                                f"(readers: {', '.join(names)})")
    return value


def _distinct(inner: S.Checker) -> S.Checker:
    def check(value, path):
        value = inner(value, path)
        if len(set(value)) != len(value):
            raise S.Invalid([path], f"lists an item twice: {value}")
        return value

    return check


def _entry_finish(entry, path):
    from lponet_tf.data.readers import check_split  # readers only: no TensorFlow

    try:
        check_split(entry["name"], entry.get("split"), entry.get("root"))
    except ValueError as exc:
        raise S.Invalid([path + ("split",)], str(exc)) from None
    holdout = entry.get("holdout")
    if holdout is not None and "fraction" not in holdout:
        raise S.Invalid([path + ("holdout", "fraction")], "missing (required)")
    return entry


_ENTRY = S.section(
    {
        "name": _dataset_name,
        "root": S.text(),
        "split": S.optional(S.text()),
        "ratio": S.number(0, low_open=True),
        "tasks": _distinct(S.list_of(S.choice(*TASKS), nonempty=True)),
        "pseudo_pose": S.boolean(),
        "pseudo_pose_centre": S.choice(*PSEUDO_POSE_CENTRES),
        "holdout": S.optional(S.section({
            "fraction": S.number(0, 1, low_open=True, high_open=True),
            "seed": S.integer(0),
            "part": S.choice("train", "val"),
        })),
        "limit": S.optional(S.integer(1)),
    },
    required=("name", "root"),
    finish=_entry_finish,
)


def _optimizer_finish(opt, path):
    steps, values = opt.get("decay_steps") or [], opt.get("decay_values") or []
    key = "decay_steps"
    if opt.get("decay_seconds") is not None:
        if steps:
            raise S.Invalid([path + ("decay_steps",), path + ("decay_seconds",)],
                            "give one of them (set decay_steps: [] to decay by time)")
        steps, key = opt["decay_seconds"], "decay_seconds"
    if len(steps) != len(values):
        raise S.Invalid([path + (key,), path + ("decay_values",)],
                        f"need the same length (one learning rate per boundary), got "
                        f"{len(steps)} and {len(values)}")
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise S.Invalid([path + (key,)], f"must increase, got {steps}")
    return opt


def _train_finish(train, path):
    steps, per_epoch = train.get("steps"), train.get("steps_per_epoch")
    if steps is not None and per_epoch is not None and steps % per_epoch:
        raise S.Invalid(
            [path + ("steps",), path + ("steps_per_epoch",)],
            f"steps={steps} is not a multiple of steps_per_epoch={per_epoch}: whole epochs "
            f"would train {-(-steps // per_epoch) * per_epoch} steps")
    return train


def _schema() -> S.Checker:
    from lponet_tf.config import LPONetConfig
    from lponet_tf.data.augment import AugmentConfig
    from lponet_tf.data.occlusion import OcclusionConfig

    return S.section({
        "model": S.dataclass_section(LPONetConfig, "model"),
        "init_from": S.optional(S.text()),
        "data": S.section({
            "train": S.list_of(_ENTRY, nonempty=True),
            "validation": S.optional(S.list_of(_ENTRY)),
            "mixing": S.choice("exact", "sampled"),
            "cache": S.choice(False, True, "bytes", "decoded"),
        }),
        "augment": S.disabled_or(S.dataclass_section(AugmentConfig, "augment")),
        "occlusion": S.disabled_or(S.dataclass_section(OcclusionConfig, "occlusion")),
        "loss": S.section({
            "alpha": S.number(0), "beta": S.number(0), "gamma": S.number(0),
            "omega": S.number(0, low_open=True),
            "weighted": S.boolean(),
            "W": S.number(0),
            "pose": S.choice("geodesic", "mae"),
            "deep_supervision": S.boolean(),
            "normalize": S.choice("batch", "labelled"),  # 1/N of Eq. 3-8, lponet_tf.losses
        }),
        "optimizer": S.section({
            "name": S.choice("rmsprop", "adam", "sgd", normalise=str.lower),
            "learning_rate": S.number(0),
            "decay_steps": S.list_of(S.integer(1)),
            "decay_values": S.list_of(S.number(0)),
            "decay_seconds": S.optional(S.list_of(S.number(0, low_open=True))),
            "clipnorm": S.optional(S.number(0, low_open=True)),
            "momentum": S.number(0, 1, high_open=True),
        }, finish=_optimizer_finish),
        "train": S.section({
            "batch_size": S.integer(1),
            "steps": S.integer(1),
            "steps_per_epoch": S.integer(1),
            "validation_steps": S.optional(S.integer(1)),
            "seed": S.integer(0, 2**32 - 1),
            "mixed_precision": S.optional(S.choice(*PRECISIONS)),
            "distribute": S.choice("none", "mirrored", "multi_worker"),
            "devices": S.optional(S.list_of(S.text(), nonempty=True)),
            "deterministic": S.boolean(),
            "verbose": S.choice(0, 1, 2, "auto"),
            "best_monitor": S.text(),  # checked against the logged names by the trainer
            "best_mode": S.choice("min", "max"),
            "nme_decode": S.choice(*DECODERS),
            "keep_epochs": S.choice("none", "all", "final_rate"),
            "data_workers": S.integer(1),
            "data_processes": S.boolean(),
            "data_compact": S.boolean(),
        }, finish=_train_finish),
        "output_dir": S.text(),
        "config_paths": S.list_of(S.text()),  # written by load_config: what was merged
    }, finish=_config_finish)


def _config_finish(config, path):
    # Every reader gives the 68 iBUG points (WFLW and COFW mapped onto them); a model with
    # other heatmaps would fail deep inside fit() on the labels' shape.
    k = config["model"].get("num_landmarks", 68)
    entries = [e for part in ("train", "validation") for e in (config["data"].get(part) or [])]
    if k != 68 and any("landmarks" in (e.get("tasks") or TASKS) for e in entries):
        raise S.Invalid([path + ("model", "num_landmarks")],
                        f"{k}: the dataset readers give the 68 iBUG points, so lponet train "
                        "trains 68 heatmaps (a dataset entry may leave out landmarks with "
                        "tasks: [pose, occlusion])")
    return config


#: ``path tuple -> where it was set``: a file, ``--set KEY=VALUE``, ``--data-root ...``.
Sources = Dict[Tuple[Any, ...], str]
_DEFAULTS = "defaults"


def _record(sources: Sources, value, path: tuple, where: str) -> None:
    for key in [k for k in sources if k[:len(path)] == path and len(k) > len(path)]:
        del sources[key]  # replaced wholesale
    sources[path] = where
    if isinstance(value, dict):
        for key, item in value.items():
            _record(sources, item, path + (key,), where)


def _record_merge(sources: Sources, base: dict, update: dict, path: tuple, where: str) -> None:
    """Record what ``deep_merge(base, update)`` takes from ``update``."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _record_merge(sources, base[key], value, path + (key,), where)
        else:
            _record(sources, value, path + (key,), where)


def _origin(sources: Optional[Sources], path: tuple, files: List[str]) -> str:
    where = None
    for n in range(len(path), 0, -1):
        if sources and path[:n] in sources:
            where = sources[path[:n]]
            break
    if where is None and sources:  # a mapping made on the way to a key (--set a.b=1)
        where = next((w for k, w in sources.items() if k[:len(path)] == path), None)
    if where in (None, _DEFAULTS):  # a default, or a key nobody set (missing)
        return ", ".join(files) or "config"
    return where


def validate_config(config: dict, sources: Optional[Sources] = None) -> dict:
    """Check a merged training config against :data:`SCHEMA`; return it normalised.

    Args:
        config: the merged config (defaults are merged in first, so a partial dict is
            completed, not refused).
        sources: where each key came from (:func:`load_config` keeps it), for messages.

    Returns:
        A copy with numbers normalised (``"1e-4"`` -> ``1e-4``, ``2`` -> ``2.0`` where a
        float is meant).

    Raises:
        ConfigError: an unknown key, a wrong type, a value out of range or values that
            contradict each other; the message names where it was set, the key and why.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"a training config must be a mapping, got {type(config).__name__}")
    files = [str(p) for p in config.get("config_paths") or []]
    try:
        return SCHEMA(deep_merge(DEFAULTS, config), ())
    except S.Invalid as exc:
        origins = [_origin(sources, p, files) for p in exc.paths]
        if len(set(origins)) == 1:
            at = f"{origins[0]}: {', '.join(S.dotted(p) for p in exc.paths)}"
        else:
            at = ", ".join(f"{S.dotted(p)} (from {o})" for p, o in zip(exc.paths, origins))
        raise ConfigError(f"{at}: {exc.reason}") from None


class _LazySchema:
    """The schema, built on first use (it imports the dataclasses it mirrors)."""

    checker: Optional[S.Checker] = None

    def __call__(self, value, path):
        if self.checker is None:
            self.checker = _schema()
        return self.checker(value, path)


#: The training config's schema: ``SCHEMA(config, ())`` returns it normalised or raises
#: :class:`lponet_tf.training.schema.Invalid`.
SCHEMA = _LazySchema()


# --- loading ------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain YAML keeps the last
    one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice (first on line {seen[key] + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: pathlib.Path) -> dict:
    from lponet_tf.fileio import read_text

    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.load(read_text(path, "config file"), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def _load_chain(path: pathlib.Path, seen: tuple) -> List[Tuple[str, dict]]:
    """``[(file, data), ...]`` from the root of the ``base:`` chain to ``path``."""
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: circular 'base:' chain")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{path}: base: expected a file name, got {base!r}")
    chain = [] if base is None else _load_chain(path.parent / base, seen + (path,))
    # Dataset roots are relative to the file that names them.
    data_section = data.get("data")
    for section in ("train", "validation"):
        entries = data_section.get(section) if isinstance(data_section, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("root"), str) and entry["root"]:
                root = pathlib.Path(entry["root"]).expanduser()
                if not root.is_absolute():
                    entry["root"] = str((path.parent / root).resolve())
    return chain + [(str(path), data)]


def parse_override(text: str) -> tuple:
    """``"train.steps=100"`` -> ``(["train", "steps"], 100)`` (the value is YAML)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key.path=value")
    key, value = text.split("=", 1)
    keys = key.strip().split(".")
    if not all(keys):
        raise ConfigError(f"--set {text!r}: empty key in {key.strip()!r}")
    try:
        return keys, yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML: {exc}") from exc


def _set(config: dict, keys: List[str], value, text: str) -> tuple:
    """Set ``value`` at ``keys`` (list items by index); returns the path as set."""
    node, path = config, ()
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(f"--set {text}: {S.dotted(path)} is a list of {len(node)}: "
                                  f"index it with 0..{len(node) - 1}")
            key = int(key)
        elif not isinstance(node, dict):
            raise ConfigError(f"--set {text}: {S.dotted(path)} is not a mapping")
        path += (key,)
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and not isinstance(node.get(key), (dict, list)):
                node[key] = {}
            node = node[key]
    return path


def apply_overrides(config: dict, overrides: Iterable[str],
                    sources: Optional[Sources] = None) -> dict:
    """Apply ``--set KEY=VALUE`` overrides (recording them in ``sources``)."""
    config = copy.deepcopy(config)
    for text in overrides or ():
        keys, value = parse_override(text)
        path = _set(config, keys, value, text)
        if sources is not None:
            _record(sources, value, path, f"--set {text}")
    return config


def parse_data_roots(items: Iterable[str]) -> Dict[str, str]:
    """``["300w=/data/300W", ...]`` (the ``--data-root`` flag) -> ``{"300w": "/data/300W"}``."""
    roots = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--data-root {item!r}: expected NAME=PATH")
        name, path = item.split("=", 1)
        roots[name] = path
    return roots


def _shipped_or_path(name_or_path) -> pathlib.Path:
    """A config file, or the YAML of a shipped config name (``quickstart``)."""
    from lponet_tf.configs import resolve_config

    try:
        return resolve_config(name_or_path, kind="train")
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None


def load_config(
    path, overrides: Optional[Iterable[str]] = None, data_roots: Optional[Dict[str, str]] = None
) -> dict:
    """Load a training config and check it (:func:`validate_config`).

    Args:
        path: YAML file (may start with ``base: other.yaml``) or the name of a shipped
            config (``"stage1"``, ``"ablation/fpf_full"``, see :mod:`lponet_tf.configs`), or a
            list of them merged in order (``["stage1", "ablation/fpf_full"]``: a variant
            over a stage).
        overrides: ``["train.steps=100", "model.channels=64"]``.
        data_roots: ``{"300w": "/data/300W"}`` replaces the root of every train /
            validation entry with that dataset name (the ``--data-root`` flag).

    Returns:
        The merged, normalised config dict (defaults < base chain < file < overrides).

    Raises:
        ConfigError: a missing or malformed file, or a value the schema refuses (the
            message names the file or flag that set it, the key and the reason).

    Example:
        >>> cfg = load_config("quickstart", ["train.steps=200"])
        >>> cfg["train"]["steps"]
        200
    """
    paths = [path] if isinstance(path, (str, pathlib.Path)) else list(path)
    config: dict = copy.deepcopy(DEFAULTS)
    sources: Sources = {}
    _record(sources, config, (), _DEFAULTS)
    paths = [_shipped_or_path(p) for p in paths]
    for p in paths:
        for where, data in _load_chain(p, ()):
            _record_merge(sources, config, data, (), where)
            config = deep_merge(config, data)
    config = apply_overrides(config, overrides, sources)
    for name, root in (data_roots or {}).items():
        hits = [
            (section, i, e)
            for section in ("train", "validation")
            for i, e in enumerate((config.get("data") or {}).get(section) or [])
            if isinstance(e, dict) and e.get("name") == name
        ]
        if not hits:
            raise ConfigError(f"--data-root {name}=...: the config uses no dataset {name!r}")
        for section, i, entry in hits:
            entry["root"] = str(pathlib.Path(root).expanduser().resolve())
            sources[("data", section, i, "root")] = f"--data-root {name}={root}"
    config["config_paths"] = [str(pathlib.Path(p).resolve()) for p in paths]
    return validate_config(config, sources)
