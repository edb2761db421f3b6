"""Evaluation configs: which test sets to run, where they are and which split each table uses.

An eval config is a YAML mapping (see ``lponet_tf/configs/eval/paper.yaml``)::

    batch_size: 16          # faces per inference call
    enlarge: 0.1            # crop margin per side (paper Section IV-A)
    datasets:
      300w:                 # the KEY: a table role (see TABLE_KEYS) or any other name
        reader: 300w        # a reader of lponet_tf.data.read_dataset (default: the key)
        root: /data/300W    # relative roots are relative to the YAML file
        split: full         # reader split (Table 5 uses the 689-face test set)
      aflw2000:
        root: /data/AFLW2000          # the reader drops the 31 faces with an angle > 99 deg
        options: {max_angle_deg: 99}  # keyword arguments for the reader
      biwi:
        root: /data/BIWI
        detector: blazeface_auto   # faces with neither landmarks nor box are detected
      aflw2000_so:
        reader: aflw2000
        root: /data/AFLW2000   # originals: the five occluded variants are built on the fly;
                               # a folder the builder wrote before is read as it is

The key decides which table cells a dataset fills (:data:`TABLE_KEYS`); keys not listed
there are evaluated too and show up in the per-dataset summary. ``--data-root KEY=PATH``
on the command line replaces an entry's root; a root that does not exist makes the
dataset "not present" (skipped, or an error with ``strict``).
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Dict, List, Mapping, Optional, Sequence

import yaml

from lponet_tf.data.records import TASKS  # the three tasks; an entry's ``tasks`` restricts the metrics
from lponet_tf.errors import LPONetError

#: Keys with a place in the paper's tables (Tables 1, 2, 4, 5, 7, 8, 9).
TABLE_KEYS = ("300w", "wflw", "aflw2000", "biwi", "cofw", "realocc_wild",
              "masked_300w", "aflw2000_so")


_ENTRY_FIELDS = {"reader", "root", "split", "limit", "options", "detector", "tasks", "label",
                 "holdout"}
#: The keys of an eval config's top level.
_TOP_FIELDS = ("batch_size", "enlarge", "datasets")


class EvalConfigError(LPONetError, ValueError):
    """An evaluation config is missing or malformed (the message names the file)."""


@dataclasses.dataclass
class EvalEntry:
    """One test set of an eval config.

    Attributes:
        key: the name in the config (a :data:`TABLE_KEYS` role or any other name).
        reader: dataset reader name for :func:`lponet_tf.data.read_dataset`.
        root: dataset folder (absolute).
        split: reader split, or None.
        limit: evaluate at most this many faces (first ones in reader order), or None.
        options: extra keyword arguments for the reader (e.g. ``max_angle_deg``).
        detector: detector name (:func:`lponet_tf.detection.as_detector`) for
            faces with neither landmarks nor a box; None crops the whole image then.
        tasks: tasks to score (subset of :data:`TASKS`).
        label: display name in the tables (default: the key).
        holdout: ``{"fraction", "seed", "part"}``: keep one side of the training configs'
            photo-grouped split (:func:`lponet_tf.training.datasets.holdout_split`), e.g.
            ``part: val`` scores a quickstart model on the faces it did not train on.
    """

    key: str
    reader: str
    root: str
    split: Optional[str] = None
    limit: Optional[int] = None
    options: Dict[str, object] = dataclasses.field(default_factory=dict)
    detector: Optional[str] = None
    tasks: Sequence[str] = TASKS
    label: Optional[str] = None
    holdout: Optional[Dict[str, object]] = None

    @property
    def present(self) -> bool:
        """Whether the dataset root exists on this machine."""
        return pathlib.Path(self.root).exists()

    @property
    def display(self) -> str:
        return self.label or self.key


@dataclasses.dataclass
class EvalConfig:
    """A parsed eval config.

    Attributes:
        entries: the test sets, in file order.
        batch_size: faces per inference call.
        enlarge: crop margin per side (fraction of the face box; paper: 0.1).
        path: the YAML file it came from (None when built in code).
    """

    entries: List[EvalEntry]
    batch_size: int = 16
    enlarge: float = 0.1
    path: Optional[str] = None

    def entry(self, key: str) -> Optional[EvalEntry]:
        return next((e for e in self.entries if e.key == key), None)


def _resolve_root(root, base: Optional[pathlib.Path]) -> str:
    path = pathlib.Path(os.path.expandvars(str(root))).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path.resolve())


def _check_limit(value, what: str) -> int:
    """A face limit: a whole number >= 1 (0 or less would mean all faces, or drop some)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EvalConfigError(f"{what} must be a whole number >= 1, got {value!r}")
    return value


