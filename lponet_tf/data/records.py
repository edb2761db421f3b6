"""`FaceRecord`: the one record type every dataset reader returns."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

import numpy as np

#: The three tasks a face can be labelled for (``FaceRecord.landmarks``, ``.pose``,
#: ``.mask_path``): the ``tasks`` of training and evaluation configs. The network's outputs
#: for them are named ``heatmaps``, ``pose``, ``occlusion`` (``metadata.OUTPUT_NAMES``).
TASKS = ("landmarks", "pose", "occlusion")


@dataclasses.dataclass
class FaceRecord:
    """One annotated face, in the coordinates of its original image file.

    A reader fills what its dataset labels and leaves the rest ``None``; the pipelines
    turn a ``None`` task into a zero target with zero sample weight (partial labels).

    Attributes:
        image_path: the image file.
        landmarks: ``(68, 2)`` float32 pixel coordinates (0-based, pixel centre at the
            integer coordinate), iBUG 68-point order, or None.
        pose: ``(3, 3)`` float32 rotation matrix in the convention of
            :mod:`lponet_tf.geometry`, or None.
        mask_path: binary visible-face mask image (non-zero = visible face), or None.
        box: ``(4,)`` float32 face box ``x0, y0, x1, y1`` in pixels, or None (then the
            crop is taken from the landmarks).
        attributes: dataset-specific extras, e.g. ``{"subset": "common"}`` for 300W or
            WFLW's six flags ``{"pose": 1, "expression": 0, ...}``.
        dataset: reader name that produced it (``"300w"``, ``"aflw2000"``, ...).
    """

    image_path: str
    landmarks: Optional[np.ndarray] = None
    pose: Optional[np.ndarray] = None
    mask_path: Optional[str] = None
    box: Optional[np.ndarray] = None
    attributes: Dict[str, Any] = dataclasses.field(default_factory=dict)
    dataset: str = ""

    def __post_init__(self):
        self.image_path = str(self.image_path)
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, np.float32).reshape(-1, 2)
        if self.pose is not None:
            self.pose = np.asarray(self.pose, np.float32).reshape(3, 3)
        if self.box is not None:
            self.box = np.asarray(self.box, np.float32).reshape(4)
        if self.mask_path is not None:
            self.mask_path = str(self.mask_path)

    @property
    def has_landmarks(self) -> bool:
        return self.landmarks is not None

    @property
    def has_pose(self) -> bool:
        return self.pose is not None

    @property
    def has_mask(self) -> bool:
        return self.mask_path is not None
