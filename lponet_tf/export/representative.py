"""Real face crops for calibration (int8), QAT fine-tuning and parity checks.

Faces come from a folder of images with iBUG ``.pts`` files (e.g. ``/data/300w``),
read with the project's reader (:func:`lponet_tf.data.read_dataset`) and cropped with the
paper's protocol by the face codec (:func:`lponet_tf.codec.crop.crop_face`: landmark box,
10% margin, square; the crop of evaluation and ``FaceAnalyzer``). The photos are split exactly as the training configs do
(``training.datasets.holdout_split``: 15% of the photos, seed 0, grouped by photo), so
calibration and QAT use training faces and the parity report uses validation faces the
model never saw.

Example:
    >>> faces = load_faces("/data/300w", size=128, part="val", limit=64)  # doctest: +SKIP
    >>> faces.images.shape, faces.landmarks.shape                                  # doctest: +SKIP
    ((64, 128, 128, 3), (64, 68, 2))
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Iterator, Optional

import numpy as np

from lponet_tf.errors import DataError

#: The training configs' validation hold-out (lponet_tf/configs/*.yaml ``holdout``).
HOLDOUT_FRACTION = 0.15
HOLDOUT_SEED = 0
PARTS = ("train", "val", "all")


@dataclasses.dataclass
class FaceCrops:
    """Face crops ready for a model.

    Attributes:
        images: ``(N, S, S, 3)`` float32 RGB, 0..255.
        landmarks: ``(N, K, 2)`` float32 ground truth in crop pixels.
        paths: the image file of each crop.
    """

    images: np.ndarray
    landmarks: np.ndarray
    paths: list

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        for i in range(0, len(self.images), batch_size):
            yield self.images[i : i + batch_size]


def read_records(root, part: str = "val"):
    """Landmark-labelled records of a face folder, restricted to a hold-out ``part``.

    Args:
        root: folder of ``NAME.<img>`` + ``NAME.pts`` pairs (any depth), or the official
            300W layout.
        part: ``"train"``, ``"val"`` (the training configs' split) or ``"all"``.

    Returns:
        A list of :class:`~lponet_tf.data.records.FaceRecord`, sorted by image path.

    Raises:
        DataError: no such folder, or no labelled faces in it.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    from lponet_tf.data import read_dataset

    records = [r for r in read_dataset("300w", root) if r.landmarks is not None]
    if part != "all":
        from lponet_tf.training.datasets import holdout_split

        records = holdout_split(records, HOLDOUT_FRACTION, HOLDOUT_SEED, part)
    if not records:
        raise DataError(root, f"no landmark-labelled faces in the {part!r} part")
    return sorted(records, key=lambda r: r.image_path)


def crop_record(record, size: int):
    """The paper's evaluation crop of one record: ``(image, landmarks in crop px)``."""
    from lponet_tf.codec.crop import crop_face, face_box
    from lponet_tf.data.sample import read_record_image

    image = read_record_image(record.image_path)
    crop, t = crop_face(image, face_box(record.landmarks, record.box, image.shape), size)
    return crop.astype(np.float32), t.to_crop(record.landmarks)


def load_faces(root, size: int, part: str = "val", limit: Optional[int] = None,
               seed: int = 0) -> FaceCrops:
    """Crop up to ``limit`` faces of a hold-out part of ``root``.

    Args:
        root: face folder (see :func:`read_records`).
        size: crop side S (the model's input size).
        part: ``"train"``, ``"val"`` or ``"all"``.
        limit: take this many faces, chosen with ``seed`` (None: all, in path order).
        seed: choice of the faces when ``limit`` is smaller than the part.

    Returns:
        :class:`FaceCrops`.
    """
    records = read_records(os.fspath(root), part)
    if limit is not None and limit < len(records):
        pick = np.random.default_rng(seed).choice(len(records), size=limit, replace=False)
        records = [records[i] for i in sorted(pick)]
    images, points = zip(*(crop_record(r, size) for r in records))
    return FaceCrops(np.stack(images), np.stack(points).astype(np.float32),
                     [r.image_path for r in records])


def representative_dataset(images: np.ndarray, input_name: str = "image") -> Callable:
    """A TFLite ``representative_dataset``: one ``{input_name: (1, S, S, 3)}`` per crop.

    The converter calibrates activation ranges on these, so they must be real faces in the
    model's input range (0..255), not noise.
    """
    images = np.asarray(images, np.float32)

    def generate():
        for image in images:
            yield {input_name: image[None]}

    return generate
