"""Metrics against hand-computed cases and loop-based numpy references (Eq. 10-13)."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lponet_tf import keras_metrics as KM
from lponet_tf import metrics as M
from lponet_tf.geometry import matrix_to_euler
from lponet_tf.heatmaps import decode_heatmaps as _decode_heatmaps
from lponet_tf.heatmaps import encode_heatmaps
from lponet_tf.losses import HeatmapLoss, PoseLoss


def decode_heatmaps(hm, decode="dark"):
    """numpy reference of the metric's in-graph decoding (its default rule, DARK)."""
    return _decode_heatmaps(hm, decode=decode)


def landmarks(rng, n, scale=100.0):
    return rng.uniform(0, scale, size=(n, 68, 2))


# --------------------------------------------------------------------------------------
# numpy metrics
# --------------------------------------------------------------------------------------
def ref_nme(pred, gt, norm):
    out = []
    for p, g in zip(pred, gt):
        if norm == "inter_ocular":
            d = np.hypot(*(g[36] - g[45]))
        elif norm == "inter_pupil":
            d = np.hypot(*(g[36:42].mean(0) - g[42:48].mean(0)))
        else:
            w = g[:, 0].max() - g[:, 0].min()
            h = g[:, 1].max() - g[:, 1].min()
            d = np.sqrt(w * h)
        out.append(100.0 * np.mean([np.hypot(*(a - b)) for a, b in zip(p, g)]) / d)
    return np.array(out)


@pytest.mark.parametrize("norm", ["inter_ocular", "inter_pupil", "box"])
def test_nme_matches_reference(norm, rng):
    gt = landmarks(rng, 5)
    pred = gt + rng.normal(scale=2.0, size=gt.shape)
    r = M.nme(pred, gt, norm)
    expected = ref_nme(pred, gt, norm)
    np.testing.assert_allclose(r.per_image, expected)
    assert r.mean == pytest.approx(expected.mean())


def test_nme_hand_cases():
    gt = np.zeros((68, 2))
    gt[36], gt[45] = [0.0, 0.0], [60.0, 80.0]  # d = 100
    assert M.nme(gt + [6.0, 8.0], gt).mean == pytest.approx(10.0)
    # Half the points exact, half 20 px off: mean 10 px -> 10 %.
    pred = gt.copy()
    pred[::2] += [20.0, 0.0]
    assert M.nme(pred, gt).mean == pytest.approx(10.0)
    # Custom per-image distances, and the box norm of a 30 x 120 box (sqrt = 60).
    assert M.nme(gt + [3.0, 4.0], gt, norm=[50.0]).mean == pytest.approx(10.0)
    box = np.zeros((1, 68, 2))
    box[0, 0], box[0, 1] = [10.0, 10.0], [40.0, 130.0]
    box[0, 2:] = [20.0, 20.0]
    assert M.nme(box + [6.0, 0.0], box, "box").mean == pytest.approx(10.0)
    with pytest.raises(ValueError):
        M.nme(np.zeros((1, 29, 2)), np.ones((1, 29, 2)), "inter_ocular")
    with pytest.raises(ValueError):
        M.nme(gt, gt, "diagonal")


def test_a_face_that_cannot_be_measured_is_refused_or_a_failure():
    gt = np.zeros((3, 68, 2))
    gt[:, 45] = [100.0, 0.0]
    pred = gt + [3.0, 4.0]
    missing = gt.copy()
    missing[2, 10] = np.nan                      # a label with a missing point
    with pytest.raises(ValueError, match=r"image\(s\) \[2\] has non-finite"):
        M.nme(pred, missing)
    with pytest.raises(ValueError, match="zero or undefined for image"):
        M.nme(pred, np.zeros((3, 68, 2)))        # eye corners on one pixel
    errors = M.nme(np.where(np.arange(3)[:, None, None] == 2, np.nan, pred), gt).per_image
    assert np.isnan(errors[2])                   # a NaN prediction: measured as NaN ...
    assert M.failure_rate(errors, 10.0) == pytest.approx(1 / 3)   # ... and counted a failure
    c = M.ced_curve(errors, 10.0, num=11)
    assert c.failure_rate == pytest.approx(1 / 3) and c.fractions[-1] == pytest.approx(2 / 3)
    assert c.auc == pytest.approx(M.auc([5.0, 5.0, 1e9], 10.0)) == pytest.approx(1 / 3)


