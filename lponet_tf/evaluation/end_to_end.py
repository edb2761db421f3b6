"""End-to-end figures: what a user of ``FaceAnalyzer`` gets, beside the protocol's true box.

The evaluation protocol (:mod:`.evaluate`, ``lponet evaluate``) crops every face on its
annotated landmarks. A user's photo goes through the analyzer's detector, crop, network and
decoding instead, and the figures differ (a wrong box, a missed face). This module measures
both on the same faces (``lponet end-to-end``, :mod:`.end_to_end_cli`):

* :func:`evaluate_set` -- a landmark set: the share of faces found (the best face whose
  landmarks' box overlaps the true one by IoU >= 0.5,
  :func:`lponet_tf.detection.matching_face`; missed faces are counted, not scored), the
  inter-ocular NME (Eq. 10) over the found ones, and the true-box run (the protocol's crop, no
  refinement): NME over all faces and per region (:data:`REGIONS`: jaw, brows, nose, eyes,
  mouth; each normalised by the face's inter-ocular distance); head pose against the
  solvePnP pseudo-labels of the true landmarks (the training labels' reference): the slope of
  the least-squares line of predicted on reference yaw / pitch (1 = no shrinking of large
  angles) and the MAE. ``per_face`` lists each face (image file name, found, its NME end to
  end and on the true box), to see which faces a change moves.
* :func:`evaluate_turns` -- a pose-range check that does not depend on the PnP labels' noise
  (which flattens a slope on reference angles): each face turned out of plane by known angles
  (:mod:`lponet_tf.data.out_of_plane`, pitch -20..20 and yaw -15..15 degrees, on a 256 px view
  twice the face box, so the mesh's border anchors are far from the face) and analysed on its
  turned landmark box; the slope of the change in predicted yaw / pitch on the applied turn is 1
  for a network that follows the turn, 0 for one that ignores it. The same faces are also turned
  away from the camera (:data:`OUTWARD_TURNS` in the sign of their own yaw, the mesh allowed to
  hide :data:`OUTWARD_MAX_HIDDEN` of the face) to reach past 300W's +-45 deg: the slope of the
  predicted yaw on the turned label there, and the mean of ``|predicted| - |label|`` for labels
  past 45 deg (< 0: large angles read as smaller ones). The mesh squeezes the far cheek
  instead of hiding it behind a silhouette, so these are not real profiles: a network trained
  on such turns (``augment.out_of_plane_outward``) reads them well and a real profile worse
  (docs/evaluation.md); the figures describe how a model treats the renderer.
* :func:`evaluate_pose_set` -- head pose against a dataset's own pose labels (AFLW2000-3D),
  three ways: end to end, on the true landmark box as the protocol crops it (refinement off:
  ``lponet evaluate``'s figure), and on the true box with the analyzer's default refinement
  (``analyze(image, boxes=[box])``, which crops again on the network's own landmarks when they
  disagree with the box: AFLW2000-3D's landmarks of a turned face are 3D projections, so their
  box is not the 300W-style box the network was trained on). MAE of yaw / pitch / roll (Eq. 11,
  degrees, on the label's Euler branch: ``protocol.pose_reference``) and per face.

Example:
    >>> from lponet_tf.data import read_dataset
    >>> from lponet_tf.inference import FaceAnalyzer
    >>> from lponet_tf.training.datasets import holdout_split
    >>> faces = holdout_split(read_dataset("300w", "/data/300w"), **PRESET_HOLDOUT)  # doctest: +SKIP
    >>> evaluate_set(FaceAnalyzer.create(), faces)["nme_end_to_end"]  # doctest: +SKIP
    3.263
"""
from __future__ import annotations

import dataclasses
import pathlib
import time

import numpy as np

from lponet_tf.codec.image import load_image
from lponet_tf.errors import LPONetError

#: The bundled preset's validation holdout (``lponet_tf/configs/preset_lite.yaml``): 15% of
#: the 300W photos, seed 0, the faces its weights never trained on.
PRESET_HOLDOUT = dict(fraction=0.15, seed=0, part="val")