def _check_detector(name) -> None:
    if not isinstance(name, str):
        raise ValueError(f"detector must be a name, got {name!r}")
    from lponet_tf.detection.wrappers import detector_names

    if name not in detector_names() and "blazeface_" + name not in detector_names():
        raise ValueError(f"unknown detector {name!r}; known: {detector_names()}")


def _entry(key: str, raw, where: str, base: Optional[pathlib.Path]) -> EvalEntry:
    if not isinstance(raw, Mapping):
        raise EvalConfigError(f"{where}: datasets.{key} must be a mapping, got {raw!r}")
    unknown = set(raw) - _ENTRY_FIELDS
    if unknown:
        raise EvalConfigError(
            f"{where}: datasets.{key}: unknown field(s) {sorted(unknown)}; "
            f"expected some of {sorted(_ENTRY_FIELDS)}")
    if not raw.get("root"):
        raise EvalConfigError(f"{where}: datasets.{key} needs a 'root'")
    tasks = list(raw.get("tasks") or TASKS)
    if set(tasks) - set(TASKS):
        raise EvalConfigError(f"{where}: datasets.{key}.tasks: unknown {sorted(set(tasks) - set(TASKS))}; "
                              f"choose from {TASKS}")
    limit = raw.get("limit")
    if limit is not None:
        limit = _check_limit(limit, f"{where}: datasets.{key}.limit")
    options = raw.get("options") or {}
    if not isinstance(options, Mapping):
        raise EvalConfigError(f"{where}: datasets.{key}.options must be a mapping, got {options!r}")
    reader = str(raw.get("reader") or key)
    try:  # a typo here must not wait until the datasets before it are evaluated
        from lponet_tf.data.readers import check_split, reader_for

        reader_for(reader, options)
        check_split(reader, None if raw.get("split") is None else str(raw["split"]))
        if raw.get("detector") is not None:
            _check_detector(raw["detector"])
    except ValueError as exc:
        raise EvalConfigError(f"{where}: datasets.{key}: {exc}") from None
    holdout = raw.get("holdout")
    if holdout is not None and (not isinstance(holdout, Mapping) or "fraction" not in holdout):
        raise EvalConfigError(f"{where}: datasets.{key}.holdout must be a mapping with 'fraction' "
                              f"(and optional 'seed', 'part'), got {holdout!r}")
    if holdout is not None:
        try:
            from lponet_tf.training.datasets import check_holdout

            check_holdout(holdout.get("fraction"), holdout.get("part", "val"))
        except LPONetError as exc:
            raise EvalConfigError(f"{where}: datasets.{key}.holdout: {exc}") from None
    return EvalEntry(
        key=str(key),
        reader=reader,
        root=_resolve_root(raw["root"], base),
        split=None if raw.get("split") is None else str(raw["split"]),
        limit=limit,
        options=dict(options),
        detector=raw.get("detector"),
        tasks=tuple(tasks),
        label=raw.get("label"),
        holdout=None if holdout is None else dict(holdout),
    )


