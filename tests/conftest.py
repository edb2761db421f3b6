"""Shared fixtures. Real face data lives outside the repo in ../shared/data; tests that need
it skip cleanly when it is absent (a user's fresh clone has no ../shared)."""
from __future__ import annotations

import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(
    os.environ.get("LPONET_SHARED_DATA", REPO.parent / "shared" / "data")
).resolve()


def _require(sub: str = "") -> pathlib.Path:
    path = SHARED_DATA / sub
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """Root of ../shared/data (skips when absent)."""
    return _require()


@pytest.fixture(scope="session")
def formats_dir() -> pathlib.Path:
    """../shared/data/formats: real samples of each benchmark file format."""
    return _require("formats")


@pytest.fixture(scope="session")
def faces_300w() -> pathlib.Path:
    """../shared/data/300w: 1,207 real 300W faces (afw/, helen_trainset/)."""
    return _require("300w")