class EndToEndError(LPONetError, ValueError):
    """An end-to-end evaluation that cannot run as asked (an argument, an empty set)."""


def slope(pred, ref) -> float:
    """Least-squares slope of ``pred`` on ``ref`` (with an intercept)."""
    ref, pred = np.asarray(ref, np.float64), np.asarray(pred, np.float64)
    a = np.stack([ref, np.ones_like(ref)], axis=1)
    return float(np.linalg.lstsq(a, pred, rcond=None)[0][0])


class CountingRunner:
    """A runner that counts the face crops it is given (the cost of refinement)."""

    def __init__(self, runner):
        self.runner, self.crops = runner, 0

    def __call__(self, images, *args, **kwargs):
        self.crops += len(images)
        return self.runner(images, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.runner, name)


def protocol_analyzer(analyzer):
    """``analyzer`` with refinement off: given a face's true landmark box it crops exactly
    as the evaluation protocol does (the true-box runs), sharing the model and detector."""
    from lponet_tf.inference.analyzer import FaceAnalyzer

    return FaceAnalyzer(analyzer.runner, analyzer.detector,
                        dataclasses.replace(analyzer.options, refine=False))


def evaluate_set(analyzer, records, limit=None) -> dict:
    """Detector run and true-box run of ``analyzer`` over ``records`` (see module doc).

    Raises:
        EndToEndError: no face to evaluate. The end-to-end figures are ``None`` when no face
            was found.
    """
    from lponet_tf.data.pseudo_pose import pseudo_pose
    from lponet_tf.detection import landmark_box, matching_face
    from lponet_tf.geometry import matrix_to_euler
    from lponet_tf.inference.analyzer import FaceAnalyzer
    from lponet_tf.metrics import nme, pose_mae

    given_box = protocol_analyzer(analyzer)
    counter = CountingRunner(analyzer.runner)
    analyzer = FaceAnalyzer(counter, analyzer.detector, analyzer.options)
    gts, e2e, true_box, found, ref_ypr, pred_ypr, e2e_time = [], [], [], [], [], [], 0.0
    records = list(records[:limit])
    if not records:
        raise EndToEndError("no faces to evaluate (an empty folder, or no face in its holdout)")
    for rec in records:
        image = load_image(rec.image_path)
        gt = np.asarray(rec.landmarks, np.float64)
        box = landmark_box(gt)
        t0 = time.perf_counter()
        faces = analyzer.analyze(image)
        e2e_time += time.perf_counter() - t0
        best, _ = matching_face(faces, box)
        ok = best is not None
        found.append(ok)
        e2e.append(best.landmarks if ok else np.full_like(gt, np.nan))
        face = given_box.analyze(image, boxes=[box])[0]
        true_box.append(face.landmarks)
        gts.append(gt)
        ref_ypr.append(matrix_to_euler(pseudo_pose(gt, image.shape[:2])))
        pred_ypr.append(face.pose)
    gts, found = np.stack(gts), np.asarray(found)
    e2e_err = nme(np.stack(e2e)[found], gts[found]).per_image if found.any() else None
    e2e_each = np.full(len(gts), np.nan)
    if e2e_err is not None:
        e2e_each[found] = e2e_err

    def e2e_stat(fn, digits):
        return None if e2e_err is None else round(float(fn(e2e_err)), digits)

    true_box = np.stack(true_box)
    tb_err = nme(true_box, gts).per_image
    ref_ypr, pred_ypr = np.stack(ref_ypr), np.stack(pred_ypr)
    return {
        "faces": int(len(gts)),
        "found_pct": round(100.0 * found.mean(), 2),
        "nme_end_to_end": e2e_stat(np.mean, 3),
        "median_end_to_end": e2e_stat(np.median, 3),
        "failure10_end_to_end_pct": e2e_stat(lambda e: 100.0 * np.mean(e > 10), 2),
        "nme_true_box": round(float(tb_err.mean()), 3),
        "median_true_box": round(float(np.median(tb_err)), 3),
        "failure10_true_box_pct": round(100.0 * float(np.mean(tb_err > 10)), 2),
        "nme_true_box_regions": region_nme(true_box, gts),
        "yaw_slope": round(slope(pred_ypr[:, 0], ref_ypr[:, 0]), 3),
        "pitch_slope": round(slope(pred_ypr[:, 1], ref_ypr[:, 1]), 3),
        # Eq. 11 as the tables: differences wrapped (a roll of 176 against -176 is 8 off)
        "yaw_pitch_roll_mae": np.round(pose_mae(pred_ypr, ref_ypr).per_angle, 2).tolist(),
        "ms_per_image_end_to_end": round(1000.0 * e2e_time / len(gts), 1),
        # Detected faces of every image (not only the scored one) and their refine passes.
        "crops_per_image_end_to_end": round(counter.crops / len(gts), 3),
        "per_face": [{"image": pathlib.Path(rec.image_path).name, "found": bool(ok),
                      "nme_end_to_end": round(float(e), 3) if ok else None,
                      "nme_true_box": round(float(t), 3)}
                     for rec, ok, e, t in zip(records, found, e2e_each, tb_err)],
    }