def test_pose_mae_and_geodesic(rng):
    gt = rng.uniform(-90, 90, (20, 3))
    pred = gt + rng.normal(scale=5, size=gt.shape)
    r = M.pose_mae(pred, gt)
    np.testing.assert_allclose(r.per_angle, [np.mean([abs(p[i] - g[i]) for p, g in zip(pred, gt)]) for i in range(3)])
    assert r.mean == pytest.approx(np.mean(np.abs(pred - gt)))
    np.testing.assert_allclose(r.per_image, np.abs(pred - gt).mean(1))
    hand = M.pose_mae([[3.0, -6.0, 9.0]], [[0.0, 0.0, 0.0]])
    assert hand.per_angle.tolist() == [3.0, 6.0, 9.0] and hand.mean == 6.0
    # a difference is an angle: roll 179 against -179 is 2 degrees off, not 358
    across = M.pose_mae([[10.0, 175.0, 179.0]], [[10.0, -175.0, -179.0]])
    assert across.per_angle.tolist() == pytest.approx([0.0, 10.0, 2.0])
    R1, R2 = Rotation.random(10, random_state=1), Rotation.random(10, random_state=2)
    g = M.geodesic(R1.as_matrix(), R2.as_matrix())
    np.testing.assert_allclose(g.per_image, (R1 * R2.inv()).magnitude(), atol=1e-7)
    quarter = Rotation.from_rotvec([0, np.pi / 2, 0]).as_matrix()
    assert M.geodesic(quarter[None], np.eye(3)[None]).mean == pytest.approx(np.pi / 2)


def ref_miou(pred, gt):
    per_image = []
    for p, g in zip(pred, gt):
        vals = []
        for c in (0, 1):
            inter = np.sum((p == c) & (g == c))
            union = np.sum((p == c) | (g == c))
            vals.append(1.0 if union == 0 else inter / union)
        per_image.append(100.0 * np.mean(vals))
    return np.array(per_image)


def test_miou_matches_reference_and_hand_cases(rng):
    gt = rng.integers(0, 2, (6, 12, 12))
    pred = np.where(rng.uniform(size=gt.shape) < 0.2, 1 - gt, gt)
    gt[0] = 1  # face everywhere ...
    pred[0] = 1  # ... in both: the absent not-face class counts as agreement
    r = M.miou(pred, gt)
    np.testing.assert_allclose(r.per_image, ref_miou(pred, gt))
    assert r.per_image[0] == 100.0
    assert r.mean == pytest.approx(ref_miou(pred, gt).mean())
    # Eq. 12 averages classes and images together: the per-class means agree with it.
    assert np.mean(r.per_class) == pytest.approx(r.mean)
    # Hand case: 4 pixels, face predicted on 2, true on 1 -> face 1/2, background 2/3.
    assert M.miou(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]])).mean == pytest.approx(100 * (0.5 + 2 / 3) / 2)
    assert M.miou(np.zeros((3, 3)), np.ones((3, 3))).mean == 0.0


def test_tme_reproduces_paper_table_1():
    """Eq. 13 on Table 1's rows (the two test sets of each task averaged) gives its TME
    column to the table's rounding."""
    rows = [  # NME 300W, WFLW; MAE AFLW2K, BIWI; mIoU COFW, RealOcc-W; TME
        (4.76, 4.28, 3.49, 4.31, 93.06, 92.37, 5.24),
        (4.74, 4.25, 3.57, 4.42, 93.23, 93.10, 5.11),
        (4.74, 4.24, 3.46, 4.29, 93.14, 93.36, 5.04),
        (4.72, 4.19, 3.53, 4.38, 93.17, 93.28, 5.06),
        (4.72, 4.18, 3.56, 4.22, 93.17, 93.31, 5.03),
    ]
    for n1, n2, p1, p2, o1, o2, t in rows:
        assert M.tme((n1 + n2) / 2, (p1 + p2) / 2, (o1 + o2) / 2) == pytest.approx(t, abs=0.006)


