"""Models in a process forked from the one that loaded them (a pre-forking server such as
gunicorn ``--preload``, or ``multiprocessing``'s ``fork`` start method on Linux).

A fork copies the parent's memory, not its threads. A lock that another parent thread held
at that moment stays held in the child for ever (its first call would wait for a thread that
does not exist there), and a LiteRT interpreter or onnxruntime session copied in the middle
of a run is unusable. Every object registered here has ``_after_fork()`` called in the child
right after the fork, while the child still has one thread: it takes a fresh lock and marks
its backend to be rebuilt, from the bytes or path it kept, by its first call there.
"""
from __future__ import annotations

import os
import weakref

__all__ = ["renew_after_fork"]

_REGISTERED: "weakref.WeakSet" = weakref.WeakSet()


def _renew_all() -> None:
    for obj in list(_REGISTERED):
        obj._after_fork()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_renew_all)


def renew_after_fork(obj) -> None:
    """Call ``obj._after_fork()`` in each child forked from now on (held weakly: a model
    that is gone is not kept alive by this)."""
    _REGISTERED.add(obj)
