"""The strict mode of tests/conftest.py, run on inner pytest sessions: every kind of skip
passes as a skip in a user's clone and fails, with its reason, under LPONET_STRICT=1."""
import pathlib

import pytest

pytest_plugins = ["pytester"]

CONFTEST = pathlib.Path(__file__).with_name("conftest.py")

SKIPPING_TESTS = """
import pytest

def test_runs():
    pass

def test_skips_in_its_body():
    pytest.skip("no widget on this machine")

@pytest.mark.skipif(True, reason="needs widget 2.3.0")
def test_skipif_marker():
    pass

def test_needs_the_shared_data(faces_300w):
    pass

@pytest.mark.xfail(reason="a known limitation", strict=True)
def test_expected_failure():
    assert False
"""

SKIPPED_MODULE = """
import pytest

widget = pytest.importorskip("lponet_no_such_package")

def test_never_collected():
    pass
"""


@pytest.fixture
def inner(pytester, monkeypatch, tmp_path):
    pytester.makeconftest(CONFTEST.read_text())
    monkeypatch.setenv("LPONET_SHARED_DATA", str(tmp_path / "absent"))
    return pytester


def test_without_strict_mode_skips_stay_skips(inner, monkeypatch):
    monkeypatch.delenv("LPONET_STRICT", raising=False)
    inner.makepyfile(test_inner=SKIPPING_TESTS, test_inner_module=SKIPPED_MODULE)
    result = inner.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    result.stdout.fnmatch_lines(["*no widget on this machine*", "*real data not available*"])


#: What strict mode prints for SKIPPING_TESTS' three skips (body, marker, missing data).
STRICT_FAILURES = [
    "*LPONET_STRICT=1 turns skips into failures: Skipped: no widget on this machine*",
    "*LPONET_STRICT=1 turns skips into failures: Skipped: needs widget 2.3.0*",
    "*LPONET_STRICT=1 turns skips into failures: Skipped: real data not available*absent*",
]

def test_strict_mode_fails_every_skip_with_its_reason(inner, monkeypatch):
    monkeypatch.setenv("LPONET_STRICT", "1")
    inner.makepyfile(test_inner=SKIPPING_TESTS)
    result = inner.runpytest_inprocess("-p", "no:cacheprovider")
    # A skip in the test body fails the test; one from a marker or a fixture fails its
    # setup (an error in pytest's counts). Either way the run fails.
    result.assert_outcomes(passed=1, failed=1, errors=2, xfailed=1)
    result.stdout.fnmatch_lines_random(STRICT_FAILURES)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_strict_mode_fails_a_module_skipped_at_collection(inner, monkeypatch):
    monkeypatch.setenv("LPONET_STRICT", "1")
    inner.makepyfile(test_inner_module=SKIPPED_MODULE)
    result = inner.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*turns skips into failures*lponet_no_such_package*"])
    assert result.ret != pytest.ExitCode.OK


def test_strict_mode_must_be_exactly_one(inner, monkeypatch):
    """Only the documented value switches it on: LPONET_STRICT=0 is a normal run."""
    monkeypatch.setenv("LPONET_STRICT", "0")
    inner.makepyfile(test_inner=SKIPPING_TESTS)
    inner.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(
        passed=1, skipped=3, xfailed=1)


def test_strict_mode_holds_on_xdist_workers(inner, monkeypatch):
    """`make test` runs on pytest-xdist workers: a skip on a worker fails the run too (the
    worker's report, already turned into a failure, is what the controller counts), and
    so does a module skipped at collection on a worker."""
    monkeypatch.setenv("LPONET_STRICT", "1")
    parallel = ("-p", "no:cacheprovider", "-n", "1", "--dist", "loadfile")  # a worker process
    inner.makepyfile(test_inner=SKIPPING_TESTS)
    result = inner.runpytest_subprocess(*parallel)
    result.assert_outcomes(passed=1, failed=1, errors=2, xfailed=1)
    result.stdout.fnmatch_lines_random(STRICT_FAILURES)
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    inner.makepyfile(test_inner=SKIPPED_MODULE)
    result = inner.runpytest_subprocess(*parallel)
    result.stdout.fnmatch_lines(["*turns skips into failures*lponet_no_such_package*"])
    assert result.ret not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
