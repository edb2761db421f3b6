"""``tf.data`` pipelines: records -> ``(image, targets, sample_weights)``, and dataset mixing.

Every element has the structure of ``docs/CONVENTIONS.md``::

    image    float32 (S, S, 3) RGB 0..255
    targets  {"heatmaps": (S/4, S/4, K), "pose": (3, 3) or (3,), "occlusion": (S/4, S/4, 2)}
    weights  {"heatmaps": (), "pose": (), "occlusion": ()}  # 0 = no label for that task

so datasets with different labels (300W: landmarks, 300W-LP: landmarks + pose, C-CM:
masks) can be mixed in one batch and Keras' per-output sample weights switch each loss
off where its label is missing.

Decoding, cropping, augmentation, occlusion synthesis and target encoding run in numpy /
OpenCV (:func:`lponet_tf.data.sample.prepare_sample`) inside ``tf.numpy_function``, in
parallel (``num_parallel_calls=AUTOTUNE``). Determinism: element ``e`` of a pipeline is
prepared with ``numpy.random.default_rng([seed, e])`` from the record at position ``e % n``
of a stateless, seeded permutation for epoch ``e // n``, so with a seed and
``deterministic=True`` two pipelines, or two iterators of one pipeline, yield identical
batches.

Mixing (:func:`mix_datasets`):
    * ``"exact"``: each batch holds a fixed count per source, the ratios scaled to the
      batch size and rounded by largest remainder (ties to the earlier source, each
      source at least 1): 64 at 4:3:3 -> 26, 19, 19; 1:1 -> 32, 32 (paper stage 1/2).
    * ``"sampled"``: every element's source is drawn with probability proportional to its
      ratio (``tf.data.Dataset.sample_from_datasets``), so batch counts vary.
"""
from __future__ import annotations

import functools
import os
import threading
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from lponet_tf.config import LPONetConfig
from lponet_tf.data.augment import AugmentConfig
from lponet_tf.data.face_geometry import FaceGeometry, FaceLocator
from lponet_tf.data.numpy_pipeline import exact_counts  # noqa: F401  (one mixing rule for both paths)
from lponet_tf.data.occlusion import OcclusionConfig
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import decode_mask, load_mask, prepare_sample, read_record_image
from lponet_tf.errors import DataError
from lponet_tf.metadata import OUTPUT_NAMES

AUTOTUNE = tf.data.AUTOTUNE
CACHE_MODES = (False, True, "bytes", "decoded")


