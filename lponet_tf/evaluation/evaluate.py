"""Evaluate a model on the test sets of an eval config: the numbers of the paper's tables.

:func:`evaluate_config` runs every dataset of an :class:`~lponet_tf.evaluation.config.EvalConfig`
that is present (a missing one is reported "not present at PATH", or raises with
``strict``), in batches through any runner (``.keras``, ``.tflite`` or ``.onnx`` via
:func:`lponet_tf.runtime.load_runner`, or any callable with the same contract), and scores
each face by the protocol of :mod:`lponet_tf.evaluation.protocol`:

* landmarks: inter-ocular NME in % (Eq. 10; outer eye corners 36 / 45) in image pixels;
* pose: MAE in degrees per yaw / pitch / roll (Eq. 11, the project's Euler convention,
  :func:`lponet_tf.geometry.matrix_to_euler`) and the geodesic distance (Table 2);
* occlusion: mIoU in % (Eq. 12) of the two classes inside the crop square.

AFLW2000-SO (Table 9) is evaluated from the ``aflw2000_so`` entry: its root is either the
AFLW2000 originals, from which the five occluded variants are built on the fly in a
temporary folder, or a folder the builder wrote before (read as it is).
"""
from __future__ import annotations

import dataclasses
import pathlib
import tempfile
import time
from typing import Callable, Dict, Iterable, List, Mapping, Optional

import numpy as np

from lponet_tf import metrics
from lponet_tf.codec import decode
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import check_mask_size, check_records, load_mask
from lponet_tf.errors import DataError, LPONetError
from lponet_tf.evaluation import protocol
from lponet_tf.evaluation.config import EvalConfig, EvalEntry
from lponet_tf.evaluation.scores import DatasetScores, FaceScore, face_groups

#: Runner outputs the evaluation reads (names fixed by docs/CONVENTIONS.md).
OUTPUTS = ("heatmaps", "pose", "occlusion")


class DatasetNotPresent(LPONetError, FileNotFoundError):
    """A dataset of the eval config is not at its root (raised with ``strict``)."""


@dataclasses.dataclass(frozen=True)
class RunnerInfo:
    """What the evaluation needs to know about a model.

    Attributes:
        input_size: side S of the square input.
        pose: ``"6d"`` (pose output is ``(N, 3, 3)``) or ``"euler"`` (``(N, 3)`` degrees).
        label: row label in the tables (e.g. the model file's name).
        backend: ``"keras"``, ``"tflite"``, ``"onnx"``, ... (for the report).
        decode: how heatmaps are read (:class:`~lponet_tf.codec.decode.DecodeSettings`,
            the analyzer's: from the model metadata, DARK by default).
        flip_tta: the label x offset (input pixels) of flip test-time augmentation when the
            runner averages each face with its mirror
            (:class:`~lponet_tf.inference.flip_tta.FlipTTARunner`), else None.
    """

    input_size: int
    pose: str
    label: str = "model"
    backend: str = ""
    decode: decode.DecodeSettings = decode.DecodeSettings()
    flip_tta: Optional[float] = None


def runner_info(runner, label: Optional[str] = None, decode_rule: Optional[str] = None
                ) -> RunnerInfo:
    """Read a runner's metadata (:func:`lponet_tf.runtime.load_runner`).

    ``runner.metadata`` may be a mapping or an object with attributes; it must give
    ``input_size`` and the pose representation (``pose``). ``decode_rule`` (``"dark"`` /
    ``"top2"``) overrides the heatmap decoding rule (default: as :class:`FaceAnalyzer`).

    Raises:
        ValueError: the metadata lacks them.
    """
    meta = getattr(runner, "metadata", None)

    def get(name):
        if isinstance(meta, Mapping):
            return meta.get(name)
        return getattr(meta, name, None)

    size = get("input_size")
    pose = get("pose") or get("pose_representation")
    if size is None or pose not in ("6d", "euler"):
        raise ValueError(f"runner metadata must give input_size and pose ('6d'/'euler'), got {meta!r}")
    backend = get("backend") or getattr(runner, "backend", "") or ""
    from lponet_tf.inference.flip_tta import FlipTTARunner  # deferred: inference is heavier

    flip = runner.label_x_offset if isinstance(runner, FlipTTARunner) else None
    return RunnerInfo(int(size), str(pose), label or str(get("preset") or "model"), str(backend),
                      decode.DecodeSettings.from_metadata(meta, decode_rule), flip)


