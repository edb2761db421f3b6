"""lponet-tf: LPONet (multitask stacked hourglass) for 68 landmarks, head pose and the
visible-face mask, in Keras 3, with TFLite / ONNX export.

Paper: Kim, Roh, Kim, "Facial Landmark, Head Pose, and Occlusion Analysis Using
Multitask Stacked Hourglass", IEEE Access 2023.
"""
from lponet_tf.version import __version__
from lponet_tf.config import LPONetConfig

__all__ = ["__version__", "LPONetConfig"]
