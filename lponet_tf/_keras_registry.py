"""Register LPONet's serialisable classes with Keras as soon as Keras is usable.

``import lponet_tf`` must (a) not import TensorFlow (15-20 s; the TFLite path never needs
it) and (b) make ``keras.saving.load_model(path, safe_mode=True)`` find ``LPONet``,
``GramSchmidt``, the losses and the metrics. Keras resolves a custom class only from its
registry (it imports a module named in the file only for ``keras*`` packages), so the
classes must be registered before a user's ``load_model`` call, and registering them
means importing the modules that define them, which import TensorFlow.

Hence: if Keras is already imported, register now; otherwise a post-import hook registers
when Keras finishes importing. Why the hook watches TensorFlow as well: ``import keras``
imports TensorFlow (its backend) and ``import tensorflow`` imports Keras (``tf.keras``),
so whichever starts first, the other finishes inside it, half-initialised. Registering
then would import ``lponet_tf.model`` against a partial module. The hook therefore waits
until no watched module is still executing, i.e. until the outermost of the two is done.
A hook failure is reported as a warning and never breaks the user's ``import keras``;
:func:`register` can also be called by hand.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
import warnings

_WATCHED = ("keras", "tensorflow")
_lock = threading.RLock()
_executing: set = set()
_registered = False


def register() -> None:
    """Import the modules that register LPONet's classes with Keras (idempotent).

    Imports TensorFlow and Keras.
    """
    global _registered
    with _lock:
        if _registered:
            return
        import keras

        from lponet_tf import keras_metrics, losses, model  # noqa: F401  (decorators register)
        from lponet_tf.layers import layer_classes

        layer_classes(keras)
        _registered = True
        _uninstall()


class _RegisterAfter(importlib.abc.Loader):
    """Wraps a watched module's loader: runs it, then registers if nothing is mid-import."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        _executing.add(self._name)
        try:
            self._loader.exec_module(module)
        finally:
            _executing.discard(self._name)
        if not _executing and "keras" in sys.modules:
            try:
                register()
            except Exception as exc:  # the user's import must not fail because of us
                warnings.warn(f"lponet_tf could not register its Keras classes ({exc!r}); "
                              "call lponet_tf.register_keras_objects() before load_model",
                              RuntimeWarning, stacklevel=2)

    def __getattr__(self, name):  # get_code, get_source, is_package, ... of the real loader
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _WATCHED:
            return None
        # Ask the other finders (the ones after us) for the real spec.
        index = sys.meta_path.index(self)
        for finder in sys.meta_path[index + 1:]:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _RegisterAfter(spec.loader, fullname)
                return spec
        return None


_finder = _Finder()


def _uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)


def install() -> None:
    """Register now if Keras is already imported, else when it is (see the module doc)."""
    keras_module = sys.modules.get("keras")
    spec = getattr(keras_module, "__spec__", None)
    if keras_module is not None and not getattr(spec, "_initializing", False):
        register()
    elif _finder not in sys.meta_path and not _registered:
        sys.meta_path.insert(0, _finder)