def test_ced_auc_failure_rate(rng):
    errors = rng.gamma(2.0, 2.0, 300)
    c = M.ced_curve(errors, 8.0, num=801)
    np.testing.assert_allclose(c.fractions, [np.mean(errors <= t) for t in c.thresholds])
    # The exact AUC equals the fine-grid integral of the step curve.
    fine = np.linspace(0, 8.0, 200001)
    numeric = np.trapezoid([np.mean(errors <= t) for t in fine[::100]], fine[::100]) / 8.0
    assert c.auc == pytest.approx(numeric, abs=2e-3)
    assert c.failure_rate == pytest.approx(np.mean(errors > 8.0))
    assert M.auc([0.0, 0.0], 10.0) == 1.0 and M.auc([10.0, 30.0], 10.0) == 0.0
    assert M.auc([2.0, 6.0], 8.0) == pytest.approx(((8 - 2) + (8 - 6)) / 2 / 8)
    assert M.failure_rate([5.0, 10.0, 10.5], 10.0) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------------
# Keras metrics
# --------------------------------------------------------------------------------------
def heatmap_pair(rng, n, noise=3.0):
    gt_pts = rng.uniform(40, 216, size=(n, 68, 2))
    pred_pts = gt_pts + rng.normal(scale=noise, size=gt_pts.shape)
    return encode_heatmaps(gt_pts, 256), 60.0 * encode_heatmaps(pred_pts, 256)


def test_heatmap_nme_matches_numpy_on_decoded_heatmaps(rng):
    L, P = heatmap_pair(rng, 4)
    w = np.array([1.0, 0.0, 2.0, 1.0], np.float32)
    L[3] = 0.0  # an unlabelled sample (zero target): skipped even with weight 1
    m = KM.HeatmapNME()
    m.update_state(L[:2], P[:2], sample_weight=w[:2])
    m.update_state(L[2:], P[2:], sample_weight=w[2:])
    gt, _ = decode_heatmaps(L)
    pred, _ = decode_heatmaps(P)
    per = M.nme(pred[:3], gt[:3]).per_image
    expected = (per[0] * 1 + per[2] * 2) / 3
    assert float(m.result()) == pytest.approx(expected, rel=1e-4)
    m.reset_state()
    assert np.isnan(float(m.result()))  # nothing seen: not a perfect 0 %
    top2 = KM.HeatmapNME(decode="top2")
    top2.update_state(L[:3], P[:3])
    gt, _ = decode_heatmaps(L[:3], "top2")
    pred, _ = decode_heatmaps(P[:3], "top2")
    assert float(top2.result()) == pytest.approx(M.nme(pred, gt).mean, rel=1e-4)
    with pytest.raises(ValueError, match="decode"):
        KM.HeatmapNME(decode="argmax")


def test_training_nme_is_the_evaluated_rule(rng):
    """The logged NME decodes as inference does: on exact Gaussian heatmaps it is the NME
    of the encoded points themselves (DARK recovers them), where top-2 is off."""
    from lponet_tf.codec.decode import DecodeSettings
    from lponet_tf.config import LPONetConfig
    from lponet_tf.metadata import decode_rule
    from lponet_tf.training.objectives import metrics_for

    metric = metrics_for(LPONetConfig(input_size=64))["heatmaps"][0]
    assert metric.decode == DecodeSettings().decode == decode_rule()["decoder"] == "dark"
    gt_pts = rng.uniform(40, 216, size=(3, 68, 2))
    pred_pts = gt_pts + rng.normal(scale=2.0, size=gt_pts.shape)
    by_hand = np.mean(np.linalg.norm(pred_pts - gt_pts, axis=-1), axis=-1) / np.linalg.norm(
        gt_pts[:, 36] - gt_pts[:, 45], axis=-1)
    L, P = encode_heatmaps(gt_pts, 256), 60.0 * encode_heatmaps(pred_pts, 256)
    metric.update_state(L, P)
    assert float(metric.result()) == pytest.approx(100 * by_hand.mean(), abs=2e-3)
    top2 = KM.HeatmapNME(decode="top2")
    top2.update_state(L, P)
    assert abs(float(top2.result()) - 100 * by_hand.mean()) > 0.05


