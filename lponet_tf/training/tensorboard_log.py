"""Keep a resumed run's TensorBoard log to one point per epoch.

An epoch logged, then killed before its resumable state was saved, is trained again on
resume. ``training_log.csv`` is trimmed to the saved epochs for that reason; Keras'
TensorBoard callback, though, opens new event files on each run and the old files keep the
killed copy, so TensorBoard drew two points for that epoch (different ones when the replay
differs, e.g. in float32). :func:`trim_event_files` drops from the old files every scalar
of an epoch the saved state does not hold.

Keras writes a fit's scalars at two kinds of step (``keras.callbacks.TensorBoard`` with
``update_freq="epoch"``): ``epoch_*`` at the 0-based epoch, and ``evaluation_*_vs_iterations``
(the validation values) at the optimizer's step count when the epoch ended.
"""
from __future__ import annotations

import os
import pathlib
import tempfile

_TEMPORARY_PREFIX = ".trimming."


def _kept(tag: str, step: int, epochs: int, steps_per_epoch: int) -> bool:
    """Whether a scalar belongs to one of the first ``epochs`` epochs (kept); a tag Keras
    does not write per epoch is kept whatever its step."""
    if tag.startswith("epoch_"):
        return step < epochs
    if tag.startswith("evaluation_") and tag.endswith("_vs_iterations"):
        return step <= epochs * steps_per_epoch
    return True


def _read_events(path: pathlib.Path) -> list:
    """The records of an event file, up to its first damaged one (a kill mid-write
    leaves a truncated last record; TensorBoard stops reading there too)."""
    import tensorflow as tf

    records = []
    try:
        for record in tf.data.TFRecordDataset(str(path)):
            records.append(bytes(record.numpy()))
    except tf.errors.DataLossError:
        pass
    return records


def trim_event_files(logdir, epochs: int, steps_per_epoch: int) -> int:
    """Remove the scalars of epochs ``epochs`` and later from the event files under ``logdir``.

    Each file whose content changes is rewritten through a temporary file and moved into
    place (a kill leaves either version, and a temporary whose name TensorBoard does not
    read; the next call removes it).

    Args:
        logdir: the run's ``tensorboard`` folder (its ``train`` and ``validation`` folders
            are searched); a missing folder is nothing to trim.
        epochs: the number of epochs the resumable state holds (the epochs kept).
        steps_per_epoch: the run's steps per epoch (places the ``*_vs_iterations`` steps).

    Returns:
        The number of scalar values removed.

    Example:
        >>> trim_event_files("/nonexistent/tensorboard", epochs=3, steps_per_epoch=100)
        0
    """
    import tensorflow as tf
    from tensorboard.compat.proto.event_pb2 import Event

    logdir = pathlib.Path(logdir)
    if not logdir.is_dir():
        return 0
    for stale in logdir.rglob(_TEMPORARY_PREFIX + "*"):
        stale.unlink()
    removed = 0
    for path in sorted(logdir.rglob("*tfevents*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        records, changed = [], False
        for record in _read_events(path):
            event = Event.FromString(record)
            if event.HasField("summary"):
                values = [v for v in event.summary.value
                          if _kept(v.tag, event.step, epochs, steps_per_epoch)]
                if len(values) != len(event.summary.value):
                    removed += len(event.summary.value) - len(values)
                    changed = True
                    if not values:
                        continue
                    del event.summary.value[:]
                    event.summary.value.extend(values)
                    record = event.SerializeToString()
            records.append(record)
        if not changed:
            continue
        fd, tmp = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=path.parent)
        os.close(fd)
        try:
            with tf.io.TFRecordWriter(tmp) as writer:
                for record in records:
                    writer.write(record)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return removed
