"""Losses against numpy transcriptions of the paper's equations (Eq. 3-8), written here
independently of the library; serialisation, sample-weight masking, gradients, float16."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import maximum_filter
from scipy.spatial.transform import Rotation

from loss_references import np_geodesic, np_heatmap_loss, np_mae, np_occlusion
from lponet_tf.losses import HeatmapLoss, OcclusionLoss, PoseLoss


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------
def heatmap_batch(rng, n=4, h=16, k=5):
    L = np.zeros((n, h, h, k), np.float32)
    # Gaussian-ish blobs so the 0.2 threshold of the dilated map actually splits pixels.
    yy, xx = np.mgrid[0:h, 0:h]
    for i in range(n):
        for j in range(k):
            cy, cx = rng.uniform(2, h - 3, 2)
            L[i, :, :, j] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0)
    L[L < 0.01] = 0.0
    Lhat = (60.0 * L + rng.normal(scale=5.0, size=L.shape)).astype(np.float32)
    return L, Lhat


def rotations(n, seed):
    return Rotation.random(n, random_state=seed).as_matrix().astype(np.float32)


def occlusion_batch(rng, n=3, h=8):
    labels = rng.integers(0, 2, size=(n, h, h))
    O = np.eye(2, dtype=np.float32)[labels]
    O[0, 0, 0] = [0.3, 0.7]  # a soft pixel
    logits = rng.normal(size=(n, h, h, 2))
    Ohat = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    Ohat[1, 0, 0] = [1.0, 0.0]  # a zero probability on a labelled class: the clip matters
    O[1, 0, 0] = [0.0, 1.0]
    return O, Ohat


def cases(rng):
    L, Lhat = heatmap_batch(rng)
    R, Rhat = rotations(6, 1), rotations(6, 2)
    e, ehat = rng.uniform(-90, 90, (6, 3)).astype(np.float32), rng.uniform(-90, 90, (6, 3)).astype(np.float32)
    O, Ohat = occlusion_batch(rng)
    return [
        (HeatmapLoss(), L, Lhat, np_heatmap_loss(L, Lhat)),
        (HeatmapLoss(omega=30.0), L, Lhat, np_heatmap_loss(L, Lhat, omega=30.0)),
        (HeatmapLoss(weighted=True), L, Lhat, np_heatmap_loss(L, Lhat, weighted=True)),
        (HeatmapLoss(weighted=True, W=3.0), L, Lhat, np_heatmap_loss(L, Lhat, weighted=True, W=3.0)),
        (PoseLoss("geodesic"), R, Rhat, np_geodesic(R, Rhat)),
        (PoseLoss("mae"), e, ehat, np_mae(e, ehat)),
        (PoseLoss("mae"), R, Rhat, np_mae(R, Rhat)),
        (OcclusionLoss(), O, Ohat, np_occlusion(O, Ohat)),
    ]


@pytest.mark.parametrize("idx", range(8))
def test_loss_matches_numpy_equation(idx, rng):
    loss, y, yhat, expected = cases(rng)[idx]
    per_sample = loss.call(tf.constant(y), tf.constant(yhat)).numpy()
    assert per_sample.shape == (len(y),)
    np.testing.assert_allclose(per_sample, expected, rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(float(loss(y, yhat)), expected.mean(), rtol=2e-5, atol=1e-5)


def test_weighted_map_changes_the_loss(rng):
    L, Lhat = heatmap_batch(rng)
    plain, weighted = HeatmapLoss()(L, Lhat), HeatmapLoss(weighted=True)(L, Lhat)
    mask = maximum_filter(L, size=(1, 3, 3, 1)) >= 0.2
    assert 0 < mask.mean() < 0.5  # the case really mixes foreground and background
    assert float(weighted) > float(plain)


def test_geodesic_of_known_angles():
    R = np.stack([np.eye(3)] * 3).astype(np.float32)
    angles = np.array([0.3, 1.2, 2.9])
    Rhat = Rotation.from_rotvec(angles[:, None] * np.array([[0.0, 0.0, 1.0]])).as_matrix().astype(np.float32)
    np.testing.assert_allclose(PoseLoss().call(tf.constant(R), tf.constant(Rhat)).numpy(), angles, atol=1e-5)


@pytest.mark.parametrize("idx", range(8))
def test_serialisation_round_trip(idx, rng):
    loss, y, yhat, _ = cases(rng)[idx]
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(clone) is type(loss)
    assert clone.get_config() == loss.get_config()
    np.testing.assert_allclose(float(clone(y, yhat)), float(loss(y, yhat)), rtol=1e-6)


def test_invalid_pose_kind():
    with pytest.raises(ValueError):
        PoseLoss("quaternion")


@pytest.mark.parametrize("idx", [0, 2, 4, 5, 7])
def test_zero_weight_sample_contributes_nothing(idx, rng):
    loss, y, yhat, expected = cases(rng)[idx]
    n = len(y)
    y = y.copy()
    y[1] = 0.0  # a missing label: zero target (CONVENTIONS.md), zero weight
    weights = np.ones(n, np.float32)
    weights[1] = 0.0
    pred = tf.Variable(yhat)
    with tf.GradientTape() as tape:
        value = loss(tf.constant(y), pred, sample_weight=tf.constant(weights))
    grad = tape.gradient(value, pred).numpy()
    assert np.all(np.isfinite(grad))
    assert not grad[1].any()
    assert np.abs(grad[0]).max() > 0
    # sum_over_batch_size: the others' losses over the batch size.
    others = np.delete(loss.call(tf.constant(y), tf.constant(yhat)).numpy(), 1)
    np.testing.assert_allclose(float(value), others.sum() / n, rtol=1e-5)
    # The masked sample's prediction does not change the value either.
    yhat2 = yhat.copy()
    yhat2[1] = yhat2[1] * 3.0 + 1.0
    np.testing.assert_allclose(float(loss(y, yhat2, sample_weight=weights)), float(value), rtol=1e-6)


def test_geodesic_gradient_finite_at_identical_rotations():
    R = rotations(4, 5)
    pred = tf.Variable(R)
    with tf.GradientTape() as tape:
        value = PoseLoss()(tf.constant(R), pred)
    grad = tape.gradient(value, pred).numpy()
    assert np.all(np.isfinite(grad))
    assert float(value) < 2e-3  # the clamp floor acos(1 - eps)


@pytest.mark.parametrize("idx", range(8))
def test_float16_predictions(idx, rng):
    loss, y, yhat, _ = cases(rng)[idx]
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        ref = float(loss(y, yhat.astype(np.float16).astype(np.float32)))
        value = loss(tf.constant(y), tf.constant(yhat, tf.float16))
        assert value.dtype == tf.float32
        np.testing.assert_allclose(float(value), ref, rtol=1e-5, atol=1e-6)
        # A fresh loss built under the policy computes in float32 too.
        clone = keras.losses.deserialize(keras.losses.serialize(loss))
        assert clone.dtype == "float32"
        assert np.isfinite(float(clone(tf.constant(y, tf.float16), tf.constant(yhat, tf.float16))))
    finally:
        keras.config.set_dtype_policy(policy)


def test_keras_per_output_sample_weights_mask_unlabelled_samples(rng):
    """End to end in Keras' compile / evaluate: per-output sample weights remove a task's
    contribution for the samples without that label."""
    inp = keras.Input((4,))
    pose = keras.layers.Reshape((3,), name="pose")(keras.layers.Dense(3)(inp))
    occ = keras.layers.Reshape((2, 2, 2))(keras.layers.Dense(8)(inp))
    occ = keras.layers.Softmax(name="occlusion")(occ)
    model = keras.Model(inp, {"pose": pose, "occlusion": occ})
    model.compile(loss={"pose": PoseLoss("mae"), "occlusion": OcclusionLoss()}, loss_weights={"pose": 1.0, "occlusion": 10.0})
    x = rng.normal(size=(4, 4)).astype(np.float32)
    y = {"pose": rng.uniform(-30, 30, (4, 3)).astype(np.float32), "occlusion": occlusion_batch(rng, 4, 2)[0]}
    w = {"pose": np.array([1, 1, 0, 0], np.float32), "occlusion": np.array([0, 1, 1, 0], np.float32)}
    pred = model.predict(x, verbose=0)
    expected = (
        np.sum(w["pose"] * np_mae(y["pose"], pred["pose"])) / 4
        + 10.0 * np.sum(w["occlusion"] * np_occlusion(y["occlusion"], pred["occlusion"])) / 4
    )
    result = model.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-4)


def test_weighted_map_includes_the_threshold_value_itself():
    """Eq. 7: M = [dilation of L >= 0.2]. One cell of exactly 0.2, prediction 0, omega 1:
    the 3x3 dilation marks 9 of 16 cells, but only the 0.2 cell has an error, so by hand
    0.2^2 * (W + 1) / 16 = 0.0275 (with '>' the cell is unweighted: 0.0025)."""
    L = np.zeros((1, 4, 4, 1), np.float32)
    L[0, 1, 1, 0] = 0.2
    loss = float(HeatmapLoss(omega=1.0, weighted=True, W=10.0, threshold=0.2)(L, np.zeros_like(L)))
    assert loss == pytest.approx(0.04 * 11 / 16, rel=1e-5)
