"""JVM tests of ``android_demo/``: the app's pure-Java core and the desktop LiteRT bridge.

This module is the driver. Once per module it writes golden values with the Python library
(``tests/jvm_goldens.py``: same inputs -> numbers the Java code must reproduce), compiles the
Java sources with ``javac`` (and the JNI bridge with ``gcc``), and runs JUnit 5's console
launcher (``tests/jvm_toolchain.py``). Each JUnit case is then its own pytest test
(``test_junit_case[core/CropGoldenTest.warpIsWithinAGreyLevelOfOpenCv]``), listed at
collection from the test sources, so that a new failure shows beside a standing one and a
case that never ran fails. The JUnit tests themselves live in
``android_demo/core/src/test/java`` (core vs goldens) and ``android_demo/desktop/src/test/java``
(the ``com.google.ai.edge.litert.CompiledModel`` stand-in on ``libLiteRt.so`` and the end-to-end
pipeline on a real photo).

Requirements: a JDK (``javac``), JUnit 5's console launcher from Debian's ``junit5`` package
(``make test`` installs it), and for the desktop cases ``gcc`` and the ``ai-edge-litert``
release the JNI bridge declares. A missing tool skips with its name (CI turns skips into
failures); a LiteRT of another release, or any error while writing the goldens, fails.

Run alone: ``make test-java`` (or ``pytest tests/test_android_core.py``).
"""
from __future__ import annotations

import numpy as np
import pytest

import jvm_goldens
import jvm_toolchain as jvm

CASES = jvm.scan_junit_cases()


@pytest.fixture(scope="module")
def jvm_run(tmp_path_factory):
    """Goldens written, sources built and every JUnit case run, once.

    Returns:
        dict: ``not_run`` (why nothing ran: a missing tool) or ``results`` (by (class,
        method)), ``output`` (the launcher's), ``desktop`` (None when built, else
        ``("skip" | "fail", reason)``).
    """
    home = jvm.java_home()
    if home is None:
        return {"not_run": "no JDK (javac and java on PATH): the JVM tests of android_demo/ "
                           "need one"}
    if not jvm.JUNIT_JAR.is_file():
        return {"not_run": f"JUnit 5 console launcher not found at {jvm.JUNIT_JAR}: install "
                           "Debian's junit5 (`make test` does, as root)"}
    work = tmp_path_factory.mktemp("jvm")
    goldens, classes, reports = work / "goldens", work / "classes", work / "reports"
    for d in (goldens, classes, reports):
        d.mkdir()
    props = {"lponet.goldens": str(goldens)}
    desktop, missing = None, jvm.desktop_tools_missing(home)
    if missing:
        desktop = ("skip", missing)
    else:
        try:
            props["lponet.litert.lib"] = str(jvm.litert_library())
        except AssertionError as exc:  # another LiteRT release: the environment is wrong
            desktop = ("fail", str(exc))
    if desktop is None:
        props["lponet.jni.lib"] = str(jvm.build_jni(home, work))
    jvm_goldens.write_goldens(goldens, desktop=desktop is None)
    jvm.compile_java(["core"] if desktop else ["core", "desktop"], classes)
    results, output = jvm.run_junit(classes, reports, props)
    return {"results": results, "output": output, "desktop": desktop}


def _not_run(run) -> None:
    if "not_run" in run:
        pytest.skip(run["not_run"])


@pytest.mark.parametrize("case", CASES, ids=[c.test_id for c in CASES])
def test_junit_case(jvm_run, case):
    """One JUnit case: it ran, did not skip and passed."""
    _not_run(jvm_run)
    if case.part == "desktop" and jvm_run["desktop"] is not None:
        how, why = jvm_run["desktop"]
        if how == "skip":
            pytest.skip(f"desktop LiteRT bridge not built: {why}")
        pytest.fail(f"desktop LiteRT bridge not built: {why}")
    where = f"{case.source.relative_to(jvm.REPO)}:{case.line}"
    got = jvm_run["results"].get(case.key)
    if not got:
        pytest.fail(f"{case.class_name}.{case.method} ({where}) is not in JUnit's report: it "
                    f"did not run. Launcher output:\n{jvm_run['output'][-6000:]}")
    bad = [r for r in got if r.outcome != "passed"]
    if bad:
        pytest.fail("\n\n".join(f"{r.name} {r.outcome} ({where}): {r.message[:6000]}\n"
                                f"{r.output[-3000:]}" for r in bad), pytrace=False)


def test_junit_report_has_only_listed_cases(jvm_run, capsys):
    """Every case JUnit ran is one of the listed ones (the source scan misses none), and the
    summary line for a quick look: ``N passed, N failed``."""
    _not_run(jvm_run)
    results = [r for rs in jvm_run["results"].values() for r in rs]
    failed = sum(r.outcome == "failed" for r in results)
    skipped = sum(r.outcome == "skipped" for r in results)
    with capsys.disabled():
        print(f"\nJVM tests (android_demo):\n{len(results) - failed - skipped} passed, "
              f"{failed} failed" + (f", {skipped} skipped" if skipped else "") + "\n",
              flush=True)
    listed = {c.key for c in CASES}
    unlisted = sorted(k for k in jvm_run["results"] if k not in listed)
    assert not unlisted, (f"JUnit ran cases that tests/jvm_toolchain.py's source scan did not "
                          f"list (so no pytest test reports them): {unlisted}")
    assert results, "JUnit ran no case"


