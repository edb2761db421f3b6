"""``tf.distribute`` strategy of a training config.

``train.distribute``:
  * ``none`` — the default strategy (one device).
  * ``mirrored`` — ``MirroredStrategy``: synchronous data parallelism over the GPUs of one
    machine (or ``train.devices``, e.g. two logical CPUs in the tests).
  * ``multi_worker`` — ``MultiWorkerMirroredStrategy`` over machines described by the
    ``TF_CONFIG`` environment variable (``{"cluster": {"worker": [host:port, ...]},
    "task": {"type": "worker", "index": i}}``); start the same command on every worker.

``train.batch_size`` is the global batch: each of R replicas computes ``batch / R``
samples, and gradients are summed across replicas, so results match one device.
"""
from __future__ import annotations

import json
import os

import tensorflow as tf

from lponet_tf.training.config import ConfigError


def make_strategy(train_config: dict) -> tf.distribute.Strategy:
    kind = str(train_config.get("distribute", "none")).lower()
    devices = train_config.get("devices")
    if kind in ("none", "default", ""):
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        if devices:
            _ensure_logical_cpus(devices)
        return tf.distribute.MirroredStrategy(devices=devices)
    if kind == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("train.distribute=multi_worker needs the TF_CONFIG environment variable")
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    raise ConfigError(f"train.distribute must be none, mirrored or multi_worker, got {kind!r}")


def check_batch_split(strategy: tf.distribute.Strategy, batch_size: int) -> None:
    """The global batch must split evenly: each replica averages its loss over its own
    share, so unequal shares would weigh samples unequally (not one device's update)."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ConfigError(
            f"train.batch_size={batch_size} does not split over {replicas} replicas: "
            f"use a multiple of {replicas}"
        )


def _ensure_logical_cpus(devices) -> None:
    """Split the CPU into as many logical devices as ``devices`` names (tests on CPU)."""
    cpus = [d for d in devices if "cpu" in d.lower()]
    if not cpus:
        return
    physical = tf.config.list_physical_devices("CPU")
    # Don't list logical devices here: that initialises the runtime, after which the
    # split is refused.
    if len(tf.config.get_logical_device_configuration(physical[0]) or []) >= len(cpus):
        return
    try:
        tf.config.set_logical_device_configuration(
            physical[0], [tf.config.LogicalDeviceConfiguration() for _ in cpus]
        )
    except RuntimeError as exc:
        raise RuntimeError(
            f"train.devices={list(devices)} needs {len(cpus)} logical CPUs, but TensorFlow "
            "was initialised before the strategy was made (start a fresh process)"
        ) from exc


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this process is a non-chief worker of a multi-worker run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in ("chief", None):
        return True
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return task_type == "worker" and task_id == 0 and "chief" not in cluster
