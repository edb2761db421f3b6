"""Custom Keras layers of LPONet.

Only one operation of the network has no Keras built-in: the Gram–Schmidt map from the
6D pose representation to a rotation matrix (paper Eq. 2). Everything else is built from
stock layers so that `.keras` files load with ``safe_mode=True`` and TFLite/ONNX converters
see ordinary ops.

The layer classes are created by :func:`layer_classes` for a given Keras module so that the
same builder can target Keras 3 (the library) and ``tf_keras`` (needed only by
tensorflow-model-optimization for quantisation-aware training). The maths is
:func:`lponet_tf.geometry_ops.rotation_6d_to_matrix`, written in ``keras.ops``: it runs on
every Keras 3 backend (TensorFlow, JAX, PyTorch), and under TensorFlow (the only backend
``tf_keras`` runs with) ``keras.ops`` are plain TF ops on TF tensors, which TFLite
converts.
"""
from __future__ import annotations

import functools

from keras import ops

from lponet_tf.geometry_ops import rotation_6d_to_matrix


@functools.lru_cache(maxsize=None)
def layer_classes(keras_module):
    """Return a namespace of LPONet's custom layer classes bound to ``keras_module``.

    Args:
        keras_module: ``keras`` (Keras 3) or ``tf_keras``.

    Returns:
        An object with attribute ``GramSchmidt``.
    """
    if hasattr(keras_module, "saving") and hasattr(
        keras_module.saving, "register_keras_serializable"
    ):
        register = keras_module.saving.register_keras_serializable
    else:  # tf_keras spells it under utils
        register = keras_module.utils.register_keras_serializable

    @register(package="lponet_tf")
    class GramSchmidt(keras_module.layers.Layer):
        """6D rotation representation -> 3x3 rotation matrix (paper Eq. 2).

        The six inputs are two 3-vectors ``a1 = x[:3]``, ``a2 = x[3:]``, the first two
        columns of an unnormalised matrix. ``b1 = a1/|a1|``, ``b2`` is ``a2`` made
        orthogonal to ``b1`` and normalised, ``b3 = b1 x b2``; the output's columns are
        ``b1, b2, b3``. The cross product is written with slices because
        ``tf.linalg.cross`` has no TFLite builtin. Computed in the layer's compute dtype
        (LPONet gives the pose head the variable dtype: float32 under mixed precision).

        Input shape ``(N, 6)``; output shape ``(N, 3, 3)``.

        Example:
            >>> import numpy as np
            >>> r = GramSchmidt()(np.array([[1., 0, 0, 0, 1, 0]], "float32"))
            >>> tuple(r.shape)
            (1, 3, 3)
        """

        def call(self, inputs):
            return rotation_6d_to_matrix(ops.cast(inputs, self.compute_dtype))

        def compute_output_shape(self, input_shape):
            return tuple(input_shape[:-1]) + (3, 3)

    class _Namespace:
        pass

    ns = _Namespace()
    ns.GramSchmidt = GramSchmidt
    return ns


def _keras3():
    import keras

    return keras


GramSchmidt = layer_classes(_keras3()).GramSchmidt
