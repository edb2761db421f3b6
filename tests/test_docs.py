"""The Python blocks of README.md and docs/*.md run as written (a photo name replaced by the
bundled astronaut picture), and the docs stay inside the repository (no links or paths to
files outside it)."""
from __future__ import annotations

import pathlib
import re

import cv2
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ASTRONAUT = REPO / "lponet_tf" / "assets" / "astronaut.png"

#: Blocks not run here, by (file, first line), and why; every other block runs.
NOT_RUN = {
    ("README.md", "import lponet_tf\n\nrecords = "): "run with tiny sizes by test_keras_native",
    ("detection.md", "import dlib, cv2"): "needs dlib and a YuNet .onnx from outside the project",
    ("evaluation.md", "from lponet_tf.evaluation import"): "needs the paper's test sets",
    ("export.md", "from lponet_tf.runtime import load_runner"): "needs an exported int8 model "
                                                              "(test_export_* cover load_runner)",
}


def _blocks():
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"```python\n(.*?)```", text, re.S):
            line = text[: match.start()].count("\n") + 1
            yield pytest.param(path, match.group(1), id=f"{path.name}:{line}")


def _skip_reason(path, code):
    return next((why for (name, start), why in NOT_RUN.items()
                 if path.name == name and code.startswith(start)), None)


# One namespace per file: later blocks of a page may use names of earlier ones.
_NAMESPACES: dict = {}


@pytest.mark.parametrize("path, code", [b for b in _blocks() if not _skip_reason(*b.values)])
def test_doc_python_block_runs(path, code):
    rgb = cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)
    namespace = _NAMESPACES.setdefault(path.name, {"rgb_uint8": rgb})
    code = code.replace('"photo.jpg"', repr(str(ASTRONAUT)))
    exec(compile(code, str(path), "exec"), namespace)


def test_every_not_run_entry_names_a_block():
    blocks = [(p.name, c) for p, c in (b.values for b in _blocks())]
    for name, start in NOT_RUN:
        assert any(n == name and c.startswith(start) for n, c in blocks), (name, start)


def test_docs_stay_inside_the_repository():
    outside = re.compile(r"\.\./shared|DESIGN\.md|TF-STACK\.md|\]\(\.\./")
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not outside.search(line), f"{path.name}:{number}: {line}"


#: What users get: the package (its configs and docstrings), scripts, benchmarks, the
#: Android project and the Makefile. tests/ and .ci/ may name the CI machines' data folder.
SHIPPED = ["lponet_tf", "benchmarks", "scripts", "export", "training", "android_demo", "Makefile",
           "setup.py"]
TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".json", ".md", ".txt", ".java", ".kt", ".gradle", ".kts",
                 ".xml", ".cfg", ".toml", ".sh", ""}


def test_code_and_configs_do_not_point_outside_the_repository():
    outside = re.compile(r"\.\./shared|shared/data|/work/")
    files = []
    for name in SHIPPED:
        root = REPO / name
        files += [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()
                                                 and p.suffix in TEXT_SUFFIXES
                                                 and "__pycache__" not in p.parts
                                                 and "build" not in p.parts]
    assert len(files) > 100
    hits = [f"{p.relative_to(REPO)}:{n}: {line.strip()}" for p in files
            for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if outside.search(line)]
    assert not hits, "\n".join(hits[:20])


def test_readme_parameter_count_is_the_measured_one():
    from lponet_tf.model import build_lponet, inference_model

    text = (REPO / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"first stack's\s+pose head: ([\d,]+)", text)
    assert stated, "README no longer states the inference model's parameter count"
    measured = inference_model(build_lponet()).count_params()
    assert int(stated.group(1).replace(",", "")) == measured


def test_table1_300w_test_column_only_holds_the_300w_test_set():
    """docs/evaluation.md: faces without the common / challenge subsets (300W training
    photos) enter Table 5's "Full" column only, not Table 1's "300W test"."""
    from lponet_tf.evaluation.tables import table1, table5

    subset = {"300w": {"status": "evaluated", "landmarks": {"all": {"nme": 10.0, "faces": 195}}}}
    assert table1(subset, "m").rows[0][1][0].value is None
    full = next(c for c, name in zip(table5(subset, "m").rows[0][1], table5(subset, "m").columns)
                if name == "Full")
    assert full.value == 10.0
    test = {"300w": {"status": "evaluated", "landmarks": {
        "all": {"nme": 4.0, "faces": 689}, "common": {"nme": 3.5, "faces": 554},
        "challenge": {"nme": 6.0, "faces": 135}}}}
    assert table1(test, "m").rows[0][1][0].value == 4.0
