"""Data: dataset readers (:func:`read_dataset`), the :class:`FaceRecord` they return, and
(in sub-modules) crops, augmentation, occlusion synthesis and ``tf.data`` pipelines.

Importing this package does not import TensorFlow; the readers need only numpy, scipy,
h5py and OpenCV.
"""
from lponet_tf.data.readers import list_datasets, read_dataset
from lponet_tf.data.records import FaceRecord

__all__ = ["FaceRecord", "list_datasets", "read_dataset"]
