"""Training data for ``LPONet.fit`` from your own faces: the one public entry.

:func:`make_dataset` turns :class:`~lponet_tf.data.FaceRecord` s (an image file with its 68
landmarks, and optionally a pose and a visible-face mask) into what ``model.fit`` of a
``model.compile()``-d :class:`~lponet_tf.model.LPONet` takes: cropped 0..255 images,
heatmap / pose / mask targets keyed by the model's output names (every stack's, for deep
supervision) and per-output sample weights that are 0 where a face lacks that label.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from lponet_tf.config import LPONetConfig
from lponet_tf.data.records import FaceRecord


def make_dataset(
    records: Sequence[FaceRecord],
    model,
    batch_size: int = 8,
    augment: bool = True,
    occlusion: bool = False,
    seed: Optional[int] = None,
    repeat: bool = True,
    **kwargs,
):
    """A ``tf.data.Dataset`` of ``(image, targets, sample_weights)`` batches for ``fit``.

    Args:
        records: the faces; a record without pose or mask trains only the labels it has.
        model: the :class:`LPONet` to train (or its :class:`LPONetConfig`): gives the crop
            size, the pose format and the output names.
        batch_size: faces per batch.
        augment: the paper's augmentation (rotation, shift, scale, flip, blur), or an
            ``AugmentConfig``; False for plain crops.
        occlusion: synthetic occluders (``True`` the default ``OcclusionConfig``, or one).
        seed: makes the stream reproducible.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        **kwargs: further arguments of :func:`lponet_tf.data.pipeline.make_dataset`.

    Returns:
        ``tf.data.Dataset`` whose target and weight dicts have one entry per output of
        ``model``; on another Keras backend (JAX) the same batches from the numpy pipeline,
        a :class:`lponet_tf.data.numpy_pipeline.FaceBatches` (no TensorFlow; ``**kwargs``
        are then its options: ``cache``, ``workers``, ...).

    Example:
        >>> ds = make_dataset(records, model, batch_size=4)  # doctest: +SKIP
        >>> model.compile(); model.fit(ds, steps_per_epoch=10)  # doctest: +SKIP
    """
    from lponet_tf.data.augment import AugmentConfig
    from lponet_tf.data.occlusion import OcclusionConfig

    config: Union[LPONetConfig, None] = (
        model if isinstance(model, LPONetConfig) else getattr(model, "lponet_config", None))
    if config is None:
        raise TypeError(f"model must be an LPONet or an LPONetConfig, got {type(model).__name__}")
    intermediate = getattr(model, "include_intermediate", True)
    augment_config = AugmentConfig() if augment is True else (augment or None)
    occlusion_config = OcclusionConfig() if occlusion is True else (occlusion or None)
    stacks = config.num_stacks if intermediate else 1
    import keras

    if keras.backend.backend() != "tensorflow":
        from lponet_tf.data.numpy_pipeline import FaceBatches

        return FaceBatches([(records, 1)], config, batch_size, augment=augment_config,
                           occlusion=occlusion_config,
                           seed=int(np.random.SeedSequence().entropy % 2**31) if seed is None else seed,
                           num_stacks=stacks, repeat=repeat, **kwargs)
    from lponet_tf.data.pipeline import expand_for_stacks
    from lponet_tf.data.pipeline import make_dataset as make_samples

    ds = make_samples(records, config, batch_size=batch_size, augment=augment_config,
                      occlusion=occlusion_config, seed=seed, repeat=repeat, **kwargs)
    return expand_for_stacks(ds, stacks)
