"""Fake runners for the evaluation tests: they answer each crop with its encoded ground truth.

:class:`OracleRunner` recognises a crop by its pixels (the evaluation and the training
pipeline's :func:`lponet_tf.data.sample.prepare_sample` must produce the same crop) and
returns the project's own encodings of the ground truth: heatmap targets
(:func:`lponet_tf.heatmaps.encode_heatmaps`), the pose label, the S/4 visible-face target.
Scoring it checks the whole chain (crop, inverse, metrics) up to the codec's own error.
Variants move the answer by a known amount so the expected error can be computed by hand.
"""
from __future__ import annotations

import hashlib
import types
from typing import Optional, Sequence

import numpy as np

from lponet_tf import geometry
from lponet_tf.data.sample import prepare_sample
from lponet_tf.heatmaps import crop_to_grid


def crop_key(image: np.ndarray) -> str:
    return hashlib.sha1(np.round(np.asarray(image)).astype(np.uint8).tobytes()).hexdigest()


class OracleRunner:
    """``runner(images) -> {"heatmaps", "pose", "occlusion"}`` of the ground truth.

    Args:
        records: the faces it knows.
        size: input size S.
        pose: "6d" (answers (3, 3) rotations) or "euler" (answers yaw, pitch, roll degrees).
        pose_offset: degrees added to (yaw, pitch, roll) of the answer (rebuilt as a matrix
            for "6d"), so the pose MAE per angle is exactly ``abs(pose_offset)``.
        cell_offset: when set, heatmaps are one-hot at the GT's nearest cell plus this
            ``(dx, dy)`` in cells, so the decoded point is exactly that cell's centre.
        occlusion: "oracle" (the GT target), "all_visible" or "none_visible".
    """

    backend = "oracle"

    def __init__(self, records: Sequence, size: int, pose: str = "6d",
                 pose_offset: Sequence[float] = (0.0, 0.0, 0.0),
                 cell_offset: Optional[Sequence[int]] = None, occlusion: str = "oracle"):
        self.metadata = types.SimpleNamespace(input_size=size, pose=pose)
        self.size, self.pose = size, pose
        self.pose_offset = np.asarray(pose_offset, np.float64)
        self.cell_offset = cell_offset
        self.occlusion = occlusion
        # locate_faces="image": the evaluation crops a face without landmarks or box from a
        # detector or the whole image, never from its ground-truth mask (training may).
        self.samples = {crop_key(s.image): s
                        for s in (prepare_sample(r, size, locate_faces="image") for r in records)}
        self.batch_sizes = []
        self.hits = 0

    def _heatmaps(self, sample) -> np.ndarray:
        if self.cell_offset is None:
            return sample.targets["heatmaps"]
        g = self.size // 4
        cells = np.round(crop_to_grid(sample.landmarks)).astype(int) + np.asarray(self.cell_offset)
        hm = np.zeros((g, g, len(cells)), np.float32)
        for k, (cx, cy) in enumerate(cells):
            hm[cy, cx, k] = 60.0
        return hm

    def _pose(self, sample) -> np.ndarray:
        ypr = geometry.matrix_to_euler(sample.pose) + self.pose_offset
        return ypr if self.pose == "euler" else geometry.euler_to_matrix(ypr)

    def __call__(self, images):
        images = np.asarray(images)
        n, g = len(images), self.size // 4
        out = {"heatmaps": np.zeros((n, g, g, 68), np.float32),
               "pose": np.zeros((n, 3) if self.pose == "euler" else (n, 3, 3), np.float32),
               "occlusion": np.zeros((n, g, g, 2), np.float32)}
        self.batch_sizes.append(n)
        for i, image in enumerate(images):
            sample = self.samples.get(crop_key(image))
            if sample is None:
                continue  # padding of a short batch
            self.hits += 1
            if sample.landmarks is not None:
                out["heatmaps"][i] = self._heatmaps(sample)
            if sample.pose is not None:
                out["pose"][i] = self._pose(sample)
            if self.occlusion == "oracle":
                out["occlusion"][i] = sample.targets["occlusion"]
            else:
                out["occlusion"][i, ..., int(self.occlusion == "all_visible")] = 1.0
        return out
