"""Moved to :mod:`lponet_tf.codec.image` (the one image loader); this alias goes away."""
from lponet_tf.codec.image import *  # noqa: F401,F403
from lponet_tf.codec.image import __all__  # noqa: F401
