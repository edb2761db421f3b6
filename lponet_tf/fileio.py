"""Output files that never destroy anything: atomic writes and the output rule.

The rule every ``lponet`` command follows (``predict``, ``export``, ``evaluate``):

* An output that would be one of the command's inputs (the same file, also through a link
  or another spelling of the path) is refused before any work, ``--overwrite`` or not.
* An output file that already exists (an earlier run's, or anything else) is refused
  before any work unless ``--overwrite`` is given; then it is replaced.
* Every output is written under a temporary name in its own folder and renamed into place
  when complete, so a crash, a full disk or an error never leaves a truncated file, and a
  failed command leaves the folder as it was.

Example:
    >>> check_outputs(["out/photo.png"], inputs=["photo.png"])        # doctest: +SKIP
    >>> atomic_write_via("out/photo.png", lambda tmp: cv2.imwrite(tmp, picture))  # doctest: +SKIP
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import tempfile
from typing import Dict, Iterable, List, Sequence

from lponet_tf.errors import LPONetError

__all__ = ["OutputError", "atomic_write_via", "move_into_place", "remove_stale_temporaries",
           "same_file", "check_outputs", "prepare_folder", "remove_created", "Staging"]


class OutputError(LPONetError):
    """An output path is unusable: it is an input, it exists, or its folder is not writable.

    Args:
        path: the output path.
        message: what is wrong and what to do.
    """

    def __init__(self, path, message: str):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")


def read_text_lines(path, what: str) -> List[str]:
    """The lines of :func:`read_text`."""
    return read_text(path, what).splitlines()


def read_text(path, what: str) -> str:
    """A UTF-8 text file's text (a byte-order mark dropped): data files and configs.

    Args:
        path: the file.
        what: its kind, for the message (``".pts file"``, ``"config file"``).

    Raises:
        DataError: naming the file when it is missing, unreadable or not UTF-8 text.
    """
    from lponet_tf.errors import DataError

    try:
        with open(path, "r", encoding="utf-8-sig", errors="strict") as f:
            return f.read()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"cannot read {what}: not UTF-8 text (byte {e.start}: "
                              f"{e.object[e.start:e.start + 1]!r})") from None
    except OSError as e:
        raise DataError(path, f"cannot read {what} ({e.strerror or e})") from None


def move_into_place(src, dst, replace: bool = True) -> None:
    """Rename ``src`` to ``dst`` atomically; with ``replace=False`` never over a file.

    Without ``replace``, a ``dst`` that exists now (one that appeared while a command ran,
    after its outputs were checked) is refused, and the check and the move are one step where
    the filesystem has hard links (``os.link`` fails on an existing name), so nothing that
    appears in between is replaced either.

    Raises:
        OutputError: ``dst`` exists and ``replace`` is False (``src`` is left as it was).
    """
    if replace:
        os.replace(src, dst)
        return
    taken = OutputError(dst, "appeared while this command ran (another process writing "
                             "there?); it was not replaced: give --overwrite to replace it, "
                             "or choose another output name or folder")
    try:
        os.link(src, dst)
    except FileExistsError:
        raise taken from None
    except OSError:  # a folder, or a filesystem without hard links: check, then rename
        if os.path.lexists(dst):
            raise taken from None
        os.replace(src, dst)
        return
    os.unlink(src)


#: The names :func:`atomic_write_via` writes under: ``.{stem}.{mkstemp's 8 characters}{suffixes}``.
_TEMPORARY = re.compile(r"^\.[^/]+\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)+$")


def remove_stale_temporaries(folder, names: Sequence[str] = ()) -> List[pathlib.Path]:
    """Remove the temporary files :func:`atomic_write_via` left in ``folder`` when its
    process was killed mid-write (``kill -9``, a lost machine: no cleanup runs).

    Args:
        folder: the folder.
        names: only temporaries of files whose names start with one of these prefixes (the
            caller's own files: ``.last.k2j4h8x1.keras`` for ``"last."``); a user's dotfile
            of the same shape (``.vscode.settings.json``) is not ours. Empty: every such name
            (a folder only the caller writes).

    Returns:
        The files removed.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if p.is_file() and _TEMPORARY.match(p.name)
             and (not names or p.name[1:].startswith(tuple(names)))]
    for p in stale:
        p.unlink()
    return stale


