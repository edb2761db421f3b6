"""lponet-tf: LPONet (multitask stacked hourglass) for 68 landmarks, head pose and the
visible-face mask, in Keras 3, with TFLite / ONNX export.

Paper: Kim, Roh, Kim, "Facial Landmark, Head Pose, and Occlusion Analysis Using
Multitask Stacked Hourglass", IEEE Access 2023.

The public names are imported lazily (PEP 562), so ``import lponet_tf.data`` or
``lponet_tf.geometry`` does not pay for TensorFlow.

Example:
    >>> import lponet_tf
    >>> model = lponet_tf.build_lponet(channels=32, input_size=128)   # doctest: +SKIP
    >>> analyzer = lponet_tf.FaceAnalyzer.create()                    # doctest: +SKIP
"""
from lponet_tf.version import __version__
from lponet_tf.config import LPONetConfig
from lponet_tf import _keras_registry

# Saved models reload with safe_mode=True after `import lponet_tf` alone, without this
# import paying for TensorFlow: the classes register when Keras is (or gets) imported.
_keras_registry.install()
register_keras_objects = _keras_registry.register

_LAZY = {
    "build_lponet": "lponet_tf.model",
    "LPONet": "lponet_tf.model",
    "inference_model": "lponet_tf.model",
    "from_preset": "lponet_tf.presets",
    "list_presets": "lponet_tf.presets",
    "FaceAnalyzer": "lponet_tf.inference.analyzer",
    "FaceAnalyzerOptions": "lponet_tf.inference.analyzer",
    "Face": "lponet_tf.inference.analyzer",
    "draw": "lponet_tf.visualize",
    "HeatmapLoss": "lponet_tf.losses",
    "PoseLoss": "lponet_tf.losses",
    "OcclusionLoss": "lponet_tf.losses",
    "make_dataset": "lponet_tf.fit_data",
    "FaceRecord": "lponet_tf.data.records",
    "encode_heatmaps": "lponet_tf.heatmaps",
    "decode_heatmaps": "lponet_tf.heatmaps",
}

__all__ = ["__version__", "LPONetConfig", "register_keras_objects", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lponet_tf' has no attribute {name!r}")
