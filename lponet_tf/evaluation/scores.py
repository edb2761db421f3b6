"""Per-face scores of one test set and their summaries (paper Eq. 10-12 via lponet_tf.metrics).

A :class:`DatasetScores` collects, face by face, what the protocol measured (NME in image
pixels, Euler angles and rotations, per-class IoU) and the groups the face belongs to
("all", the 300W subset, the WFLW attribute flags). :meth:`DatasetScores.summary` turns
them into the JSON numbers the tables read, every number with its face count.
"""
from __future__ import annotations

import csv
import dataclasses
import math
from typing import Dict, List, Optional, Tuple

import numpy as np

from lponet_tf import metrics
from lponet_tf.data.records import FaceRecord

#: CED cut-off and failure threshold, NME in % (the usual 300W / WFLW choice).
CED_MAX_NME = 10.0
#: WFLW attribute flags (the reader's attribute names): each is a Table 4 subset.
WFLW_FLAGS = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")


def face_groups(record: FaceRecord) -> Tuple[str, ...]:
    """Groups a face is reported in: ``"all"``, its ``subset`` attribute (300W common /
    challenge), and each WFLW flag set to 1.

    Example:
        >>> face_groups(FaceRecord("a.jpg", attributes={"subset": "common"}))
        ('all', 'common')
        >>> face_groups(FaceRecord("b.jpg", attributes={"pose": 1, "blur": 0}))
        ('all', 'pose')
    """
    groups = ["all"]
    subset = record.attributes.get("subset")
    if isinstance(subset, str) and subset:
        groups.append(subset.lower())
    groups.extend(f for f in WFLW_FLAGS if record.attributes.get(f) in (1, True))
    return tuple(dict.fromkeys(groups))


@dataclasses.dataclass
class FaceScore:
    """What was measured on one face (None for a task it has no label for).

    Attributes:
        image_path: the face's image.
        groups: see :func:`face_groups`.
        crop_source: how its crop box was chosen (``protocol.CROP_SOURCES``).
        pred_landmarks, gt_landmarks: ``(K, 2)`` image pixels.
        nme: inter-ocular NME in % (Eq. 10).
        pred_ypr, gt_ypr: ``(3,)`` yaw, pitch, roll in degrees.
        pred_R, gt_R: ``(3, 3)`` rotations.
        iou: ``(2,)`` IoU in % of not-face and visible face inside the crop (Eq. 12).
    """

    image_path: str
    groups: Tuple[str, ...]
    crop_source: str
    pred_landmarks: Optional[np.ndarray] = None
    gt_landmarks: Optional[np.ndarray] = None
    nme: Optional[float] = None
    pred_ypr: Optional[np.ndarray] = None
    gt_ypr: Optional[np.ndarray] = None
    pred_R: Optional[np.ndarray] = None
    gt_R: Optional[np.ndarray] = None
    iou: Optional[np.ndarray] = None


class DatasetScores:
    """The faces of one test set (or one AFLW2000-SO variant) as they were scored.

    Example:
        >>> s = DatasetScores()
        >>> s.add(FaceScore("a.jpg", ("all",), "landmarks", nme=2.0))
        >>> s.summary()["landmarks"]["all"]["nme"]
        2.0
    """

    def __init__(self):
        self.faces: List[FaceScore] = []
        self.seconds: float = 0.0

    def add(self, face: FaceScore) -> None:
        self.faces.append(face)

    def groups(self) -> List[str]:
        """Group names in first-seen order ("all" first)."""
        return list(dict.fromkeys(g for f in self.faces for g in f.groups))

    def _in(self, group: str, field: str) -> List[FaceScore]:
        return [f for f in self.faces if group in f.groups and getattr(f, field) is not None]

    def nme_values(self, group: str = "all") -> np.ndarray:
        """Per-face NMEs (%) of a group (for the CED curve)."""
        return np.array([f.nme for f in self._in(group, "nme")], np.float64)

    def _landmarks(self, group: str) -> Optional[dict]:
        values = self.nme_values(group)
        if not len(values):
            return None
        ced = metrics.ced_curve(values, CED_MAX_NME)
        return {"nme": float(values.mean()), "faces": int(len(values)),
                "auc_10": ced.auc, "failure_rate_10": ced.failure_rate,
                "median_nme": float(np.median(values))}

    def _pose(self, group: str) -> Optional[dict]:
        faces = self._in(group, "pred_ypr")
        if not faces:
            return None
        mae = metrics.pose_mae(np.stack([f.pred_ypr for f in faces]),
                               np.stack([f.gt_ypr for f in faces]))
        geo = metrics.geodesic(np.stack([f.pred_R for f in faces]), np.stack([f.gt_R for f in faces]))
        yaw, pitch, roll = (float(v) for v in mae.per_angle)
        return {"yaw": yaw, "pitch": pitch, "roll": roll, "mean": mae.mean,
                "geodesic": geo.mean, "geodesic_deg": float(np.degrees(geo.mean)),
                "faces": len(faces)}

    def _occlusion(self, group: str) -> Optional[dict]:
        faces = self._in(group, "iou")
        if not faces:
            return None
        iou = np.stack([f.iou for f in faces])  # (N, 2) in %
        return {"miou": float(iou.mean()), "iou_not_face": float(iou[:, 0].mean()),
                "iou_visible": float(iou[:, 1].mean()), "faces": len(faces)}

    def summary(self) -> dict:
        """JSON-ready numbers: ``{"faces", "seconds", "crop_sources", "landmarks",
        "pose", "occlusion"}``; each task maps group -> metrics (with ``faces``), or is
        None when no face had that label."""
        out = {"faces": len(self.faces), "seconds": round(self.seconds, 3),
               "crop_sources": {}}
        for f in self.faces:
            out["crop_sources"][f.crop_source] = out["crop_sources"].get(f.crop_source, 0) + 1
        for task, fn in (("landmarks", self._landmarks), ("pose", self._pose),
                         ("occlusion", self._occlusion)):
            per_group = {g: r for g in self.groups() if (r := fn(g)) is not None}
            out[task] = per_group or None
        return out


PER_FACE_COLUMNS = ("dataset", "image", "groups", "crop_source", "nme", "yaw_error",
                    "pitch_error", "roll_error", "geodesic", "iou_not_face", "iou_visible")


def _fmt(value) -> str:
    # a diverged model's NaN is no value, as lponet compare reads an empty cell
    return "" if value is None or not math.isfinite(float(value)) else f"{float(value):.6g}"


def write_per_face_csv(path, scores: Dict[str, DatasetScores]) -> int:
    """One CSV row per evaluated face (errors in %, degrees, radians); returns the row count.

    Args:
        path: output ``.csv``.
        scores: ``{dataset name: DatasetScores}`` (SO variants as ``"aflw2000_so/left"``).
    """
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(PER_FACE_COLUMNS)
        for name, ds in scores.items():
            for f in ds.faces:
                # The tables' error (Eq. 11, wrapped): a roll of 179 against -179 is 2 off, not 358.
                err = ((None,) * 3 if f.pred_ypr is None
                       else metrics.pose_mae(f.pred_ypr[None], f.gt_ypr[None]).per_angle)
                geo = None if f.pred_R is None else metrics.geodesic(f.pred_R[None], f.gt_R[None]).mean
                iou = (None, None) if f.iou is None else f.iou
                writer.writerow([name, f.image_path, ";".join(f.groups), f.crop_source,
                                 _fmt(f.nme), *(_fmt(e) for e in err), _fmt(geo),
                                 _fmt(iou[0]), _fmt(iou[1])])
                rows += 1
    return rows
