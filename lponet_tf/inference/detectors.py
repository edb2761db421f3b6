"""Moved to :mod:`lponet_tf.detection` (a package: base protocol, BlazeFace, wrappers, box
mapping with its fitted tables as data); this alias goes away."""
from lponet_tf.detection import *  # noqa: F401,F403
from lponet_tf.detection import __all__  # noqa: F401
# Private names that code outside the library (android_demo/tools, tests/jvm_goldens.py)
# still reads through this alias; new code imports lponet_tf.detection.blazeface.
from lponet_tf.detection.blazeface import _BLAZE_SPECS, _blaze_model_dir  # noqa: F401,E402
from lponet_tf.detection.blazeface import blaze_anchors as _blaze_anchors  # noqa: F401,E402
