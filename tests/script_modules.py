"""The repository's scripts (``scripts/*.py``, ``android_demo/tools/*.py``) imported as modules,
for tests that call their functions or ``main(argv)`` in-process."""
import importlib.util
import pathlib
import types

REPO = pathlib.Path(__file__).resolve().parents[1]


def load_script(relative_path: str) -> types.ModuleType:
    """Import ``REPO / relative_path`` afresh (a new module object per call).

    Example:
        >>> load_script("scripts/average_weights.py").main  # doctest: +SKIP
    """
    path = REPO / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