def test_training_nme_leaves_out_landmarks_without_a_target(rng):
    """Points the augmentation moved off the crop have all-zero targets: there is nothing to
    decode, and the training NME is the mean over the others (by hand; it used to count them
    against the corner cell the empty map decodes to). A sample whose eye corner is off has no
    inter-ocular distance and is skipped."""
    gt_pts = rng.uniform(40, 216, size=(3, 68, 2))
    pred_pts = gt_pts + rng.normal(scale=2.0, size=gt_pts.shape)
    gt_pts[0, :5] = [[-30.0, 100.0]] * 5      # jaw points 0-4 off the left edge
    gt_pts[1, 8] = [128.0, 300.0]              # the chin below the crop
    gt_pts[2, 45] = [300.0, 128.0]             # an eye corner off: the sample is skipped
    metric = KM.HeatmapNME()
    metric.update_state(encode_heatmaps(gt_pts, 256), 60.0 * encode_heatmaps(pred_pts, 256))
    on = np.ones((3, 68), bool)
    on[0, :5] = on[1, 8] = False
    err = np.linalg.norm(pred_pts - gt_pts, axis=-1)
    by_hand = [100 * err[i, on[i]].mean() / np.linalg.norm(gt_pts[i, 36] - gt_pts[i, 45]) for i in (0, 1)]
    assert float(metric.result()) == pytest.approx(np.mean(by_hand), abs=2e-3)


def test_pose_metrics_match_numpy(rng):
    R = Rotation.random(6, random_state=3).as_matrix()
    Rhat = (Rotation.from_rotvec(rng.normal(scale=0.2, size=(6, 3))) * Rotation.from_matrix(R)).as_matrix()
    R[5] = 0.0  # missing label
    geo = KM.PoseGeodesic()
    geo.update_state(R, Rhat)
    assert float(geo.result()) == pytest.approx(M.geodesic(Rhat[:5], R[:5]).mean, rel=1e-4)
    geo_deg = KM.PoseGeodesic(degrees=True)
    geo_deg.update_state(R, Rhat, sample_weight=[1, 1, 1, 1, 0, 1])
    assert float(geo_deg.result()) == pytest.approx(np.degrees(M.geodesic(Rhat[:4], R[:4]).mean), rel=1e-4)
    mae = KM.PoseMAE()
    mae.update_state(R, Rhat)
    expected = M.pose_mae(matrix_to_euler(Rhat[:5]), matrix_to_euler(R[:5])).mean
    assert float(mae.result()) == pytest.approx(expected, rel=1e-3)
    e, ehat = rng.uniform(-60, 60, (5, 3)), rng.uniform(-60, 60, (5, 3))
    for angle, i in (("yaw", 0), ("pitch", 1), ("roll", 2)):
        one = KM.PoseMAE(angle=angle, name=f"{angle}_mae")
        one.update_state(e, ehat)
        assert float(one.result()) == pytest.approx(M.pose_mae(ehat, e).per_angle[i], rel=1e-5)
    across = KM.PoseMAE(angle="roll")
    across.update_state([[0.0, 0.0, 179.0], [0.0, 0.0, -170.0]], [[0.0, 0.0, -179.0], [0.0, 0.0, 175.0]])
    assert float(across.result()) == pytest.approx(np.mean([2.0, 15.0]), rel=1e-5)
    with pytest.raises(ValueError):
        KM.PoseMAE(angle="tilt")


