"""Datasets of a training config: read, hold out, pseudo-label, mix.

A config's ``data.train`` is a list of entries::

    - name: 300w            # a reader of lponet_tf.data.read_dataset
      root: /data/300w      # relative roots are relative to the YAML file
      split: null           # reader split (e.g. "train", "common")
      ratio: 4              # share of each batch (4:3:3 in stage 2)
      tasks: [landmarks, pose, occlusion]   # labels to use; others get weight 0
      pseudo_pose: true     # fill missing poses with the solvePnP pseudo-label
      pseudo_pose_centre: photo   # its principal point: photo (default) or face
      holdout: {fraction: 0.15, seed: 0, part: train}   # file-level split

``holdout`` splits by photo (the file stem without a trailing ``_N`` face index), with a
stable hash, so faces of one photo never land on both sides and the split does not
depend on file order or on the machine.

:func:`data_plan` reads all of a config's data options once, without TensorFlow: the
``tf.data`` pipelines (:mod:`lponet_tf.training.pipelines`) and the numpy pipeline of the
other Keras backends (``trainer``) are both built from it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import re
from typing import Any, List, Optional, Sequence, Tuple, Union

from lponet_tf.codec.crop import box_from_landmarks
from lponet_tf.data.records import FaceRecord
from lponet_tf.training.config import TASKS, ConfigError


def photo_key(record: FaceRecord) -> str:
    """Group key of a face: its file stem without a trailing face index (``_1``).

    The index is stripped only where the rest still holds a number (the photo's): in
    ``1051618982_1`` (AFW, HELEN) or ``image_003_1`` (iBUG) it is a face of that photo, but
    in LFPW's ``image_0001`` the number is the photo itself, and stripping it would put
    every LFPW face in one group (all in the validation part, or none).

    Example:
        >>> [photo_key(FaceRecord(p)) for p in ("afw/1051618982_1.jpg", "ibug/image_003_1.jpg",
        ...                                     "lfpw/testset/image_0001.png")]
        ['1051618982', 'image_003', 'image_0001']
    """
    stem = pathlib.Path(record.image_path).stem
    photo = re.sub(r"_\d+$", "", stem)
    return photo if re.search(r"\d", photo) else stem


def check_holdout(fraction, part: str) -> None:
    """Raise :class:`ConfigError` for a holdout :func:`holdout_split` would refuse."""
    if part not in ("train", "val"):
        raise ConfigError(f"holdout.part must be 'train' or 'val', got {part!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ConfigError(f"holdout.fraction must be in (0, 1), got {fraction!r}")


def holdout_split(
    records: Sequence[FaceRecord], fraction: float, seed: int = 0, part: str = "train"
) -> List[FaceRecord]:
    """The ``part`` ("train" or "val") of a stable, photo-grouped split.

    A photo goes to "val" when the hash of ``(seed, photo_key)`` falls below ``fraction``.
    """
    check_holdout(fraction, part)

    def in_val(record):
        digest = hashlib.sha1(f"{seed}:{photo_key(record)}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < fraction

    return [r for r in records if in_val(r) == (part == "val")]


def restrict_tasks(records: Sequence[FaceRecord], tasks: Sequence[str]) -> List[FaceRecord]:
    """Drop the labels of tasks not listed (they become weight-0 targets)."""
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ConfigError(f"unknown tasks {sorted(unknown)}; choose from {TASKS}")
    out = []
    for r in records:
        attributes = dict(r.attributes, tasks=list(tasks))
        if r.landmarks is not None and "landmarks" not in tasks and len(r.landmarks) == 68:
            # Not a label any more, but still where masks and sunglasses go (stage 2's pose
            # samples are occluded like the others).
            attributes.setdefault("placement_landmarks", r.landmarks)
        out.append(
            FaceRecord(
                image_path=r.image_path,
                landmarks=r.landmarks if "landmarks" in tasks else None,
                pose=r.pose if "pose" in tasks else None,
                mask_path=r.mask_path if "occlusion" in tasks else None,
                box=r.box if r.box is not None else (
                    None if r.landmarks is None else box_from_landmarks(r.landmarks)),
                attributes=attributes,
                dataset=r.dataset,
            )
        )
    return out


def check_entry(entry: dict, section: str) -> None:
    """Raise :class:`ConfigError` when a data entry lacks a name or root, or its root is
    not on this machine (cheap: run before a training writes anything)."""
    name, root = entry.get("name"), entry.get("root")
    if not name or not root:
        raise ConfigError(f"data.{section}: every entry needs 'name' and 'root': {entry}")
    if not pathlib.Path(root).exists():
        raise ConfigError(
            f"data.{section}: dataset {name!r} not found at {root} "
            f"(set its root in the config or pass --data-root {name}=PATH)"
        )


def check_roots(config: dict) -> None:
    """:func:`check_entry` on every ``data.train`` and ``data.validation`` entry."""
    for section in ("train", "validation"):
        for entry in config["data"].get(section) or []:
            check_entry(entry, section)


def load_entry(entry: dict, section: str) -> List[FaceRecord]:
    """Records of one ``data.train`` / ``data.validation`` entry, with a clear error when
    the dataset is not where the config says."""
    from lponet_tf.data import read_dataset

    check_entry(entry, section)
    name, root = entry["name"], entry["root"]
    records = read_dataset(name, root, split=entry.get("split"))
    if not records:
        raise ConfigError(f"data.{section}: dataset {name!r} at {root} has no faces")
    holdout = entry.get("holdout")
    if holdout:
        records = holdout_split(
            records, float(holdout["fraction"]), int(holdout.get("seed", 0)),
            holdout.get("part", "train" if section == "train" else "val"),
        )
    from lponet_tf.data.sample import check_records  # deferred: the sample module is heavy

    sizes = check_records(records)  # before the run claims its folder or builds the model
    if entry.get("pseudo_pose"):
        from lponet_tf.data.pseudo_pose import fill_pseudo_poses

        records = fill_pseudo_poses(records, image_size=sizes.__getitem__,
                                    centre=entry.get("pseudo_pose_centre", "photo"))
    records = restrict_tasks(records, entry.get("tasks", TASKS))
    limit = entry.get("limit")
    return records[: int(limit)] if limit else records


@dataclasses.dataclass(frozen=True)
class DataPlan:
    """What a training config asks of the data, read once (:func:`data_plan`).

    Attributes:
        sources: ``[(records, ratio)]`` of the ``data.train`` entries (share of each batch).
        validation: records of all ``data.validation`` entries, or None without any.
        batch_size, seed: ``train.batch_size`` and ``train.seed``; validation draws its
            occluders with ``seed + 1`` (:attr:`validation_seed`).
        mixing: ``data.mixing``, "exact" or "sampled".
        augment: the :class:`~lponet_tf.data.augment.AugmentConfig`, None when ``augment: false``.
        occlusion: the :class:`~lponet_tf.data.occlusion.OcclusionConfig`, None when
            ``occlusion: false``; validation uses it too (the mask head is validated on
            occluded faces), augmentation it does not.
        cache: ``data.cache``: False, "bytes" or "decoded" (``true`` reads "decoded": small
            sets such as the 300W folder fit in memory decoded).
    """

    sources: List[Tuple[List[FaceRecord], float]]
    validation: Optional[List[FaceRecord]]
    batch_size: int
    seed: int
    mixing: str
    augment: Optional[Any]
    occlusion: Optional[Any]
    cache: Union[bool, str]

    @property
    def validation_seed(self) -> int:
        return self.seed + 1


def data_plan(config: dict) -> DataPlan:
    """The :class:`DataPlan` of a loaded training config (reads the datasets' records).

    Args:
        config: a training config (:func:`lponet_tf.training.config.load_config`).

    Raises:
        ConfigError: ``data.train`` is empty, or an entry's dataset is missing or empty.
    """
    from lponet_tf.data.augment import AugmentConfig
    from lponet_tf.data.occlusion import OcclusionConfig

    data, tcfg = config["data"], config["train"]
    entries = data.get("train") or []
    if not entries:
        raise ConfigError("data.train is empty: name at least one dataset")
    # false = off; a mapping (or nothing) = the options over the defaults.
    augment, occlusion = config.get("augment"), config.get("occlusion")
    val_entries = data.get("validation") or []
    cache = data.get("cache", False)
    return DataPlan(
        sources=[(load_entry(e, "train"), float(e.get("ratio", 1))) for e in entries],
        validation=([r for e in val_entries for r in load_entry(e, "validation")]
                    if val_entries else None),
        batch_size=int(tcfg["batch_size"]),
        seed=int(tcfg["seed"]),
        mixing=data.get("mixing", "exact"),
        augment=None if augment is False else AugmentConfig(**(augment or {})),
        occlusion=None if occlusion is False else OcclusionConfig(**(occlusion or {})),
        cache="decoded" if cache is True else cache,
    )
