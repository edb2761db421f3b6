"""Where the benchmarks read real face data.

``$LPONET_SHARED_DATA`` names a folder holding ``300w/`` (a 300W-format folder: image +
``.pts`` pairs, e.g. AFW and HELEN train) and ``formats/`` (a few faces in each benchmark's
own format). The test suite reads the same variable (tests/conftest.py), so benchmarks and
tests see the same faces; unset, both look for ``data/`` in a ``shared`` folder beside the
checkout, the layout of the project's CI machines.
"""
from __future__ import annotations

import os
import pathlib

ENV = "LPONET_SHARED_DATA"


def data_root() -> pathlib.Path:
    """The folder of real face data (may not exist: callers say so and stop)."""
    default = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
    return pathlib.Path(os.environ.get(ENV, default))
