"""Synthetic occluders (face masks, sunglasses, hands, textured patches).

Each ``draw_*`` function returns a :class:`~lponet_tf.data.occluders.base.Layer` (coverage
and colours); :func:`~lponet_tf.data.occluders.base.composite` pastes it and updates the
visible-face mask. :mod:`lponet_tf.data.occlusion` picks and applies them.
"""
from lponet_tf.data.occluders.base import FaceFrame, Layer, box_frame, composite
from lponet_tf.data.occluders.face_masks import draw_face_mask
from lponet_tf.data.occluders.glasses import draw_sunglasses
from lponet_tf.data.occluders.hands import draw_hand
from lponet_tf.data.occluders.patches import draw_patch

__all__ = [
    "FaceFrame",
    "Layer",
    "box_frame",
    "composite",
    "draw_face_mask",
    "draw_sunglasses",
    "draw_hand",
    "draw_patch",
]
