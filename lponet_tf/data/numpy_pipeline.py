"""Training batches without TensorFlow: a ``keras.utils.PyDataset`` over ``prepare_sample``.

The ``tf.data`` pipeline (:mod:`lponet_tf.data.pipeline`) needs TensorFlow; this one feeds
``fit`` on any Keras backend (JAX on a GPU machine without TensorFlow). Same element
structure (``(image, targets, sample_weights)`` keyed by the model's output names, a zero
weight where a face lacks a label), same ``"exact"`` mixing (:func:`exact_counts`: a fixed
count per source in every batch, the sources in order) and the same per-sample seeding:
element ``e`` of source ``i`` is prepared with ``numpy.random.default_rng([seed + i, e])``
from the record at position ``e % n`` of epoch ``e // n``. Without shuffling the batches
are therefore identical to :func:`lponet_tf.data.pipeline.mix_datasets`'; with shuffling
each epoch's order is ``default_rng([seed + i, epoch]).permutation(n)`` (the tf.data
pipeline uses TensorFlow's stateless ``index_shuffle``, which numpy does not reproduce),
so the two streams hold the same epochs in another order.

Batch ``b`` is a pure function of ``b``: ``start_batch`` resumes a run exactly, and
workers (threads, or processes with ``use_multiprocessing``) may prepare batches in any
order.

Example:
    >>> batches = FaceBatches([(records_300w, 1), (records_ccm, 1)], config, batch_size=8,
    ...                       augment=AugmentConfig(), seed=0)  # doctest: +SKIP
    >>> model.fit(batches, epochs=10, steps_per_epoch=100)  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
from threadpoolctl import threadpool_limits

from lponet_tf.config import LPONetConfig
from lponet_tf.data.augment import AugmentConfig
from lponet_tf.data.occlusion import OcclusionConfig
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import load_mask, prepare_sample, read_record_image
from lponet_tf.metadata import OUTPUT_NAMES


def exact_counts(ratios: Sequence[float], batch_size: int) -> List[int]:
    """Samples per source in one batch for the ``"exact"`` mixing mode (both pipelines).

    Largest-remainder rounding of ``batch_size * ratio / sum(ratios)`` (ties go to the
    earlier source); a source whose share rounds to 0 still gets one sample, taken from
    the largest count.

    Args:
        ratios: positive ratios, e.g. ``(4, 3, 3)``.
        batch_size: total batch size.

    Returns:
        list of ints summing to ``batch_size``.

    Example:
        >>> exact_counts((4, 3, 3), 64), exact_counts((1, 1), 64)
        ([26, 19, 19], [32, 32])
    """
    r = np.asarray(ratios, np.float64)
    if r.ndim != 1 or len(r) == 0 or (r <= 0).any():
        raise ValueError(f"ratios must be positive numbers, got {list(ratios)}")
    if len(r) > batch_size:
        raise ValueError(f"{len(r)} sources do not fit in a batch of {batch_size}")
    share = r / r.sum() * batch_size
    counts = np.floor(share).astype(int)
    order = np.argsort(-(share - counts), kind="stable")
    for i in order[: batch_size - counts.sum()]:
        counts[i] += 1
    for i in np.where(counts == 0)[0]:
        counts[np.argmax(counts)] -= 1
        counts[i] += 1
    return counts.tolist()


def blas_threads(count: Optional[int] = 1):
    """A context in which numpy's BLAS (OpenBLAS) uses ``count`` threads (None: as it is).
    ``lponet_tf.training.train`` runs ``fit`` in ``blas_threads(1)``.

    BLAS starts a thread per core and lets it spin after each call; the samples' small
    matrices gain nothing from them, and workers that each call BLAS fight for the cores:
    on 2 cores, 2 worker processes delivered 7.6 batches/s of the preset's training data
    with BLAS' default threads and 33.5 with one (``benchmarks/bench_numpy_pipeline.py``).
    Worker processes set their own (:class:`FaceBatches`).

    Example:
        >>> with blas_threads(1):  # doctest: +SKIP
        ...     model.fit(FaceBatches(..., workers=4), epochs=10, steps_per_epoch=100)
    """
    return contextlib.nullcontext() if count is None else threadpool_limits(int(count), user_api="blas")


def expand_targets(d: Dict[str, np.ndarray], num_stacks: int) -> Dict[str, np.ndarray]:
    """``{heatmaps, pose, occlusion}`` -> one entry per output of a ``num_stacks`` model
    (``heatmaps_1, ...``: the final stack's target again, deep supervision)."""
    out = {}
    for i in range(1, num_stacks):
        out.update({f"{k}_{i}": d[k] for k in OUTPUT_NAMES})
    out.update({k: d[k] for k in OUTPUT_NAMES})
    return out


class FaceBatches(keras.utils.PyDataset):
    """Endless, seeded, resumable training batches from several sources (module docstring).

    Args:
        sources: ``[(records, ratio), ...]``; one source: ``[(records, 1)]``.
        config: the model's :class:`LPONetConfig` (crop size, landmark count, pose format,
            number of stacks).
        batch_size: samples per batch (split over the sources by :func:`exact_counts`).
        augment, occlusion: as :func:`lponet_tf.data.pipeline.make_dataset`.
        seed: source ``i`` uses ``seed + i`` (as ``mix_datasets``).
        shuffle: reshuffle each source's records every epoch of that source.
        start_batch: the first batch (resuming at step ``start_batch``).
        num_stacks: targets per task (default ``config.num_stacks``; 1 for an inference
            model).
        cache: keep decoded images and masks in memory (per worker process).
        compact: uint8 images (what :func:`prepare_sample` produces; the model's first
            layer casts them exactly) and float16 heatmap targets (the losses compute in
            float32; Gaussians in [0, 1] round by at most 2^-12, 2.4e-4): 2.5x fewer bytes per
            batch for a worker process's pipe and the host-to-device copy. False: float32.
        blas_threads: numpy's BLAS threads in each worker process, set on its first batch
            (:func:`blas_threads` says why; None: left as forked). This process is left
            as it is.
        repeat: endless (training); False: one pass over a single source in record order,
            the last batch smaller (validation; ``shuffle`` and ``start_batch`` unused).
        workers, use_multiprocessing, max_queue_size: as ``keras.utils.PyDataset``.

    Records must have landmarks or a box, or a mask (their crop is then the mask's
    extent, ``locate_faces="mask"`` of the tf.data pipeline; the face detector of its
    default needs TensorFlow).
    """

    def __init__(
        self,
        sources: Sequence[Tuple[Sequence[FaceRecord], float]],
        config: LPONetConfig,
        batch_size: int,
        augment: Optional[AugmentConfig] = None,
        occlusion: Optional[OcclusionConfig] = None,
        seed: int = 0,
        shuffle: bool = True,
        start_batch: int = 0,
        num_stacks: Optional[int] = None,
        cache: bool = False,
        repeat: bool = True,
        compact: bool = False,
        blas_threads: Optional[int] = 1,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)
        if not sources:
            raise ValueError("FaceBatches needs at least one source")
        self.sources = [list(records) for records, _ in sources]
        if any(not records for records in self.sources):
            raise ValueError("every source needs at least one record")
        self.counts = exact_counts([float(r) for _, r in sources], int(batch_size))
        self.config = config
        self.pose_format = "matrix" if config.pose == "6d" else "euler"
        self.augment, self.occlusion = augment, occlusion
        self.seed, self.shuffle, self.start_batch = int(seed), bool(shuffle), int(start_batch)
        self.num_stacks = config.num_stacks if num_stacks is None else int(num_stacks)
        self.cache = cache
        self.compact = bool(compact)
        self.repeat = bool(repeat)
        if not self.repeat and len(self.sources) != 1:
            raise ValueError("repeat=False reads one source once: pass a single source")
        self.batch_size = int(batch_size)
        self._images: Dict[Tuple[int, int], tuple] = {}
        self._orders: Dict[Tuple[int, int], np.ndarray] = {}
        if blas_threads is not None and int(blas_threads) < 1:
            raise ValueError(f"blas_threads must be >= 1 or None, got {blas_threads}")
        self.blas_threads = blas_threads
        self._blas_pid = os.getpid()

    @property
    def num_batches(self):
        if not self.repeat:
            return -(-len(self.sources[0]) // self.batch_size)
        return None  # endless: fit's steps_per_epoch sets the epoch

    def _record_index(self, source: int, element: int) -> int:
        n = len(self.sources[source])
        if not self.shuffle or not self.repeat:
            return element % n
        key = (source, element // n)
        order = self._orders.get(key)
        if order is None:
            order = np.random.default_rng([self.seed + source, element // n]).permutation(n)
            if len(self._orders) > 4 * len(self.sources):  # keep the current epochs only
                self._orders.clear()
            self._orders[key] = order
        return int(order[element % n])

    def _read(self, source: int, index: int):
        key = (source, index)
        hit = self._images.get(key) if self.cache else None
        if hit is None:
            rec = self.sources[source][index]
            hit = (read_record_image(rec.image_path), load_mask(rec.mask_path) if rec.mask_path else None)
            if self.cache:
                self._images[key] = hit
        return hit

    def sample(self, source: int, element: int):
        """Element ``element`` of source ``source``: a :class:`PreparedSample`."""
        index = self._record_index(source, element)
        image, mask = self._read(source, index)
        return prepare_sample(
            self.sources[source][index], self.config.input_size,
            np.random.default_rng([self.seed + source, element]),
            augment=self.augment, occlusion=self.occlusion, pose_format=self.pose_format,
            num_landmarks=self.config.num_landmarks, image=image, mask=mask, locate_faces="mask",
        )

    def _limit_blas_in_worker_process(self):
        if self._blas_pid != os.getpid() and self.blas_threads is not None:
            self._blas_pid = os.getpid()
            # A worker process forked by Keras: its threads are ours to set, for good.
            threadpool_limits(int(self.blas_threads), user_api="blas")

    def __getitem__(self, index):
        self._limit_blas_in_worker_process()
        if not self.repeat:
            first = int(index) * self.batch_size
            if not 0 <= first < len(self.sources[0]):
                raise IndexError(f"batch {index} of {self.num_batches}")
            last = min(first + self.batch_size, len(self.sources[0]))
            samples = [self.sample(0, e) for e in range(first, last)]
        else:
            batch = self.start_batch + int(index)
            samples = [self.sample(i, batch * c + j) for i, c in enumerate(self.counts) for j in range(c)]
        x = np.stack([s.image for s in samples])
        targets = {t: np.stack([s.targets[t] for s in samples]) for t in OUTPUT_NAMES}
        if self.compact:
            x = x.astype(np.uint8, copy=False)
            targets["heatmaps"] = targets["heatmaps"].astype(np.float16)
        else:
            x = x.astype(np.float32)
        weights = {t: np.array([s.weights[t] for s in samples], np.float32) for t in OUTPUT_NAMES}
        return x, expand_targets(targets, self.num_stacks), expand_targets(weights, self.num_stacks)


def delivery_rate(batches: keras.utils.PyDataset, seconds: float, warmup: int = 2,
                  blas: Optional[int] = 1) -> float:
    """Batches per second that Keras' ``PyDataset`` adapter delivers from ``batches``: what
    ``fit`` receives, with the dataset's own workers (threads, or forked processes whose
    every batch crosses a pipe). Timing ``batches[i]`` calls in a pool of one's own leaves
    that out: on the 16-core GPU machine 14 such processes prepared 41 batches/s while
    training took 17-20 (docs/training.md).

    Args:
        batches: an endless ``PyDataset`` (for example :class:`FaceBatches`).
        seconds: how long to time, after ``warmup`` batches.
        blas: this process's BLAS threads meanwhile (:func:`blas_threads`; 1, as
            ``lponet_tf.training.train`` runs ``fit``).

    Example:
        >>> rate = delivery_rate(FaceBatches(...), 10.0)  # doctest: +SKIP
    """
    # Keras exposes no public iterator over a PyDataset outside fit.
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(batches, shuffle=False)
    with blas_threads(blas):
        adapter.on_epoch_begin()
        try:
            it = iter(adapter.get_numpy_iterator())
            for _ in range(warmup):
                next(it)
            done, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                next(it)
                done += 1
            return done / (time.perf_counter() - t0)
        finally:
            adapter.on_epoch_end()


__all__ = ["FaceBatches", "blas_threads", "delivery_rate", "exact_counts", "expand_targets"]