def _regions() -> dict:
    """The model metadata's landmark groups (iBUG 68, 0-based, ends included), left and
    right brows and eyes taken together."""
    from lponet_tf.metadata import LANDMARK_ORDER

    groups = LANDMARK_ORDER["groups"]
    out = {}
    for name, (a, b) in groups.items():
        key = {"right_brow": "brows", "left_brow": "brows", "right_eye": "eyes",
               "left_eye": "eyes"}.get(name, name)
        lo, hi = out.get(key, (a, b))
        out[key] = (min(lo, a), max(hi, b))
    return out


#: Face regions of the per-region NME: jaw, brows, nose, eyes, mouth.
REGIONS = _regions()


def region_nme(pred, gts) -> dict:
    """NME (%) of each :data:`REGIONS` group of points, normalised by the whole face's
    inter-ocular distance (so the regions' figures are comparable with the face's)."""
    from lponet_tf.metrics import nme, normalising_distance

    d = normalising_distance(gts, "inter_ocular")
    return {name: round(nme(pred[:, a:b + 1], gts[:, a:b + 1], norm=d).mean, 3)
            for name, (a, b) in REGIONS.items()}


#: Applied turns of ``--turns``: (yaw, pitch) degrees.
TURNS = [(0.0, p) for p in (-20.0, -10.0, 10.0, 20.0)] + [(y, 0.0) for y in (-15.0, -7.5, 7.5, 15.0)]
#: Yaw turns away from the camera (degrees, in the sign of the face's own yaw) of ``--turns``.
OUTWARD_TURNS = (20.0, 30.0, 40.0)
#: Share of the face the mesh may hide on those turns (``rotate_face(max_hidden=)``).
OUTWARD_MAX_HIDDEN = 0.2
#: Labels past this yaw (degrees) count in ``outward_yaw_bias_past_45``.
LARGE_YAW = 45.0