class _Loader:
    """Thread-safe record -> arrays function for ``tf.numpy_function``.

    Holds the records, the preparation options and the optional in-memory cache of
    encoded bytes or decoded images (records are read at most once then).
    """

    def __init__(self, records, input_size, augment, occlusion, pose_format, num_landmarks, seed, cache,
                 locator=None):
        self.records = records
        self.input_size = input_size
        self.augment = augment
        self.occlusion = occlusion
        self.pose_format = pose_format
        self.num_landmarks = num_landmarks
        self.seed = seed
        self.cache = "bytes" if cache is True else cache
        self._store: Dict[int, tuple] = {}
        self._lock = threading.Lock()
        # Faces without landmarks or box are located once per record (a detection costs
        # about as much as decoding the photo), then reused every epoch.
        self.locator = locator
        self._located: Dict[int, Optional[FaceGeometry]] = {}

    def _sources(self, i: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        rec = self.records[i]
        if not self.cache:
            return read_record_image(rec.image_path), (load_mask(rec.mask_path) if rec.mask_path else None)
        with self._lock:
            hit = self._store.get(i)
        if hit is None:
            if self.cache == "bytes":
                hit = (_read(rec.image_path), _read(rec.mask_path) if rec.mask_path else None)
            else:
                hit = (read_record_image(rec.image_path), load_mask(rec.mask_path) if rec.mask_path else None)
            with self._lock:
                self._store[i] = hit
        if self.cache == "bytes":
            img = read_record_image(rec.image_path, hit[0])
            mask = decode_mask(hit[1], rec.mask_path) if hit[1] is not None else None
            return img, mask
        return hit

    def _locate(self, i: int, image: np.ndarray, mask: Optional[np.ndarray]) -> Optional[FaceGeometry]:
        rec = self.records[i]
        if self.locator is None or rec.landmarks is not None or rec.box is not None:
            return None
        with self._lock:
            if i in self._located:
                return self._located[i]
        found = self.locator.locate(image, mask)
        with self._lock:
            self._located[i] = found
        return found

    def __call__(self, element: np.ndarray, index: np.ndarray):
        i = int(index)
        image, mask = self._sources(i)
        rng = np.random.default_rng([self.seed, int(element)])
        located = self._locate(i, image, mask)
        s = prepare_sample(
            self.records[i],
            self.input_size,
            rng,
            augment=self.augment,
            occlusion=self.occlusion,
            pose_format=self.pose_format,
            num_landmarks=self.num_landmarks,
            image=image,
            mask=mask,
            located=located,
            locate_faces="image" if self.locator is not None and self.locator.mode == "image" else "mask",
        )
        return (s.image,) + tuple(s.targets[t] for t in OUTPUT_NAMES) + tuple(s.weights[t] for t in OUTPUT_NAMES)


def _record_of_element(element: tf.Tensor, n: int, seed: int, shuffle: bool):
    """``(element, record index)``: element ``e`` is position ``e % n`` of epoch ``e // n``.

    Each epoch's order is a stateless permutation of the records keyed by ``(seed,
    epoch)`` (``tf.random.experimental.index_shuffle``), so the stream is a pure function
    of the element number. A ``Dataset.shuffle`` would instead reshuffle per *iterator*:
    Keras opens an extra iterator under a ``tf.distribute`` strategy (its symbolic build
    reads one batch), and the training stream would then differ from one device's.
    """
    if not shuffle:
        return element, element % n
    epoch_seed = tf.stack([tf.constant(seed, tf.int64), element // n])
    position = tf.random.experimental.index_shuffle(element % n, epoch_seed, max_index=n - 1)
    return element, position


def _read(path: str) -> bytes:
    """A file's bytes (undecoded); DataError naming it when it is missing."""
    if not os.path.isfile(path):
        raise DataError(path, "file not found")
    with open(path, "rb") as f:
        return f.read()


def _resolve(input_size, pose_format, num_landmarks):
    """Accept an LPONetConfig in place of the input size (pose format from its head)."""
    if isinstance(input_size, LPONetConfig):
        cfg = input_size
        pose_format = pose_format or ("matrix" if cfg.pose == "6d" else "euler")
        return cfg.input_size, pose_format, cfg.num_landmarks
    return int(input_size), (pose_format or "matrix"), num_landmarks


def make_dataset(
    records: Sequence[FaceRecord],
    input_size: Union[int, LPONetConfig] = 256,
    batch_size: Optional[int] = None,
    augment: Optional[AugmentConfig] = None,
    occlusion: Optional[OcclusionConfig] = None,
    shuffle: bool = True,
    seed: Optional[int] = None,
    cache: Union[bool, str] = False,
    pose_format: Optional[str] = None,
    deterministic: Optional[bool] = None,
    repeat: bool = True,
    num_landmarks: int = 68,
    num_parallel_calls: int = AUTOTUNE,
    drop_remainder: bool = True,
    start: int = 0,
    locate_faces: str = "detector",
    detector=None,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of prepared samples from records.

    Args:
        records: the faces (any mix of labels).
        input_size: crop side S, or an :class:`LPONetConfig` (gives S, K and the pose
            format: "matrix" for the 6D head, "euler" for the Euler head).
        batch_size: batch the elements (``None``: unbatched, e.g. to feed
            :func:`mix_datasets`).
        augment: augmentation config (None: plain crops, e.g. for evaluation).
        occlusion: synthetic occlusion config (None: none).
        shuffle: reshuffle the records every epoch.
        seed: seeds the shuffle and every sample's augmentation; None draws one.
        cache: False; True / "bytes": keep the encoded files in memory (no disk reads
            after the first epoch); "decoded": keep decoded images (no JPEG decoding
            either, for small sets). Augmentation stays random per epoch either way.
        pose_format: "matrix" (3, 3) or "euler" (3,) degrees; default from ``input_size``
            when it is a config, else "matrix".
        deterministic: keep the element order under parallel preparation (default: True
            when a seed is given). With a seed, same seed -> same batches.
        repeat: repeat forever (training); False gives one pass (evaluation).
        num_landmarks: K (heatmap depth for samples without landmarks).
        num_parallel_calls: parallel preparation calls (AUTOTUNE).
        drop_remainder: drop a last incomplete batch.
        start: begin at this element of the (seeded) stream. The stream is a pure function
            of the element number (no iterator state), so resuming a run at element ``n``
            costs nothing and yields exactly what an uninterrupted pipeline yields from
            ``n`` on, however many iterators were opened on it.
        locate_faces: how a record with neither landmarks nor a box (C-CM) is cropped
            (paper Section IV-A: a face detector's box + 10%): ``"detector"`` (the
            detector's box mapped to a landmark-box estimate as at inference, else the
            mask's extent; once per record), ``"mask"`` (the mask's extent) or ``"image"``
            (the whole image). See :mod:`lponet_tf.data.face_geometry`.
        detector: detector name or object for ``"detector"`` (None: the default BlazeFace).

    Returns:
        ``tf.data.Dataset`` of ``(image, targets, sample_weights)``.

    Example:
        >>> ds = make_dataset(records, 128, batch_size=8, augment=AugmentConfig(),
        ...                   occlusion=OcclusionConfig(), seed=0)  # doctest: +SKIP
        >>> model.fit(expand_for_stacks(ds, 2), steps_per_epoch=100)  # doctest: +SKIP
    """
    records = list(records)
    if not records:
        raise ValueError("make_dataset needs at least one record")
    if cache not in CACHE_MODES:
        raise ValueError(f"cache must be one of {CACHE_MODES}, got {cache!r}")
    size, pose_format, num_landmarks = _resolve(input_size, pose_format, num_landmarks)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
        deterministic = bool(deterministic)
    elif deterministic is None:
        deterministic = True
    locator = FaceLocator(locate_faces, detector)
    if not any(r.landmarks is None and r.box is None for r in records):
        locator = None  # nothing to locate: no detector is built
    loader = _Loader(records, size, augment, occlusion, pose_format, num_landmarks, int(seed), cache,
                     locator)

    g = size // 4
    pose_shape = (3, 3) if pose_format == "matrix" else (3,)
    shapes = [(size, size, 3), (g, g, num_landmarks), pose_shape, (g, g, 2), (), (), ()]

    def load(element, index):
        out = tf.numpy_function(
            loader, [element, index], [tf.uint8] + [tf.float32] * 6, stateful=False, name="prepare_sample"
        )
        for t, shape in zip(out, shapes):
            t.set_shape(shape)
        image = tf.cast(out[0], tf.float32)
        return image, dict(zip(OUTPUT_NAMES, out[1:4])), dict(zip(OUTPUT_NAMES, out[4:7]))

    ds = tf.data.Dataset.counter(int(start)) if repeat else tf.data.Dataset.range(
        int(start), len(records))
    # (element number, record index): the element number seeds the sample's rng.
    ds = ds.map(functools.partial(_record_of_element, n=len(records), seed=seed, shuffle=shuffle))
    ds = ds.map(load, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    if batch_size:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE)


def _unbatched(ds: tf.data.Dataset) -> tf.data.Dataset:
    """Elements of ``ds`` one sample at a time (unbatches a batched pipeline)."""
    image_spec = ds.element_spec[0]
    return ds.unbatch() if image_spec.shape.rank == 4 else ds


def _check_compatible(datasets: Sequence[tf.data.Dataset]) -> None:
    first = datasets[0].element_spec
    for i, ds in enumerate(datasets[1:], start=1):
        spec = ds.element_spec
        try:
            tf.nest.assert_same_structure(first, spec)
        except (ValueError, TypeError) as e:
            raise ValueError(f"source {i} has another element structure than source 0: {e}") from None
        for a, b in zip(tf.nest.flatten(first), tf.nest.flatten(spec)):
            if a.shape != b.shape or a.dtype != b.dtype:
                raise ValueError(
                    f"source {i} yields {b.dtype.name}{b.shape} where source 0 yields "
                    f"{a.dtype.name}{a.shape} (same input size, landmark count and pose "
                    "format needed for every source)"
                )


def mix_datasets(
    sources: Sequence[Tuple[Union[tf.data.Dataset, Sequence[FaceRecord]], float]],
    batch_size: int,
    mode: str = "exact",
    seed: Optional[int] = None,
    start_batch: int = 0,
    **dataset_options,
) -> tf.data.Dataset:
    """Mix several sources into batches with given ratios.

    Args:
        sources: ``[(records_or_dataset, ratio), ...]``. Records are turned into an
            unbatched, repeating :func:`make_dataset` pipeline (with
            ``**dataset_options``: input_size, augment, occlusion, ...); a dataset is
            used as is (unbatched first when it is batched) and should repeat.
        batch_size: samples per batch.
        mode: "exact" (fixed count per source per batch, see :func:`exact_counts`; the
            batch holds the sources in order) or "sampled" (each element's source drawn
            with probability ratio / sum).
        seed: seeds the record pipelines (source ``i`` gets ``seed + i``) and the
            sampling; with a seed, same seed -> same batches.
        start_batch: begin at this batch (resuming a run). Exact in ``"exact"`` mode for
            record sources (each starts ``start_batch * count`` elements in); in
            ``"sampled"`` mode the sources start at their expected positions, so a resumed
            run sees the same kind of batches but not the identical ones.
        **dataset_options: passed to :func:`make_dataset` for record sources.

    Returns:
        ``tf.data.Dataset`` of batched ``(image, targets, sample_weights)``.

    Example:
        >>> ds = mix_datasets([(w300_records, 4), (lp_records, 3), (ccm_records, 3)], 64,
        ...                   input_size=256, augment=AugmentConfig(), seed=0)  # doctest: +SKIP
    """
    if mode not in ("exact", "sampled"):
        raise ValueError(f"mode must be 'exact' or 'sampled', got {mode!r}")
    if not sources:
        raise ValueError("mix_datasets needs at least one source")
    ratios = [float(r) for _, r in sources]
    if mode == "exact":
        counts = exact_counts(ratios, batch_size)
        starts = [start_batch * c for c in counts]
    else:
        starts = [int(start_batch * batch_size * r / sum(ratios)) for r in ratios]
    datasets = []
    for i, (src, _) in enumerate(sources):
        if isinstance(src, tf.data.Dataset):
            datasets.append(_unbatched(src).skip(starts[i]) if start_batch else _unbatched(src))
        else:
            opts = dict(dataset_options, batch_size=None, repeat=True, start=starts[i])
            if seed is not None:
                opts["seed"] = seed + i
            datasets.append(make_dataset(src, **opts))
    _check_compatible(datasets)
    if mode == "exact":
        parts = tuple(ds.batch(c, drop_remainder=True) for ds, c in zip(datasets, counts))
        mixed = tf.data.Dataset.zip(parts).map(
            lambda *batches: tf.nest.map_structure(lambda *xs: tf.concat(xs, axis=0), *batches),
            num_parallel_calls=AUTOTUNE,
        )
    else:
        weights = [r / sum(ratios) for r in ratios]
        mixed = tf.data.Dataset.sample_from_datasets(datasets, weights=weights, seed=seed).batch(
            batch_size, drop_remainder=True
        )
    return mixed.prefetch(AUTOTUNE)


def expand_for_stacks(ds: tf.data.Dataset, num_stacks: int) -> tf.data.Dataset:
    """Repeat every target and weight for the intermediate stacks (deep supervision).

    Adds ``heatmaps_1, pose_1, occlusion_1, ..., heatmaps_{n-1}, ...`` (the training
    model's output names, see ``lponet_tf.model.output_names``) with the final stack's
    target and weight.

    Args:
        ds: dataset of ``(image, targets, sample_weights)``.
        num_stacks: the model's ``num_stacks``.

    Returns:
        dataset with one target and weight per model output.
    """
    if num_stacks < 1:
        raise ValueError(f"num_stacks must be >= 1, got {num_stacks}")

    def expand(d):
        out = {}
        for i in range(1, num_stacks):
            out.update({f"{k}_{i}": d[k] for k in OUTPUT_NAMES})
        out.update({k: d[k] for k in OUTPUT_NAMES})
        return out

    return ds.map(lambda x, t, w: (x, expand(t), expand(w)), num_parallel_calls=AUTOTUNE)
