"""``model.fit`` / ``evaluate`` under ``tf.distribute`` strategies with Keras 3.15.

Two Keras 3.15 defects stop ``fit`` under ``MultiWorkerMirroredStrategy`` (the TensorFlow
tutorial's multi-worker example fails the same way, keras-team/keras#20585); the mixin
works around both and changes nothing on one device:

1. Before training, Keras reads a batch to build the metrics and losses and
   ``strategy.reduce()``\\ s that nested batch, which the multi-worker strategy cannot do
   ("Attempt to convert a value (PerReplica ...) to a Tensor"). Only shapes and dtypes are
   needed, so the build here uses the dataset's element spec and reads no data (this also
   spares every strategy the read of a batch that is then thrown away).
2. After each step Keras reduces the step's logs across workers with
   ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalar logs ("Invalid
   reduction dimension 0 for input with 0 dimensions"). Under a multi-worker strategy the
   logs are returned with shape ``(1,)``: the reduction over axis 0 is then the mean over
   replicas, the same value the other strategies log, and a scalar again.

Both are tested with two worker processes on localhost (``tests/test_training.py``).

Only the TensorFlow backend has ``tf.distribute`` (and these methods: JAX's trainer calls
``train_step(state, data)``), so on any other backend :class:`DistributedFitMixin` is an
empty class and this module does not import TensorFlow.

Why a mixin of the architecture class rather than something the trainer adds: Keras
looks these methods up on the model, and a model built with ``build_lponet`` and fitted
by a user's own ``fit`` under a ``tf.distribute`` scope needs them as much as
``lponet train`` does; a trainer-only subclass would also save its checkpoints under
another class name than the models it writes.
"""
from __future__ import annotations

import keras
from keras import ops


def _multi_worker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()  # what Keras itself tests
    )


class _TensorFlowDistributedFit:
    """Mixed into a ``keras.Model`` before it (``class M(DistributedFitMixin, keras.Model)``)."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and data_batch is None and self._distribute_strategy is not None:
            data_batch = iterator.data_adapter.get_tf_dataset().element_spec
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def train_step(self, data):
        return self._reducible(super().train_step(data))

    def test_step(self, data):
        return self._reducible(super().test_step(data))

    def _reducible(self, logs):
        if not _multi_worker(self.distribute_strategy):
            return logs
        return {k: ops.reshape(v, (1,)) if len(v.shape) == 0 else v for k, v in logs.items()}


class _NoOp:
    """Non-TensorFlow backends: nothing to work around (no ``tf.distribute``)."""


DistributedFitMixin = _TensorFlowDistributedFit if keras.backend.backend() == "tensorflow" else _NoOp