# ----------------------------------------------------------------------------- one set
def _batches(items: List, size: int) -> Iterable[List]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _score_face(record: FaceRecord, face: protocol.PreparedFace, outputs: Dict[str, np.ndarray],
                i: int, info: RunnerInfo, tasks) -> FaceScore:
    score = FaceScore(record.image_path, face_groups(record), face.crop_source)
    if "landmarks" in tasks and record.landmarks is not None:
        pred, _ = decode.decode_landmarks(outputs["heatmaps"][i], face.transform, info.decode)
        score.pred_landmarks, score.gt_landmarks = pred, record.landmarks
        score.nme = float(metrics.nme(pred, record.landmarks).mean)
    if "pose" in tasks and record.pose is not None:
        score.pred_R, pred_ypr = decode.pose_rotation(outputs["pose"][i], info.pose)
        score.gt_R, _ = decode.pose_rotation(record.pose, "6d")
        score.gt_ypr = protocol.pose_reference(record)
        score.pred_ypr = protocol.predicted_euler(score.pred_R, pred_ypr, info.pose, score.gt_ypr)
    if "occlusion" in tasks and record.mask_path is not None:
        gt = load_mask(record.mask_path) > 0.5
        check_mask_size(gt.shape, face.image_shape, record.mask_path)
        visible, region = decode.visible_mask_in_image(
            outputs["occlusion"][i], face.transform, face.image_shape, gt.shape)
        # Only the crop square counts: (1, M) arrays are one "image" for metrics.miou.
        score.iou = metrics.miou(visible[region][None], gt[region][None]).per_class
    return score


def _check_outputs(outputs: Mapping, n: int) -> None:
    for name in OUTPUTS:
        if name not in outputs:
            raise ValueError(f"runner output lacks {name!r} (has {sorted(outputs)})")
        if len(outputs[name]) != n:
            raise ValueError(f"runner returned {len(outputs[name])} {name} for {n} faces")


