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

import functools
import os
import pathlib
import re
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


# ----------------------------------------------------------------- parallel runs (xdist)
# `make test` runs the suite on two pytest-xdist workers. Each test module goes to one worker
# as a whole (its module and session fixtures, such as a trained reference run or an
# installed wheel, are built once), and the modules that use the per-process cached
# tiny-model exports of tests/export_helpers.py go to the same worker, so those exports are
# made once. Long modules start first (collection order, with --no-loadscope-reorder), so
# that no worker ends the run on a long test alone while the other one idles.
# (The groups are set by the scheduler below, from node ids: xdist 3.8's `xdist_group`
# marks do not reach the node ids under pytest 9.)

#: export_helpers functions whose results are cached per process.
_EXPORT_CACHE = {"artifacts", "exported", "exported_onnx"}
EXPORT_GROUP = "tiny-exports"

#: Modules of a minute or more (measured with --durations), longest first; the exports
#: group follows, then the other modules in their collection order.
LONG_FIRST = (
    "test_quickstart.py",
    "test_backend_jax.py",
    "test_training_distributed.py",
    "test_training.py",
    "test_export_qat.py",
    "test_wheel_install.py",
    "test_learning.py",
    "test_docs.py",
    "test_android_core.py",
    "test_preset_accuracy.py",
)


@functools.lru_cache(maxsize=None)
def worker_group(module_path: str) -> str:
    """The xdist work unit of a test module: ``EXPORT_GROUP`` when it imports a cached
    export of export_helpers, else the module itself."""
    path = pathlib.Path(module_path)
    if not path.is_absolute():
        path = REPO / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return module_path
    for names in re.findall(r"^from export_helpers import \(?([^)\n]*(?:\n[^)\n]*)*?)\)?$",
                            text, re.M):
        if _EXPORT_CACHE & set(re.findall(r"\w+", names)):
            return EXPORT_GROUP
    return module_path


def _start_rank(item) -> int:
    name = item.path.name
    if name in LONG_FIRST:
        return LONG_FIRST.index(name)
    if worker_group(str(item.path)) == EXPORT_GROUP:  # the exports take minutes together
        return len(LONG_FIRST)
    return len(LONG_FIRST) + 1


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # an xdist worker: its order is the run's order
        items.sort(key=_start_rank)  # stable: a module's tests stay together, in order


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: no error when it is absent
def pytest_xdist_make_scheduler(config, log):
    """Work units of whole modules, the export modules together (see above)."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid.split("::", 1)[0])

    return ModuleGroups(config, log) if config.getoption("dist") == "loadfile" else None
