"""The JVM side of the test suite: find the tools, list the JUnit cases, build, run, report.

Used by ``tests/test_android_core.py``. The JUnit cases are listed from the test sources
(:func:`scan_junit_cases`, cheap enough for pytest's collection), the launcher runs them all
once (:func:`run_junit`) and its XML report is parsed into one :class:`CaseResult` per case
(:func:`parse_report`), so that the driver reports each JUnit case as its own pytest test.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

REPO = pathlib.Path(__file__).resolve().parents[1]
ANDROID = REPO / "android_demo"
#: Debian's junit5 package; `make test` installs it (the tests never run apt).
JUNIT_JAR = pathlib.Path("/usr/share/java/junit-platform-console-standalone.jar")
JNI_SOURCE = ANDROID / "desktop/src/main/c/lponet_litert_jni.c"
#: Test sources of each part: "core" needs only a JDK, "desktop" also the LiteRT bridge.
TEST_SOURCES = {"core": ANDROID / "core/src/test/java",
                "desktop": ANDROID / "desktop/src/test/java"}
MAIN_SOURCES = {"core": [ANDROID / "core/src/main/java"],
                "desktop": [ANDROID / "desktop/src/main/java",
                            # compile-only Android stubs (the stand-in's create(AssetManager, ..)
                            # and the Kotlin compile check, android_demo/tools/check_kotlin.sh)
                            ANDROID / "desktop/src/stubs/java",
                            ANDROID / "app/src/main/java/org/lponet/demo/engine"]}
#: What the JUnit run may take at most (today about 15 s).
JUNIT_TIMEOUT_S = 600

# JUnit Jupiter annotations that make a method a test (or a family of tests).
_TEST_ANNOTATION = re.compile(
    r"@(?:org\.junit\.jupiter\.api\.)?(?:Test|RepeatedTest|TestFactory|TestTemplate"
    r"|(?:org\.junit\.jupiter\.params\.)?ParameterizedTest)\b")
_METHOD = re.compile(r"\b(\w+)\s*\(")
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.M)
_UNSUPPORTED = re.compile(r"@(?:org\.junit\.jupiter\.api\.)?Nested\b")
_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


@dataclasses.dataclass(frozen=True)
class JUnitCase:
    """A test method found in the JUnit sources."""

    part: str  # "core" or "desktop"
    class_name: str  # fully qualified
    method: str
    source: pathlib.Path
    line: int

    @property
    def key(self) -> Tuple[str, str]:
        return self.class_name, self.method

    @property
    def test_id(self) -> str:
        return f"{self.part}/{self.class_name.rsplit('.', 1)[-1]}.{self.method}"


@dataclasses.dataclass
class CaseResult:
    """One ``<testcase>`` of the launcher's XML report."""

    class_name: str
    name: str  # as reported: "method(ParamTypes)" plus "[n]" for parameterized runs
    outcome: str  # "passed", "failed" or "skipped"
    message: str
    output: str  # the case's <system-out>: its published report entries

    @property
    def method(self) -> str:
        return self.name.split("(", 1)[0]


def scan_junit_cases() -> List[JUnitCase]:
    """Every JUnit test method of the test sources, in file order.

    A plain text scan (comments removed): each test annotation is followed by its method's
    declaration, whose name is the first ``identifier(`` after it. Test classes must be
    top-level classes named like their file; ``@Nested`` classes are refused, since their
    cases would be reported under another class name.

    Raises:
        ValueError: a source this scan cannot map to report names (names the file).
    """
    cases = []
    for part, root in TEST_SOURCES.items():
        for path in sorted(root.rglob("*.java")):
            raw = path.read_text(encoding="utf-8")
            text = _COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), raw)
            if _UNSUPPORTED.search(text):
                raise ValueError(f"{path}: @Nested test classes are not supported by "
                                 "tests/jvm_toolchain.py (their report names differ)")
            package = _PACKAGE.search(text)
            cls = (package.group(1) + "." if package else "") + path.stem
            for ann in _TEST_ANNOTATION.finditer(text):
                method = _METHOD.search(text, ann.end())
                if method is None:
                    raise ValueError(f"{path}:{text.count(chr(10), 0, ann.start()) + 1}: "
                                     "test annotation without a method")
                cases.append(JUnitCase(part, cls, method.group(1), path,
                                       text.count("\n", 0, ann.start()) + 1))
    return cases


# --------------------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------------------
def java_home() -> Optional[pathlib.Path]:
    """The JDK that ``javac`` on PATH belongs to, or None without a JDK."""
    javac = shutil.which("javac")
    if javac is None or shutil.which("java") is None:
        return None
    return pathlib.Path(os.path.realpath(javac)).parents[1]