def parse_eval_config(data: Mapping, path=None) -> EvalConfig:
    """Build an :class:`EvalConfig` from an already loaded mapping.

    Args:
        data: the YAML content.
        path: file it came from; relative roots are resolved against its folder (the
            current directory when None) and errors name it.

    Returns:
        The config.

    Raises:
        EvalConfigError: a malformed config, naming the file: a top-level key other than
            ``batch_size``, ``enlarge`` and ``datasets`` (with a "did you mean"),
            ``batch_size`` not a whole number >= 1, ``enlarge`` not a number in [0, 1), an
            entry's unknown field, reader, option (name or value), split or detector.

    Example:
        >>> cfg = parse_eval_config({"datasets": {"300w": {"root": "/data/300W", "split": "full"}}})
        >>> cfg.entries[0].reader, cfg.entries[0].split
        ('300w', 'full')
    """
    where = str(path) if path is not None else "<eval config>"
    base = pathlib.Path(path).resolve().parent if path is not None else pathlib.Path.cwd()
    if not isinstance(data, Mapping):
        raise EvalConfigError(f"{where}: top level must be a mapping")
    from lponet_tf.training.schema import did_you_mean  # light: no TensorFlow

    for key in data:  # a typo ("bach_size") would silently run with the default
        if key not in _TOP_FIELDS:
            raise EvalConfigError(f"{where}: {key}: unknown key{did_you_mean(key, _TOP_FIELDS)} "
                                  f"(the top level takes {list(_TOP_FIELDS)})")
    batch = data.get("batch_size", 16)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise EvalConfigError(f"{where}: batch_size must be a whole number >= 1, got {batch!r}")
    enlarge = data.get("enlarge", 0.1)
    if isinstance(enlarge, bool) or not isinstance(enlarge, (int, float)) \
            or not 0.0 <= enlarge < 1.0:
        raise EvalConfigError(f"{where}: enlarge must be a number in [0, 1), got {enlarge!r}")
    datasets = data.get("datasets")
    if not isinstance(datasets, Mapping) or not datasets:
        raise EvalConfigError(f"{where}: needs a non-empty 'datasets' mapping")
    entries = [_entry(k, v, where, base) for k, v in datasets.items()]
    return EvalConfig(entries, batch, float(enlarge), None if path is None else str(path))


def load_eval_config(path, data_roots: Optional[Dict[str, str]] = None,
                     limit: Optional[int] = None, only: Optional[Sequence[str]] = None) -> EvalConfig:
    """Read an eval YAML and apply command-line overrides.

    Args:
        path: the YAML file, or the name of a shipped eval config (``paper``,
            ``300w_subset``, ``300w_subset_masked``, ``samples``; see :mod:`lponet_tf.configs`).
        data_roots: ``{key: path}`` replacing entry roots (``--data-root KEY=PATH``).
        limit: cap every entry at this many faces (``--limit``; a smoke run).
        only: keep just these keys (``--only``), in config order.

    Returns:
        The config.

    Raises:
        EvalConfigError: missing/invalid file, an override or ``only`` key the config
            does not have.

    Example:
        >>> cfg = load_eval_config("paper",
        ...                        {"300w": "/mnt/300W"})  # doctest: +SKIP
    """
    from lponet_tf.configs import resolve_config
    from lponet_tf.fileio import read_text

    try:
        path = resolve_config(path, kind="eval")  # a file, or a shipped name ("paper")
    except FileNotFoundError as exc:
        raise EvalConfigError(str(exc)) from None
    try:
        data = yaml.safe_load(read_text(path, "eval config file"))
    except yaml.YAMLError as exc:
        raise EvalConfigError(f"{path}: invalid YAML: {exc}") from exc
    config = parse_eval_config(data, path)
    keys = [e.key for e in config.entries]
    for key, root in (data_roots or {}).items():
        entry = config.entry(key)
        if entry is None:
            raise EvalConfigError(f"{path}: --data-root {key}=...: no dataset {key!r} "
                                  f"(the config has {keys})")
        entry.root = _resolve_root(root, None)
    if only:
        missing = set(only) - set(keys)
        if missing:
            raise EvalConfigError(f"{path}: --only {sorted(missing)}: not in the config {keys}")
        config.entries = [e for e in config.entries if e.key in set(only)]
    from lponet_tf.data.readers import check_split

    for entry in config.entries:  # splits that are the data's own folders, now the roots are final
        try:
            check_split(entry.reader, entry.split, entry.root)
        except ValueError as exc:
            raise EvalConfigError(f"{path}: datasets.{entry.key}: {exc}") from None
    if limit is not None:
        limit = _check_limit(limit, "--limit")
        for entry in config.entries:
            entry.limit = limit if entry.limit is None else min(entry.limit, limit)
    return config


def parse_data_roots(items: Sequence[str]) -> Dict[str, str]:
    """``["300w=/data/300W"]`` -> ``{"300w": "/data/300W"}`` (the ``--data-root`` flag).

    Example:
        >>> parse_data_roots(["biwi=/data/BIWI"])
        {'biwi': '/data/BIWI'}
    """
    out = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key or not value:
            raise EvalConfigError(f"--data-root {item!r}: expected KEY=PATH")
        out[key.strip()] = value.strip()
    return out
