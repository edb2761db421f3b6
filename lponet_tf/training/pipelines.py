"""The training and validation ``tf.data`` pipelines of a training config.

Built from :mod:`lponet_tf.data.pipeline` (``mix_datasets`` with ``data.mixing`` "exact" or
"sampled", then ``expand_for_stacks`` for deep supervision). The stream is seeded, and a
resumed run starts it at ``done_epochs * steps_per_epoch`` batches: Keras keeps one
iterator across epochs when ``steps_per_epoch`` is set, so in "exact" mixing a resumed run
sees exactly the batches an uninterrupted run would have seen.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from lponet_tf.config import LPONetConfig
from lponet_tf.data.augment import AugmentConfig
from lponet_tf.data.occlusion import OcclusionConfig
from lponet_tf.data.pipeline import exact_counts, expand_for_stacks, make_dataset, mix_datasets
from lponet_tf.training.config import ConfigError
from lponet_tf.training.datasets import load_entry

__all__ = ["train_and_validation_datasets", "exact_counts"]


def _augment(config: dict) -> Optional[AugmentConfig]:
    value = config.get("augment")
    return None if value is False else AugmentConfig(**(value or {}))


def _occlusion(config: dict) -> Optional[OcclusionConfig]:
    value = config.get("occlusion")
    return None if value is False else OcclusionConfig(**(value or {}))


def _cache(data: dict):
    # Small sets (the 300W folder) fit in memory decoded; big ones keep file bytes.
    value = data.get("cache", False)
    return "decoded" if value is True else value


def _distributable(ds: tf.data.Dataset, batch_size: int,
                   strategy: Optional[tf.distribute.Strategy]) -> tf.data.Dataset:
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        # tf.distribute splits a global batch between replicas only when the dataset ends
        # in batch(); mixed batches are concatenated in a map, so batch them again (else
        # every replica would get a whole global batch).
        ds = ds.unbatch().batch(batch_size, drop_remainder=True)
    # The stream is generated, not read from files: shard by data across workers.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def train_and_validation_datasets(config: dict, model_config: LPONetConfig,
                                  strategy: Optional[tf.distribute.Strategy] = None,
                                  start_batch: int = 0):
    """``(train, validation or None)`` datasets of ``(image, targets, weights)`` keyed by
    the training model's output names.

    Args:
        config: a loaded training config.
        model_config: the architecture (input size, landmarks, pose format, stacks).
        strategy: the run's strategy; with several replicas the global batches are
            re-batched so that Keras can split them.
        start_batch: first batch of the training stream (resuming).
    """
    data, tcfg = config["data"], config["train"]
    seed, batch = int(tcfg["seed"]), int(tcfg["batch_size"])
    entries = data.get("train") or []
    if not entries:
        raise ConfigError("data.train is empty: name at least one dataset")
    options = dict(input_size=model_config, augment=_augment(config),
                   occlusion=_occlusion(config), cache=_cache(data))
    sources = [(load_entry(e, "train"), float(e.get("ratio", 1))) for e in entries]
    train = mix_datasets(sources, batch, mode=data.get("mixing", "exact"), seed=seed,
                         start_batch=start_batch, **options)
    train = _distributable(expand_for_stacks(train, model_config.num_stacks), batch, strategy)

    val_entries = data.get("validation") or []
    if not val_entries:
        return train, None
    records = [r for e in val_entries for r in load_entry(e, "validation")]
    # Plain crops, but the configured synthetic occluders with a fixed seed, so the mask
    # head is validated on occluded faces too; one pass, cached after the first epoch.
    val = make_dataset(records, batch_size=batch, shuffle=False, repeat=False, seed=seed + 1,
                       drop_remainder=False, **dict(options, augment=None))
    val = expand_for_stacks(val, model_config.num_stacks).cache()
    return train, _distributable(val, batch, strategy)