def declared_litert_version() -> str:
    """The LiteRT release whose C API the JNI bridge declares (its EXPECTED_LITERT_VERSION)."""
    m = re.search(r'#define\s+EXPECTED_LITERT_VERSION\s+"([^"]+)"',
                  JNI_SOURCE.read_text(encoding="utf-8"))
    if m is None:
        raise ValueError(f"{JNI_SOURCE}: no EXPECTED_LITERT_VERSION define")
    return m.group(1)


def litert_library() -> pathlib.Path:
    """``libLiteRt.so`` of the installed ``ai-edge-litert`` wheel (a hard dependency).

    Raises:
        AssertionError: the wheel is missing, is not the release the bridge declares, or
            lacks the library: an environment that differs from the tested one.
    """
    want = declared_litert_version()
    try:
        have = importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        raise AssertionError(f"ai-edge-litert is not installed (a dependency of lponet-tf; "
                             f"the JNI bridge needs its {want} libLiteRt.so)") from None
    if have != want:
        raise AssertionError(f"ai-edge-litert {have} is installed; the JNI bridge "
                             f"({JNI_SOURCE.relative_to(REPO)}) declares the {want} C API: "
                             f"install {want} (make test does) or port the bridge")
    spec = importlib.util.find_spec("ai_edge_litert")
    lib = pathlib.Path(list(spec.submodule_search_locations)[0]) / "libLiteRt.so"
    if not lib.is_file():
        raise AssertionError(f"{lib} not found in the ai-edge-litert {have} wheel")
    return lib


def desktop_tools_missing(home: pathlib.Path) -> str:
    """Why the JNI bridge cannot be compiled here ("" when it can): tools a user may lack."""
    if shutil.which("gcc") is None:
        return "no gcc on PATH (needed to build the JNI bridge to libLiteRt.so)"
    if not (home / "include" / "jni.h").is_file():
        return f"no {home / 'include' / 'jni.h'} (a full JDK, not a JRE, is needed)"
    return ""


# --------------------------------------------------------------------------------------
# build + run
# --------------------------------------------------------------------------------------
def _run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          errors="replace", **kw)
    if proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def _java_files(dirs) -> List[str]:
    return [str(p) for d in dirs for p in sorted(pathlib.Path(d).rglob("*.java"))]


def build_jni(home: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Compile the JNI bridge (warnings are errors) into ``out``."""
    lib = out / "liblponet_litert_jni.so"
    _run(["gcc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror", "-shared",
          "-fPIC", f"-I{home / 'include'}", f"-I{home / 'include' / 'linux'}", JNI_SOURCE,
          "-ldl", "-o", lib])
    return lib


def compile_java(parts, classes: pathlib.Path) -> None:
    """javac (all lint warnings are errors) of the main and test sources of ``parts``."""
    dirs = []
    for part in parts:
        dirs += MAIN_SOURCES[part] + [TEST_SOURCES[part]]
    _run(["javac", "-encoding", "UTF-8", "-Xlint:all", "-Werror", "-d", classes,
          "-cp", os.pathsep.join([str(JUNIT_JAR), str(classes)])] + _java_files(dirs))


def run_junit(classes: pathlib.Path, reports: pathlib.Path,
              properties: Dict[str, str]) -> Tuple[Dict[Tuple[str, str], List[CaseResult]], str]:
    """Run every JUnit case on the class path once.

    Returns:
        ``({(class, method): [results]}, launcher output)``; a parameterized method has one
        result per invocation.

    Raises:
        AssertionError: the launcher timed out or wrote no report.
    """
    cmd = ["java", *(f"-D{k}={v}" for k, v in properties.items()), "-jar", str(JUNIT_JAR),
           "--class-path", str(classes), "--scan-class-path", "--disable-banner",
           "--disable-ansi-colors", "--details=tree", f"--reports-dir={reports}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                              timeout=JUNIT_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"JUnit did not finish within {JUNIT_TIMEOUT_S} s:\n"
                             f"{(exc.stdout or b'')[-4000:]!r}") from None
    output = proc.stdout + proc.stderr
    xml = reports / "TEST-junit-jupiter.xml"
    if not xml.is_file():
        raise AssertionError(f"JUnit wrote no report ({xml}):\n{output[-6000:]}")
    return parse_report(xml), output


def parse_report(xml: pathlib.Path) -> Dict[Tuple[str, str], List[CaseResult]]:
    """The launcher's legacy XML report -> results grouped by (class, method)."""
    results: Dict[Tuple[str, str], List[CaseResult]] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = "skipped" if tag == "skipped" else "failed"
                message = "\n".join(filter(None, [node.get("message"), node.text]))
                break
        output = "".join(o.text or "" for o in case.findall("system-out"))
        r = CaseResult(case.get("classname", ""), case.get("name", ""), outcome, message,
                       output)
        results.setdefault((r.class_name, r.method), []).append(r)
    return results