@pytest.mark.parametrize("metric, make_target", [
    (KM.HeatmapNME(), lambda rng: np.zeros((3, 16, 16, 68), np.float32)),
    (KM.PoseGeodesic(), lambda rng: np.zeros((3, 3, 3), np.float32)),
    (KM.PoseMAE(), lambda rng: np.zeros((3, 3, 3), np.float32)),
    (KM.MaskIoU(), lambda rng: np.zeros((3, 8, 8, 2), np.float32)),
])
def test_a_metric_that_saw_no_label_reads_nan(rng, metric, make_target):
    """A validation set without pose or mask labels: the metric skipped every sample, and
    reads NaN (it read 0.0: a perfect pose MAE, a zero mIoU nobody measured). Weights of
    zero on labelled samples are the same: nothing counted."""
    y = make_target(rng)
    pred = rng.uniform(0.1, 1.0, y.shape).astype(np.float32)
    metric.reset_state()
    metric.update_state(y, pred)
    assert np.isnan(float(metric.result()))
    y = y + rng.uniform(0.1, 1.0, y.shape).astype(np.float32)
    metric.update_state(y, pred, sample_weight=np.zeros(3, np.float32))
    assert np.isnan(float(metric.result()))
    metric.update_state(y, pred, sample_weight=np.array([0, 1, 0], np.float32))
    assert np.isfinite(float(metric.result()))


def test_mask_iou_matches_numpy(rng):
    gt = rng.integers(0, 2, (5, 8, 8))
    pred_cls = np.where(rng.uniform(size=gt.shape) < 0.3, 1 - gt, gt)
    y = np.eye(2, dtype=np.float32)[gt]
    logits = np.eye(2)[pred_cls] * 2.0 + rng.normal(scale=0.1, size=y.shape)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y[4] = 0.0  # no mask label
    m = KM.MaskIoU()
    m.update_state(y, probs.astype(np.float16))
    assert float(m.result()) == pytest.approx(M.miou(pred_cls[:4], gt[:4]).mean, rel=1e-5)


@pytest.mark.parametrize(
    "metric", [KM.HeatmapNME(eye_indices=(36, 45)), KM.PoseGeodesic(degrees=True), KM.PoseMAE(angle="roll"), KM.MaskIoU()]
)
def test_metric_serialisation_round_trip(metric):
    clone = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(clone) is type(metric)
    assert clone.get_config() == metric.get_config()


def test_metrics_run_inside_keras_evaluate(rng):
    """Graph mode and per-output weighted metrics, as ``fit`` uses them."""
    inp = keras.Input((4,))
    hm = keras.layers.Reshape((8, 8, 68), name="heatmaps")(keras.layers.Dense(8 * 8 * 68)(inp))
    pose = keras.layers.Reshape((3,), name="pose")(keras.layers.Dense(3)(inp))
    model = keras.Model(inp, {"heatmaps": hm, "pose": pose})
    model.compile(
        loss={"heatmaps": HeatmapLoss(), "pose": PoseLoss("mae")},
        weighted_metrics={"heatmaps": [KM.HeatmapNME()], "pose": [KM.PoseMAE()]},
    )
    x = rng.normal(size=(4, 4)).astype(np.float32)
    pts = rng.uniform(0, 31, size=(4, 68, 2))
    y = {"heatmaps": encode_heatmaps(pts, 32), "pose": rng.uniform(-30, 30, (4, 3)).astype(np.float32)}
    w = {"heatmaps": np.array([1, 1, 0, 1], np.float32), "pose": np.array([0, 1, 1, 1], np.float32)}
    out = model.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    gt_xy, _ = decode_heatmaps(y["heatmaps"])
    pr_xy, _ = decode_heatmaps(pred["heatmaps"])
    per = M.nme(pr_xy, gt_xy).per_image
    nme_key = next(k for k in out if k.endswith("nme"))
    mae_key = next(k for k in out if k.endswith("pose_mae"))
    assert out[nme_key] == pytest.approx(np.sum(per * w["heatmaps"]) / 3, rel=1e-3)
    expected_mae = np.sum(M.pose_mae(pred["pose"], y["pose"]).per_image * w["pose"]) / 3
    assert out[mae_key] == pytest.approx(expected_mae, rel=1e-4)
