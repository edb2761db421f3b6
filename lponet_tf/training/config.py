"""Training configuration: YAML files with ``base:`` inheritance and dotted overrides.

A config is a nested dict. ``base: other.yaml`` (relative to the file) is loaded first and
the file's keys are merged on top (dicts merge recursively, everything else replaces), so
an ablation variant is a few lines over a stage config. ``--set a.b=value`` overrides on
the command line parse ``value`` as YAML (``--set train.steps=100``).
"""
from __future__ import annotations

import copy
import pathlib
from typing import Any, Dict, Iterable, Optional

import yaml

from lponet_tf.errors import LPONetError

DEFAULTS: Dict[str, Any] = {
    "model": {},  # LPONetConfig fields
    "init_from": None,  # .keras / .weights.h5 to start from (stage 2)
    "data": {
        "train": [],  # [{name, root, split, ratio, tasks, pseudo_pose, holdout}]
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
    },
    "optimizer": {
        "name": "rmsprop",
        "learning_rate": 1.0e-4,
        "decay_steps": [30000],
        "decay_values": [1.0e-5],
    },
    "train": {
        "batch_size": 64,
        "steps": 40000,
        "steps_per_epoch": 1000,
        "validation_steps": None,
        "seed": 0,
        "mixed_precision": None,  # None (float32) | mixed_bfloat16 | mixed_float16 | float64
        "distribute": "none",  # none | mirrored | multi_worker
        "deterministic": False,
        "verbose": 1,
    },
    "output_dir": "runs/lponet",
}


class ConfigError(LPONetError, ValueError):
    """A training config is missing, malformed or names a dataset that is not there."""


def deep_merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: pathlib.Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def _load_chain(path: pathlib.Path, seen: tuple) -> dict:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: circular 'base:' chain")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        merged = data
    else:
        merged = deep_merge(_load_chain(path.parent / base, seen + (path,)), data)
    # Dataset roots are relative to the file that names them.
    for section in ("train", "validation"):
        for entry in (data.get("data") or {}).get(section, []) or []:
            if isinstance(entry, dict) and entry.get("root"):
                root = pathlib.Path(str(entry["root"])).expanduser()
                if not root.is_absolute():
                    entry["root"] = str((path.parent / root).resolve())
    return merged


def parse_override(text: str) -> tuple:
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key.path=value")
    key, value = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value)


def apply_overrides(config: dict, overrides: Iterable[str]) -> dict:
    config = copy.deepcopy(config)
    for text in overrides or ():
        keys, value = parse_override(text)
        node = config
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {k} is not a mapping")
        node[keys[-1]] = value
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


def load_config(
    path, overrides: Optional[Iterable[str]] = None, data_roots: Optional[Dict[str, str]] = None
) -> dict:
    """Load a training config.

    Args:
        path: YAML file (may start with ``base: other.yaml``), or a list of them merged in
            order (``[stage1.yaml, ablation/fpf_full.yaml]``: a variant over a stage).
        overrides: ``["train.steps=100", "model.channels=64"]``.
        data_roots: ``{"300w": "/data/300W"}`` replaces the root of every train /
            validation entry with that dataset name (the ``--data-root`` flag).

    Returns:
        The merged config dict (defaults < base chain < file < overrides).

    Example:
        >>> cfg = load_config("training/configs/quickstart.yaml", ["train.steps=10"])
        >>> cfg["train"]["steps"]
        10
    """
    paths = [path] if isinstance(path, (str, pathlib.Path)) else list(path)
    config = copy.deepcopy(DEFAULTS)
    for p in paths:
        config = deep_merge(config, _load_chain(pathlib.Path(p), ()))
    config = apply_overrides(config, overrides)
    for name, root in (data_roots or {}).items():
        hits = [
            e
            for section in ("train", "validation")
            for e in config["data"].get(section) or []
            if e.get("name") == name
        ]
        if not hits:
            raise ConfigError(f"--data-root {name}=...: the config uses no dataset {name!r}")
        for entry in hits:
            entry["root"] = str(pathlib.Path(root).expanduser().resolve())
    config["config_paths"] = [str(pathlib.Path(p).resolve()) for p in paths]
    return config
