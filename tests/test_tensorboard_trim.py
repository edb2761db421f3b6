"""trim_event_files on synthetic event files: no training run, no shared data (seconds).

The only existing coverage is the resume test in test_training.py, which needs the real
300W faces and trains twice; it never gives the trimmer a truncated event file, a stale
temporary or a hidden file.
"""
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorboard")

from lponet_tf.training.tensorboard_log import _TEMPORARY_PREFIX, trim_event_files  # noqa: E402

STEPS_PER_EPOCH = 2


def _write_epochs(folder, epochs, suffix):
    """Scalars as Keras' TensorBoard callback writes them for ``epochs`` (0-based)."""
    writer = tf.summary.create_file_writer(str(folder), filename_suffix=suffix)
    with writer.as_default():
        for epoch in epochs:
            tf.summary.scalar("epoch_loss", float(epoch), step=epoch)
            tf.summary.scalar("evaluation_loss_vs_iterations", float(epoch),
                              step=STEPS_PER_EPOCH * (epoch + 1))
            tf.summary.scalar("custom_tag", float(epoch), step=10_000 + epoch)  # not per-epoch
    writer.close()


def _scalars(logdir):
    out = {}
    for path in sorted(logdir.rglob("*tfevents*")):
        for record in tf.data.TFRecordDataset(str(path)).apply(tf.data.experimental.ignore_errors()):
            from tensorboard.compat.proto.event_pb2 import Event

            event = Event.FromString(bytes(record.numpy()))
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(event.step)
    return {tag: sorted(steps) for tag, steps in out.items()}


def test_trim_keeps_exactly_the_saved_epochs_per_tag_kind(tmp_path):
    """3 epochs saved (0, 1, 2), 5 logged: epoch_* kept below step 3, *_vs_iterations kept up
    to step 3 * steps_per_epoch (the last saved epoch's end), other tags kept whatever their
    step; the removed count is exact; a second call removes nothing."""
    logdir = tmp_path / "tensorboard"
    _write_epochs(logdir / "validation", range(5), ".v")
    removed = trim_event_files(logdir, epochs=3, steps_per_epoch=STEPS_PER_EPOCH)
    got = _scalars(logdir)
    assert got["epoch_loss"] == [0, 1, 2]
    assert got["evaluation_loss_vs_iterations"] == [2, 4, 6]
    assert got["custom_tag"] == [10_000 + e for e in range(5)]
    assert removed == 4
    assert trim_event_files(logdir, epochs=3, steps_per_epoch=STEPS_PER_EPOCH) == 0
    assert not list(logdir.rglob(_TEMPORARY_PREFIX + "*"))


def test_a_truncated_event_file_is_trimmed_up_to_its_damaged_record(tmp_path):
    """A kill mid-write leaves a truncated last record: the file is read up to it (as
    TensorBoard does) and trimmed, not an error that stops the resumed run."""
    logdir = tmp_path / "tensorboard"
    _write_epochs(logdir / "train", range(5), ".t")
    (path,) = (logdir / "train").glob("*tfevents*")
    path.write_bytes(path.read_bytes()[:-7])  # the last record cut short
    trim_event_files(logdir, epochs=2, steps_per_epoch=STEPS_PER_EPOCH)
    assert _scalars(logdir)["epoch_loss"] == [0, 1]


def test_stale_temporaries_are_removed_and_hidden_files_left_alone(tmp_path):
    """A temporary left by a kill during a rewrite is removed; a hidden file (not
    TensorBoard's to read, e.g. a sync tool's copy) is not rewritten."""
    logdir = tmp_path / "tensorboard"
    _write_epochs(logdir / "train", range(4), ".t")
    (original,) = (logdir / "train").glob("*tfevents*")
    hidden = original.with_name("." + original.name)
    hidden.write_bytes(original.read_bytes())
    stale = logdir / "train" / (_TEMPORARY_PREFIX + "abc123")
    stale.write_bytes(b"half")
    before = hidden.read_bytes()
    trim_event_files(logdir, epochs=1, steps_per_epoch=STEPS_PER_EPOCH)
    assert not stale.exists()
    assert hidden.read_bytes() == before