def atomic_write_via(path, writer, replace: bool = True) -> None:
    """Call ``writer(tmp_path)`` then atomically move the result to ``path``.

    The temporary file is in ``path``'s folder (so the rename is atomic) and keeps the
    destination's suffixes (Keras, OpenCV and matplotlib pick the format from them). It is
    removed when ``writer`` fails.

    Args:
        path: the destination; its folder is created if missing.
        writer: called with the temporary path (a string); must create that file.
        replace: False: a file at ``path`` is never replaced, not even one that appeared
            while ``writer`` ran (:func:`move_into_place`; an ``OutputError``).
    """
    path = pathlib.Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix="".join(path.suffixes),
                                   dir=path.parent)
    except OSError as exc:  # named by the user's path, not a hidden temporary name
        raise OutputError(path, f"cannot write here: {exc.strerror or exc}") from exc
    os.close(fd)
    os.unlink(tmp)  # Keras refuses to overwrite without asking; let it create the file.
    try:
        writer(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        move_into_place(tmp, path, replace)
    except OSError as exc:
        if exc.filename not in (tmp, os.fspath(path)):
            raise  # the writer's own input, say: its message names it
        raise OutputError(path, f"cannot write here: {exc.strerror or exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_writable(path) -> None:
    """Refuse, before any work, an output file that could not be written: a probe file in
    its folder (or the nearest existing folder above it, where the write would create the
    rest). Permissions alone do not tell (root, ACLs, read-only mounts).

    Raises:
        OutputError: naming ``path``.
    """
    path = pathlib.Path(path)
    existing = next(p for p in [path.parent, *path.parent.parents] if os.path.lexists(p))
    if not existing.is_dir():
        raise OutputError(path, f"{existing} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lponet-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(path, f"cannot write output files in {existing}: "
                                f"{exc.strerror or exc}") from exc


def same_file(a, b) -> bool:
    """Whether ``a`` and ``b`` both exist and are the same file (links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing or unreadable: they cannot be the same file
        return False


def _inside(path, folder) -> bool:
    """Whether the existing ``path`` lies inside the existing folder ``folder``."""
    if not os.path.isdir(folder):
        return False
    return pathlib.Path(folder).resolve() in pathlib.Path(path).resolve().parents


def check_outputs(outputs: Iterable, inputs: Iterable = (), overwrite: bool = False,
                  what: str = "output") -> None:
    """Refuse outputs that would destroy an input or, without ``overwrite``, any file.

    Args:
        outputs: the paths the command is about to write.
        inputs: the files it reads (model, images, video, config, ...) and the folders
            it reads from (a dataset): an existing file inside one is an input too.
        overwrite: the command's ``--overwrite``: existing outputs may be replaced (an
            input never).
        what: the kind of output, for the message (``"annotated picture"``, ...).

    Raises:
        OutputError: naming the first offending output.
    """
    inputs = [os.fspath(p) for p in inputs if p is not None]
    for out in outputs:
        out = os.fspath(out)
        if not os.path.lexists(out):
            continue
        clash = next((i for i in inputs if same_file(out, i) or _inside(out, i)), None)
        if clash is not None:
            raise OutputError(out, f"the {what} would overwrite the input {clash}; "
                                   "choose another output name or folder")
        if os.path.isdir(out) and not os.path.islink(out):
            raise OutputError(out, f"is a folder, so it cannot be the {what} file")
        if not os.path.islink(out) and not os.path.isfile(out):
            # /dev/null, a pipe, a socket: the atomic write would replace the node itself
            raise OutputError(out, f"is not a regular file (a device or a pipe), so it cannot "
                                   f"be the {what} file; leave the option out to write none")
        if not overwrite:
            raise OutputError(out, "exists (an earlier run's output?); give --overwrite to "
                                   "replace it, or choose another output name or folder")


def prepare_folder(folder) -> List[pathlib.Path]:
    """Create ``folder`` if needed and check that files can be created in it.

    Returns:
        The folders created (outermost first), for :func:`remove_created` on failure.

    Raises:
        OutputError: it cannot be created, is not a folder, or is not writable.
    """
    folder = pathlib.Path(folder)
    missing = []
    for p in [folder, *folder.parents]:
        if os.path.lexists(p):
            break
        missing.append(p)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Permissions alone do not tell (root, ACLs, read-only mounts): try it.
        fd, probe = tempfile.mkstemp(prefix=".lponet-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        remove_created(reversed(missing))
        reason = exc.strerror or str(exc)
        raise OutputError(folder, f"cannot write output files in this folder: {reason}") \
            from exc
    return list(reversed(missing))


def remove_created(folders: Iterable) -> None:
    """Remove folders :func:`prepare_folder` created, innermost first, if still empty."""
    for p in reversed(list(folders)):
        try:
            os.rmdir(p)
        except OSError:
            pass  # not empty (someone else wrote there) or already gone: leave it


class Staging:
    """Write several outputs under temporary names, then move them all into place.

    Each output is written to a hidden temporary folder inside its own destination folder,
    under its final name (so format-from-suffix writers work and the final rename is
    atomic). :meth:`commit` renames them into place; leaving the ``with`` block without a
    commit (an error) removes everything: the destination folders are left as they were,
    including those this object created.

    Args:
        replace: the command's ``--overwrite``. False: :meth:`commit` replaces no file, not
            even one that appeared at a final path while the command ran (checked for every
            output before any is moved; :func:`move_into_place`).

    Example:
        >>> with Staging() as stage:                                   # doctest: +SKIP
        ...     write_model(stage.path("out/m.tflite"))
        ...     write_report(stage.path("out/m.report.md"))
        ...     stage.commit()
    """

    def __init__(self, replace: bool = True):
        self.replace = bool(replace)
        self._dirs: Dict[pathlib.Path, pathlib.Path] = {}
        self._created: List[pathlib.Path] = []
        self._finals: List[pathlib.Path] = []
        self._committed = False

    def prepare(self, folder) -> None:
        """Create and check ``folder`` now (see :func:`prepare_folder`), before any work."""
        folder = pathlib.Path(os.path.abspath(folder))
        if folder not in self._dirs:
            self._created += prepare_folder(folder)
            self._dirs[folder] = pathlib.Path(
                tempfile.mkdtemp(prefix=".lponet-partial-", dir=folder))

    def path(self, final) -> pathlib.Path:
        """Where to write the output whose final path is ``final``."""
        final = pathlib.Path(os.path.abspath(final))
        self.prepare(final.parent)
        if final not in self._finals:
            self._finals.append(final)
        return self._dirs[final.parent] / final.name

    def commit(self) -> List[pathlib.Path]:
        """Move every staged file that was written into place; returns their final paths."""
        staged = [(self._dirs[f.parent] / f.name, f) for f in self._finals
                  if (self._dirs[f.parent] / f.name).exists()]
        if not self.replace:  # all or nothing: refuse before the first move
            for src, final in staged:
                if os.path.lexists(final):
                    move_into_place(src, final, replace=False)  # raises, naming it
        moved = []
        for src, final in staged:
            move_into_place(src, final, self.replace)
            moved.append(final)
        self._committed = True
        return moved

    def close(self) -> None:
        """Remove the temporary folders (and, without a commit, the folders created)."""
        for tmp in self._dirs.values():
            shutil.rmtree(tmp, ignore_errors=True)
        if not self._committed:
            remove_created(self._created)
        self._dirs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