def evaluate_turns(analyzer, records, limit=None) -> dict:
    """Slopes of the predicted change in yaw / pitch on known synthetic turns (module doc)."""
    from lponet_tf.codec.crop import CropTransform, box_from_landmarks
    from lponet_tf.data.out_of_plane import rotate_face
    from lponet_tf.data.pseudo_pose import pseudo_pose
    from lponet_tf.geometry import matrix_to_euler

    given_box = protocol_analyzer(analyzer)

    def predicted(turned):
        return given_box.analyze(turned.image, boxes=[box_from_landmarks(turned.landmarks)])[0].pose

    applied, change, dropped = {0: [], 1: []}, {0: [], 1: []}, 0
    label_yaw, pred_yaw, out_dropped = [], [], 0
    for rec in records[:limit]:
        image = load_image(rec.image_path)
        gt = np.asarray(rec.landmarks, np.float64)
        pose = pseudo_pose(gt, image.shape[:2])
        view = CropTransform.from_box(box_from_landmarks(gt), 256, enlarge=0.5)
        crop, lm = view.warp(image), view.to_crop(gt)
        base = given_box.analyze(crop, boxes=[box_from_landmarks(lm)])[0].pose
        for yaw, pitch in TURNS:
            out = rotate_face(crop, lm, pose, yaw, pitch)
            if out.angles != (yaw, pitch):
                dropped += 1
                continue
            axis = 0 if yaw else 1
            applied[axis].append(yaw or pitch)
            change[axis].append(predicted(out)[axis] - base[axis])
        away = 1.0 if matrix_to_euler(pose)[0] >= 0 else -1.0
        for turn in OUTWARD_TURNS:
            out = rotate_face(crop, lm, pose, away * turn, 0.0, max_hidden=OUTWARD_MAX_HIDDEN)
            if out.angles != (away * turn, 0.0):
                out_dropped += 1
                continue
            label_yaw.append(matrix_to_euler(out.pose)[0])
            pred_yaw.append(predicted(out)[0])
    label_yaw, pred_yaw = np.asarray(label_yaw), np.asarray(pred_yaw)
    past = np.abs(label_yaw) > LARGE_YAW
    return {
        "turns": len(TURNS), "faces": len(records[:limit]), "turns_dropped": dropped,
        "yaw_turn_slope": round(slope(change[0], applied[0]), 3),
        "pitch_turn_slope": round(slope(change[1], applied[1]), 3),
        "outward_turns": list(OUTWARD_TURNS), "outward_dropped": out_dropped,
        "outward_yaw_slope": round(slope(pred_yaw, label_yaw), 3) if len(label_yaw) > 1 else None,
        "outward_past_45": int(past.sum()),
        "outward_yaw_bias_past_45": (round(float(np.mean(np.abs(pred_yaw[past]) - np.abs(label_yaw[past]))), 2)
                                     if past.any() else None),
    }


def evaluate_pose_set(analyzer, records, limit=None) -> dict:
    """Pose MAE against the records' labels: end to end, true box, true box refined.

    Faces without a pose label or landmarks are left out (``faces`` counts the scored ones);
    the MAE of a run that scored no face is ``None``.
    """
    from lponet_tf.detection import landmark_box, matching_face
    from lponet_tf.evaluation.protocol import pose_reference
    from lponet_tf.geometry import matrix_to_euler_near, wrap_degrees

    given_box = protocol_analyzer(analyzer)
    runs = {"end_to_end": [], "true_box": [], "true_box_refined": []}
    faces, missed = [], []
    for rec in records[:limit]:
        if rec.pose is None or rec.landmarks is None:  # nothing to compare or crop on
            continue
        image = load_image(rec.image_path)
        box = landmark_box(np.asarray(rec.landmarks, np.float64))
        ref = pose_reference(rec)
        found, _ = matching_face(analyzer.analyze(image), box)
        row = {"image": pathlib.Path(rec.image_path).name, "reference_ypr": np.round(ref, 2).tolist()}
        for run, face in (("end_to_end", found),
                          ("true_box", given_box.analyze(image, boxes=[box])[0]),
                          ("true_box_refined", analyzer.analyze(image, boxes=[box])[0])):
            if face is None:
                missed.append(row["image"])
                continue
            err = np.abs(wrap_degrees(matrix_to_euler_near(face.rotation, ref) - ref))
            runs[run].append(err)
            row[run + "_error_ypr"] = np.round(err, 2).tolist()
        faces.append(row)
    out = {"faces": len(faces), "missed_end_to_end": missed}
    for run, errs in runs.items():
        errs = np.asarray(errs).reshape(-1, 3)
        out[run + "_mae_ypr"] = np.round(errs.mean(0), 2).tolist() if len(errs) else None
        out[run + "_mae"] = round(float(errs.mean()), 2) if len(errs) else None
    out["per_face"] = faces
    return out
