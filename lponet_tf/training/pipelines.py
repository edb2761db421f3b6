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
from lponet_tf.data.pipeline import exact_counts, expand_for_stacks, make_dataset, mix_datasets
from lponet_tf.training.datasets import DataPlan, data_plan

__all__ = ["train_and_validation_datasets", "exact_counts"]


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
                                  start_batch: int = 0, plan: Optional[DataPlan] = None):
    """``(train, validation or None)`` datasets of ``(image, targets, weights)`` keyed by
    the training model's output names.

    Args:
        config: a loaded training config.
        model_config: the architecture (input size, landmarks, pose format, stacks).
        strategy: the run's strategy; with several replicas the global batches are
            re-batched so that Keras can split them.
        start_batch: first batch of the training stream (resuming).
        plan: the config's :func:`~lponet_tf.training.datasets.data_plan` when already
            read (the trainer reads it, its pre-flight checks included, before any file
            is written); None reads it.
    """
    plan = plan or data_plan(config)
    batch = plan.batch_size
    options = dict(input_size=model_config, augment=plan.augment, occlusion=plan.occlusion,
                   cache=plan.cache)
    train = mix_datasets(plan.sources, batch, mode=plan.mixing, seed=plan.seed,
                         start_batch=start_batch, **options)
    train = _distributable(expand_for_stacks(train, model_config.num_stacks), batch, strategy)
    if plan.validation is None:
        return train, None
    # Plain crops, but the configured synthetic occluders with a fixed seed, so the mask
    # head is validated on occluded faces too; one pass, cached after the first epoch.
    val = make_dataset(plan.validation, batch_size=batch, shuffle=False, repeat=False,
                       seed=plan.validation_seed, drop_remainder=False,
                       **dict(options, augment=None))
    val = expand_for_stacks(val, model_config.num_stacks).cache()
    return train, _distributable(val, batch, strategy)
