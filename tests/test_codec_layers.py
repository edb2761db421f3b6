"""Package hygiene of the face path (docs/ARCHITECTURE.md, "Layers"): imports go downwards
only, every folder of Python modules is a package, and the codec loads no TensorFlow.

Imports are read from the source (``ast``), lazy ones inside functions included."""
import ast
import pathlib
import subprocess
import sys

import pytest

PKG = pathlib.Path(__file__).resolve().parents[1] / "lponet_tf"

#: What each lower part of the library may import from lponet_tf (besides itself).
ALLOWED = {
    "codec": {"errors", "config", "geometry", "heatmaps"},
    "detection": {"errors", "codec", "after_fork"},
    "data": {"errors", "fileio", "config", "codec", "detection", "geometry", "heatmaps", "metadata",
             "version"},
    "fileio": {"errors"},
    "after_fork": set(),
    "visualize": {"codec"},
}


def _lponet_imports(path: pathlib.Path):
    """``(line, top-level part)`` of every lponet_tf import in a file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "lponet_tf":  # from lponet_tf import geometry, heatmaps
                names = [f"lponet_tf.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "lponet_tf" and len(parts) > 1:
                yield node.lineno, parts[1]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_the_face_path_imports_only_downwards(part):
    files = sorted((PKG / part).rglob("*.py")) if (PKG / part).is_dir() else [PKG / f"{part}.py"]
    assert files
    upward = [f"{f.relative_to(PKG.parent)}:{line} imports lponet_tf.{target}"
              for f in files for line, target in _lponet_imports(f)
              if target != part and target not in ALLOWED[part]
              # the data/ pipeline feeds tf.data: it sits above the model, see ARCHITECTURE.md
              and not (part == "data" and f.name == "pipeline.py")]
    assert not upward, "\n".join(upward)


def test_every_folder_of_python_modules_is_a_package():
    missing = [str(d.relative_to(PKG.parent)) for d in [PKG, *PKG.rglob("*")]
               if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
               and not (d / "__init__.py").is_file()]
    assert not missing


def test_importing_the_codec_loads_no_tensorflow():
    code = ("import sys, lponet_tf.codec, lponet_tf.codec.crop, lponet_tf.codec.image; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'ai_edge_litert') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