def evaluate_records(records: List[FaceRecord], runner: Callable, info: RunnerInfo,
                     tasks=("landmarks", "pose", "occlusion"), batch_size: int = 16,
                     enlarge: float = 0.1, detector=None, progress: bool = True,
                     desc: str = "faces") -> DatasetScores:
    """Crop, run and score faces in batches.

    Args:
        records: the faces.
        runner: ``runner(images float32 (N, S, S, 3) 0..255) -> {"heatmaps", "pose",
            "occlusion"}`` numpy arrays (the :func:`lponet_tf.runtime.load_runner` contract).
        info: the runner's input size and pose representation.
        tasks: tasks to score.
        batch_size: faces per runner call (a short last batch is padded to it).
        enlarge: crop margin per side.
        detector: for faces with neither landmarks nor a box (see :func:`protocol.prepare_face`).
        progress: show a tqdm bar over faces.
        desc: the bar's label.

    Returns:
        :class:`DatasetScores` (with the wall time in ``seconds``).

    Example:
        >>> scores = evaluate_records(records, runner, runner_info(runner))  # doctest: +SKIP
        >>> scores.summary()["landmarks"]["all"]["nme"]  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    batch_size = max(1, int(batch_size))
    scores = DatasetScores()
    start = time.perf_counter()
    with tqdm(total=len(records), desc=desc, unit="face", disable=not progress,
              leave=False, dynamic_ncols=True) as bar:
        for batch in _batches(list(records), batch_size):
            faces = [protocol.prepare_face(r, info.input_size, enlarge, detector) for r in batch]
            crops = np.stack([f.crop for f in faces])
            if len(crops) < batch_size:
                # A short last batch is padded with black crops: one input shape for the
                # whole run, so a Keras/TF runner traces its graph once, not per size.
                pad = np.zeros((batch_size - len(crops), *crops.shape[1:]), np.float32)
                crops = np.concatenate([crops, pad])
            outputs = runner(crops)
            _check_outputs(outputs, len(crops))
            outputs = {k: np.asarray(outputs[k])[: len(batch)] for k in OUTPUTS}
            for i, (record, face) in enumerate(zip(batch, faces)):
                scores.add(_score_face(record, face, outputs, i, info, tasks))
            bar.update(len(batch))
    scores.seconds = time.perf_counter() - start
    return scores


# ----------------------------------------------------------------------------- AFLW2000-SO
def _limited(records: List[FaceRecord], limit: Optional[int]) -> List[FaceRecord]:
    return records[:limit] if limit else records


def is_prebuilt_so(root) -> bool:
    """Whether ``root`` is an AFLW2000-SO folder written by the builder (one folder per part)."""
    from lponet_tf.data.benchmark_sets import SO_PARTS

    return all((pathlib.Path(root) / part).is_dir() for part in SO_PARTS)


def so_variant_records(entry: EvalEntry, work_dir) -> Dict[str, List[FaceRecord]]:
    """The AFLW2000-SO faces per occluded part (Table 9).

    A root the builder wrote before (:func:`is_prebuilt_so`) is read part by part, each as
    the entry (:func:`read_entry`: split, holdout, labels, limit). Otherwise
    the root holds the AFLW2000 originals: the entry's faces (after its ``limit``) are
    linked into ``work_dir`` and :func:`lponet_tf.data.benchmark_sets.build_aflw2000_so`
    writes the five variants there; ``"none"`` is then the originals themselves.

    Returns:
        ``{part: records}`` (``"none"`` first when built here).
    """
    from lponet_tf.data import benchmark_sets, read_dataset

    root = pathlib.Path(entry.root)
    if is_prebuilt_so(root):  # each part read as the entry (split, holdout, labels, limit)
        return {part: read_entry(entry, root / part) for part in benchmark_sets.SO_PARTS}
    originals = read_entry(entry)
    src, dst = pathlib.Path(work_dir, "src"), pathlib.Path(work_dir, "so")
    for record in originals:
        image = pathlib.Path(record.image_path)
        for path in (image, image.with_suffix(".mat")):
            link = src / path.relative_to(root)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path.resolve())
    benchmark_sets.build_aflw2000_so(src, dst)
    out = {"none": originals}
    out.update({part: _limited(read_dataset(entry.reader, dst / part, split=entry.split,
                                            **entry.options), entry.limit)
                for part in benchmark_sets.SO_PARTS})
    return out


# ----------------------------------------------------------------------------- config
def _not_present(entry: EvalEntry) -> dict:
    return {"status": "not present", "reader": entry.reader, "root": entry.root,
            "split": entry.split, "message": f"not present at {entry.root}"}


def _detector(entry: EvalEntry):
    if not entry.detector:
        return None
    from lponet_tf.detection import as_detector

    return as_detector(entry.detector)


def read_entry(entry: EvalEntry, root=None) -> List[FaceRecord]:
    """The faces of an entry (its reader, split, options, holdout part and limit).

    Args:
        root: read this folder instead of the entry's root (a part of a prebuilt
            AFLW2000-SO folder), with the entry's settings.

    Raises:
        DataError: bad data, or a present root without faces.
    """
    from lponet_tf.data import read_dataset

    root = entry.root if root is None else root
    records = read_dataset(entry.reader, root, split=entry.split, **entry.options)
    if entry.holdout:
        from lponet_tf.training.datasets import holdout_split

        h = entry.holdout
        records = holdout_split(records, float(h["fraction"]), int(h.get("seed", 0)),
                                str(h.get("part", "val")))
    # Faces without a label for any scored task would cost inference for nothing (e.g.
    # the COFW train faces without an occlusion mask when only mIoU is asked for).
    records = [r for r in records if labelled_tasks(r) & set(entry.tasks)]
    if not records:
        raise DataError(root, f"{entry.key}: no faces with a {'/'.join(entry.tasks)} label "
                                    f"found by reader {entry.reader!r}")
    return _limited(records, entry.limit)


def labelled_tasks(record: FaceRecord) -> set:
    """The tasks a face has ground truth for.

    Example:
        >>> sorted(labelled_tasks(FaceRecord("a.jpg", mask_path="a_mask.png")))
        ['occlusion']
    """
    labels = {"landmarks": record.landmarks, "pose": record.pose, "occlusion": record.mask_path}
    return {task for task, label in labels.items() if label is not None}


@dataclasses.dataclass
class EvaluationResult:
    """Everything one evaluation produced.

    Attributes:
        info: the model's :class:`RunnerInfo`.
        datasets: ``{key: summary}`` (JSON-ready; see :mod:`lponet_tf.evaluation.tables`).
        scores: ``{name: DatasetScores}`` per evaluated set (SO variants as
            ``"aflw2000_so/left"``), for CED curves and per-face rows.
        config_path: the eval config file.
    """

    info: RunnerInfo
    datasets: Dict[str, dict]
    scores: Dict[str, DatasetScores]
    config_path: Optional[str] = None


def preflight_entry(entry: EvalEntry) -> Optional[List[FaceRecord]]:
    """Read a present entry's faces and check their files (:func:`~lponet_tf.data.sample.check_records`:
    images, landmarks against their image, masks) before any inference.

    Returns:
        The faces to evaluate; None for an AFLW2000-SO entry, whose variants
        :func:`so_variant_records` writes (its originals, or its prebuilt parts, are checked).

    Raises:
        DataError: a file missing, unreadable or mislabelled, naming it.
    """
    if entry.key != "aflw2000_so":
        records = read_entry(entry)
        check_records(records)
        return records
    root = pathlib.Path(entry.root)
    if is_prebuilt_so(root):
        from lponet_tf.data import benchmark_sets

        for part in benchmark_sets.SO_PARTS:
            check_records(read_entry(entry, root / part))
    else:
        check_records(read_entry(entry))
    return None


def evaluate_entry(entry: EvalEntry, runner: Callable, info: RunnerInfo, config: EvalConfig,
                   scores: Dict[str, DatasetScores], progress: bool = True,
                   records: Optional[List[FaceRecord]] = None) -> dict:
    """Evaluate one present entry; adds its :class:`DatasetScores` to ``scores``.

    Args:
        records: the entry's faces when already read (:func:`preflight_entry`); None reads
            them.

    Returns:
        The entry's summary (``status: "evaluated"``; SO adds ``variants``).
    """
    detector = _detector(entry)
    run = dict(runner=runner, info=info, tasks=entry.tasks, batch_size=config.batch_size,
               enlarge=config.enlarge, detector=detector, progress=progress)
    head = {"status": "evaluated", "reader": entry.reader, "root": entry.root,
            "split": entry.split, "label": entry.display}
    if entry.key != "aflw2000_so":
        ds = evaluate_records(read_entry(entry) if records is None else records,
                              desc=entry.key, **run)
        scores[entry.key] = ds
        return {**head, **ds.summary()}
    variants = {}
    with tempfile.TemporaryDirectory(prefix="lponet_aflw2000_so_") as tmp:
        for part, part_records in so_variant_records(entry, tmp).items():
            ds = evaluate_records(part_records, desc=f"{entry.key}/{part}", **run)
            scores[f"{entry.key}/{part}"] = ds
            variants[part] = {"status": "evaluated", **ds.summary()}
    faces = max((v["faces"] for v in variants.values()), default=0)
    return {**head, "faces": faces, "variants": variants}


def preflight_config(config: EvalConfig) -> Dict[str, Optional[List[FaceRecord]]]:
    """Every present dataset of a config read and its files checked
    (:func:`preflight_entry`): a bad file in the last dataset stops an evaluation before
    the first inference, not after the others have run.

    Returns:
        ``{entry key: faces}`` for :func:`evaluate_config`'s ``faces``.

    Raises:
        DataError: naming the file.
    """
    return {entry.key: preflight_entry(entry) for entry in config.entries if entry.present}


def evaluate_config(runner: Callable, config: EvalConfig, info: Optional[RunnerInfo] = None,
                    strict: bool = False, progress: bool = True,
                    log: Optional[Callable[[str], None]] = None,
                    faces: Optional[Dict[str, Optional[List[FaceRecord]]]] = None) -> EvaluationResult:
    """Evaluate a model on every present dataset of an eval config.

    Args:
        runner: ``runner(images) -> {"heatmaps", "pose", "occlusion"}`` (see
            :func:`evaluate_records`).
        config: the eval config.
        info: input size / pose representation / label; default :func:`runner_info`.
        strict: a dataset that is not present raises :class:`DatasetNotPresent` instead of
            being listed as "not present at PATH".
        progress: tqdm bars over faces.
        log: called with one line per dataset (e.g. ``print``).
        faces: :func:`preflight_config`'s result when the caller checked the data already
            (before loading its model); None checks it here, before any inference.

    Returns:
        :class:`EvaluationResult`.

    Raises:
        DatasetNotPresent: with ``strict``, naming the dataset and its root.
        DataError: a present dataset with bad files (the error names the file), raised
            before any inference: every present dataset is read and checked first
            (:func:`preflight_config`).

    Example:
        >>> from lponet_tf.runtime import load_runner
        >>> from lponet_tf.evaluation.config import load_eval_config
        >>> result = evaluate_config(load_runner("model.keras"),
        ...                          load_eval_config("paper"))  # doctest: +SKIP
    """
    info = info or runner_info(runner)
    log = log or (lambda line: None)
    if strict:
        for entry in config.entries:
            if not entry.present:
                raise DatasetNotPresent(f"dataset {entry.key!r} not present at {entry.root}")
    if faces is None:
        faces = preflight_config(config)
    datasets: Dict[str, dict] = {}
    scores: Dict[str, DatasetScores] = {}
    for entry in config.entries:
        if not entry.present:
            datasets[entry.key] = _not_present(entry)
            log(f"{entry.key}: not present at {entry.root}")
            continue
        datasets[entry.key] = evaluate_entry(entry, runner, info, config, scores, progress,
                                             faces.get(entry.key))
        s = datasets[entry.key]
        log(f"{entry.key}: {s['faces']} faces evaluated in {s.get('seconds', 0):.1f} s"
            if "variants" not in s else f"{entry.key}: {len(s['variants'])} variants evaluated")
    return EvaluationResult(info, datasets, scores, config.path)
