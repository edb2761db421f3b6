"""The shipped YAML configs (package data), addressable by name or by path.

Training configs: ``stage1``, ``stage2_300w``, ``stage2_wflw``, ``preset_lite``,
``quickstart`` and the ablation variants ``ablation/<name>`` (laid over a stage). Eval
configs: ``eval/<name>`` (``lponet evaluate --config paper`` looks in ``eval/`` first).
Dataset roots written in a config are relative to its file; pass ``--data-root NAME=PATH``
for an installed package.
"""
from __future__ import annotations

import pathlib
from typing import List, Union

#: Folder of the shipped configs.
CONFIG_DIR = pathlib.Path(__file__).resolve().parent


def list_configs(kind: str = "train") -> List[str]:
    """Names of the shipped configs: ``"train"`` (stages, presets, ``ablation/...``) or
    ``"eval"`` (``eval/...``)."""
    names = sorted(p.relative_to(CONFIG_DIR).with_suffix("").as_posix()
                   for p in CONFIG_DIR.rglob("*.yaml"))
    return [n for n in names if n.startswith("eval/") == (kind == "eval")]


def resolve_config(name_or_path: Union[str, pathlib.Path], kind: str = "train") -> pathlib.Path:
    """The YAML file of a config given by path or by shipped name.

    An existing file wins; otherwise ``name_or_path`` (with or without ``.yaml``) is looked
    up among the shipped configs (for ``kind="eval"`` under ``eval/`` first).

    Args:
        name_or_path: ``"stage1"``, ``"ablation/fpf_full"``, ``"paper"`` (eval), or a path.
        kind: ``"train"`` or ``"eval"``.

    Returns:
        The path of the YAML file.

    Raises:
        FileNotFoundError: neither a file nor a shipped name; the message lists the names.
    """
    path = pathlib.Path(name_or_path).expanduser()
    if path.is_file():
        return path
    stem = path.as_posix()
    stem = stem[: -len(".yaml")] if stem.endswith(".yaml") else stem
    candidates = [f"eval/{stem}", stem] if kind == "eval" else [stem]
    for candidate in candidates:
        shipped = CONFIG_DIR / f"{candidate}.yaml"
        if shipped.is_file() and CONFIG_DIR in shipped.resolve().parents:
            return shipped
    names = list_configs(kind)
    if kind == "eval":
        names = [n[len("eval/"):] for n in names]
    what = "eval config" if kind == "eval" else "config file"
    raise FileNotFoundError(
        f"{name_or_path}: {what} not found, and not the name of a shipped {kind} config "
        f"(known: {', '.join(names)})")
