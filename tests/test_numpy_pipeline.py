"""lponet_tf.data.numpy_pipeline.delivery_rate: the batches per second that Keras' adapter
delivers from a PyDataset (what a GPU run plans its steps from, scripts/device_train.py)."""
import time

import keras
import numpy as np

from lponet_tf.data.numpy_pipeline import delivery_rate


class _Slow(keras.utils.PyDataset):
    """An endless dataset whose batches take 50 ms each to prepare."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        self.calls += 1
        time.sleep(0.05)
        return np.zeros((2, 3), np.float32), np.zeros((2,), np.float32)


def test_delivery_rate_counts_what_the_adapter_delivers_and_no_more_than_the_workers_prepare():
    one = _Slow()
    rate = delivery_rate(one, 0.5)
    # One worker thread sleeping 50 ms a batch cannot deliver 20 a second or more.
    assert 0 < rate < 20.0
    # Every batch timed (and the 2 warm-up ones) was prepared by the dataset.
    assert one.calls >= 2 + rate * 0.5 * 0.9