def test_junit_sources_are_listed():
    """The collection-time scan finds the JUnit cases of both parts (a scan that silently
    lists nothing would leave every JVM test unreported)."""
    parts = {c.part for c in CASES}
    assert parts == set(jvm.TEST_SOURCES), f"JUnit cases found only in {sorted(parts)}"
    ids = [c.test_id for c in CASES]
    assert len(ids) == len(set(ids)), "two JUnit cases share a class and method name"


@pytest.mark.parametrize("decode", ["dark", "top2"])
def test_near_tie_decodings_cover_every_order_of_tied_cells(decode):
    """The landmark references of the end-to-end golden: perturbing each heatmap cell by less
    than half the tie margin, the library's decoding lands on one of the listed positions;
    a well-posed map lists only its own decoding, a near-tie lists the other order too."""
    from lponet_tf.heatmaps import decode_heatmaps, encode_heatmaps, grid_to_crop

    rng = np.random.default_rng(21)
    # Map 0: a near-tie (0.15 apart) of the cells the decoder chooses from: the argmax for
    # "dark", the second-highest cell for "top2" (whose weights make the top two symmetric);
    # map 1: one peak. Gaussian peaks (the trained maps' shape), on 0..0.05 noise.
    blob = lambda x, y: 60.0 * encode_heatmaps([[x, y]], input_size=32)[..., 0]  # noqa: E731
    hm = rng.uniform(0.0, 0.05, (8, 8, 2)).astype(np.float32)
    hm[..., 0] += blob(9.3, 10.6)
    if decode == "top2":  # two neighbours of the peak cell tie for second
        hm[2, 3, 0], hm[3, 2, 0] = 50.0, 49.85
    else:  # a second peak ties with the first
        hm[..., 0] += 0.9975 * blob(21.3, 22.6)
    hm[..., 1] += blob(14.2, 13.1) + 0.8 * blob(25.0, 6.0)
    listed = [np.array(jvm_goldens.near_tie_decodings(hm[..., k], decode=decode))
              for k in range(2)]
    assert len(listed[1]) == 1 and len(listed[0]) >= 2, [len(x) for x in listed]
    seen = [set(), set()]
    for _ in range(200):
        noisy = hm + rng.uniform(-0.24, 0.24, hm.shape).astype(np.float32) * jvm_goldens.TIE_MARGIN
        xy = decode_heatmaps(noisy, decode=decode)[0]
        for k in range(2):
            d = np.abs(grid_to_crop(listed[k]) - xy[k]).max(axis=1)
            assert d.min() < 0.05, f"map {k}: decoded {xy[k]} is none of {grid_to_crop(listed[k])}"
            seen[k].add(int(d.argmin()))
    assert len(seen[0]) >= 2, "the perturbations should reach both peaks of the tie"


def test_bundled_int8_asset_is_current_and_a_stale_one_is_refused(tmp_path, monkeypatch):
    """The app's default model (android_demo/models/lponet_lite_int8.tflite) was exported from
    the preset's current weights (its stamp's SHA-256s hold), and export_assets refuses it,
    naming the command that remakes it, once the stamp no longer matches."""
    import json
    import shutil

    from lponet_tf import metadata as md
    from lponet_tf.presets import file_sha256, get_preset

    tool = jvm_goldens._export_tool()
    stamp = json.loads(tool.BUNDLED_INT8.with_suffix(".json").read_text())
    assert stamp["weights_sha256"] == file_sha256(get_preset(stamp["preset"]).weights_path), (
        f"preset weights changed: remake the int8 asset with `{stamp['command']}`")
    assert stamp["tflite_sha256"] == file_sha256(tool.BUNDLED_INT8)
    meta = md.read_tflite(tool.BUNDLED_INT8.read_bytes())
    assert (meta.quantization, meta.io_dtype, meta.preset) == ("int8", stamp["io_dtype"], stamp["preset"])
    # int8 input, float outputs (the rotation unrounded), as the stamp says
    assert meta.outputs_dtype == stamp.get("output_dtype", stamp["io_dtype"]) == "float32"

    copy = tmp_path / tool.BUNDLED_INT8.name
    shutil.copyfile(tool.BUNDLED_INT8, copy)
    copy.with_suffix(".json").write_text(json.dumps(dict(stamp, weights_sha256="0" * 64)))
    monkeypatch.setattr(tool, "BUNDLED_INT8", copy)
    with pytest.raises(SystemExit, match="stale.*lponet export --preset lponet_lite --quantize int8"):
        tool.export_assets(tmp_path / "assets")
    assert not (tmp_path / "assets" / tool.MODEL_FILE).exists()


def test_the_app_reads_only_the_sidecar_format_the_tool_writes():
    """export_assets.py writes SIDECAR_FORMAT; the app's engine (Kotlin, compile-checked only
    here) and its desktop mirror (run by the JVM tests) refuse any other: the three agree."""
    import re

    tool = jvm_goldens._export_tool()
    kotlin = (jvm_goldens.ANDROID / "app/src/main/java/org/lponet/demo/LponetEngine.kt").read_text()
    mirror = (jvm_goldens.ANDROID / "desktop/src/test/java/org/lponet/desktop/AppAssets.java").read_text()
    assert re.search(r"const val SIDECAR_FORMAT = (\d+)", kotlin)[1] == str(tool.SIDECAR_FORMAT)
    assert re.search(r"static final int SIDECAR_FORMAT = (\d+);", mirror)[1] == str(tool.SIDECAR_FORMAT)
    assert "require(format == SIDECAR_FORMAT)" in kotlin
