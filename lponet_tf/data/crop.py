"""Moved to :mod:`lponet_tf.codec.crop` (the one box -> crop transform and warp); this alias
goes away."""
from lponet_tf.codec.crop import *  # noqa: F401,F403
from lponet_tf.codec.crop import __all__  # noqa: F401
