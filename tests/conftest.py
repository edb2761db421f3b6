"""Shared fixtures and the strict mode.

Real face data lives outside the repo in ../shared/data; tests that need it skip cleanly when
it is absent (a user's fresh clone has no ../shared).

Strict mode: with ``LPONET_STRICT=1`` in the environment (CI sets it in ``.ci/run``) every
skip - missing data, a missing optional package, a version gate, ``pytest.skip`` anywhere,
a module skipped at collection - is reported as a failure carrying the skip's reason, so a
CI run cannot pass by not running what it should check. Expected failures (``xfail``) are
left as they are.
"""
from __future__ import annotations

import os
import pathlib
import zlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(
    os.environ.get("LPONET_SHARED_DATA", REPO.parent / "shared" / "data")
).resolve()
STRICT_ENV = "LPONET_STRICT"


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


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A random generator of this test's own, seeded by the test's id: the draws do not
    depend on which other tests ran before (a module-level generator would)."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


# ----------------------------------------------------------------------- strict mode
def _strict() -> bool:
    # Read at report time, not import time, so a test can run an inner session either way.
    return os.environ.get(STRICT_ENV, "") == "1"


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        path, line, message = longrepr
        return f"{message} ({path}:{line})"
    return str(longrepr)


def _fail_the_skip(report) -> None:
    report.outcome = "failed"
    report.longrepr = (f"{STRICT_ENV}=1 turns skips into failures: "
                       f"{_skip_reason(report)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # An xfail that failed is reported as skipped with ``wasxfail``: that one stays.
    if _strict() and report.skipped and not hasattr(report, "wasxfail"):
        _fail_the_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    if _strict() and report.skipped:  # importorskip / skip(allow_module_level=True)
        _fail_the_skip(report)
    return report
