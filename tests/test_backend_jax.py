"""Keras 3 multi-backend (issue 18): LPONet on JAX, without TensorFlow, agrees with TF.

The Keras backend is fixed per process, so the JAX side runs in a subprocess
(``tests/backend_jax_worker.py``, ``KERAS_BACKEND=jax``) in which ``import tensorflow`` is
blocked; this process is the TensorFlow side. Checked:

- a tiny LPONet built, compiled (jit) and fitted on JAX learns all three tasks from
  partial labels (held-out NME, pose and mask IoU improve), with TensorFlow never imported
  (with a learning rate of 0 the same test fails: NME 94.5 -> 88.4, heatmap loss flat);
- ``lponet_tf.training.train`` runs and resumes on JAX (numpy pipeline);
- the ``.keras`` it saves loads here (TensorFlow, ``safe_mode=True``) and predicts the same;
- a ``.keras`` saved here gives the same forward pass on JAX, in float64 (``JAX_ENABLE_X64``)
  to rounding and in float32 within float32 rounding, at inference and with batch
  statistics (TF's synchronized BatchNorm vs JAX's plain one); the losses and the
  streaming metrics give the same values on the same inputs.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import lponet_tf
from lponet_tf import keras_metrics as KM
from lponet_tf import losses as L
from lponet_tf.geometry import euler_to_matrix
from lponet_tf.heatmaps import encode_heatmaps

pytest.importorskip("jax")

WORKER = pathlib.Path(__file__).with_name("backend_jax_worker.py")


def run_worker(mode: str, folder: pathlib.Path, **env) -> None:
    environ = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", **env}
    proc = subprocess.run([sys.executable, str(WORKER), mode, str(folder)], env=environ,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


@pytest.fixture(scope="module")
def jax_learning(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jax_learn")
    run_worker("learn,trainer", folder)
    return folder, json.loads((folder / "learn.json").read_text())


def test_tiny_lponet_learns_on_jax_without_tensorflow(jax_learning):
    _, report = jax_learning
    assert report["backend"] == "jax" and report["jit"] is True
    assert report["tensorflow_imported"] is False
    history, before, after = report["history"], report["before"], report["after"]
    for task in ("heatmaps", "pose", "occlusion"):
        curve = history[f"{task}_loss"]
        assert np.all(np.isfinite(curve)), (task, curve)
        assert curve[-1] < 0.85 * curve[0], (task, curve)
    assert after["heatmaps_nme"] < 0.8 * before["heatmaps_nme"], (before, after)
    assert after["pose_geodesic"] < before["pose_geodesic"], (before, after)
    assert after["occlusion_miou"] > before["occlusion_miou"], (before, after)


def test_trainer_runs_and_resumes_on_jax_without_tensorflow(jax_learning):
    """lponet_tf.training.train on JAX (numpy pipeline, jit): one epoch, then a second run
    of the same config resumes at step 2 and finishes at 4; its files are written."""
    folder, _ = jax_learning
    report = json.loads((folder / "trainer.json").read_text())
    assert report["tensorflow_imported"] is False
    assert report["steps"] == [2, 4]
    # two data worker threads, one run: the batches of one worker, resumed or not
    assert report["weights_differ_by"] < 1e-6, report["weights_differ_by"]
    assert report["epochs_logged"] == ["0", "1"]
    assert np.all(np.isfinite(report["val_loss"]))
    assert {"model.keras", "last.keras", "best.keras", "training_log.csv", "backup"} <= set(report["files"])
    model = keras.saving.load_model(folder / "run" / "model.keras", safe_mode=True)
    assert set(model.output_names) == {"heatmaps", "pose", "occlusion"}


def test_trainer_on_two_jax_devices_splits_validation_and_takes_train_devices(tmp_path):
    """Two host devices stand in for two GPUs. A last validation batch of 3 faces used to
    stop fit after its first epoch (jax's IndivisibleError); train.devices was ignored
    (every device used); float64 without 64-bit JAX trained in float32 silently. Both
    refusals come before the data is read."""
    run_worker("devices", tmp_path, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_ENABLE_X64="0")
    report = json.loads((tmp_path / "devices.json").read_text())
    assert report["devices"] == ["cpu:0", "cpu:1"]
    both, one = report["both"], report["one"]
    assert "validation: 10 of 11 faces (the last batch must split over 2 devices)" in both["printed"]
    assert len(both["val_loss"]) == 2 and np.all(np.isfinite(both["val_loss"]))
    assert "validation:" not in one["printed"] and np.all(np.isfinite(one["val_loss"]))
    assert "train.devices ['gpu:7']: not devices of this JAX process (cpu:0, cpu:1)" in report["unknown"]
    assert "JAX_ENABLE_X64=1" in report["float64"]


def test_keras_file_saved_on_jax_loads_on_tensorflow(jax_learning):
    folder, _ = jax_learning
    model = keras.saving.load_model(folder / "jax.keras", safe_mode=True)
    assert isinstance(model, lponet_tf.LPONet)
    expected = dict(np.load(folder / "jax_predictions.npz"))
    got = model.predict(expected.pop("x"), verbose=0)
    assert set(got) == set(expected)
    for name, value in expected.items():
        scale = max(1.0, float(np.abs(value).max()))
        np.testing.assert_allclose(got[name], value, atol=2e-5 * scale, err_msg=name)


@pytest.fixture(scope="module")
def parity_outputs(tmp_path_factory):
    """TF side: a tiny 2-stack model with non-trivial BatchNorm statistics, saved; its
    outputs in float64 and float32; targets and predictions for the losses / metrics."""
    folder = tmp_path_factory.mktemp("parity")
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = lponet_tf.build_lponet(channels=8, input_size=32, hourglass_depth=2, num_stacks=2)
    for layer in model.layers:  # moving statistics away from (0, 1): inference uses them
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.2, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype("float32"))
    model.save(folder / "tf.keras")
    x = rng.uniform(0, 255, (4, 32, 32, 3))
    tf_out = {}
    try:
        for precision in ("float64", "float32"):
            keras.config.set_floatx(precision)
            keras.mixed_precision.set_global_policy(precision)
            loaded = keras.saving.load_model(folder / "tf.keras", safe_mode=True, compile=False)
            for k, v in loaded(x.astype(precision), training=False).items():
                tf_out[f"{precision}/infer/{k}"] = np.asarray(v)
            for k, v in loaded(x.astype(precision), training=True).items():
                tf_out[f"{precision}/train/{k}"] = np.asarray(v)
    finally:
        keras.config.set_floatx("float32")
        keras.mixed_precision.set_global_policy("float32")
    pred = {k: tf_out[f"float32/infer/{k}"] for k in ("heatmaps", "pose", "occlusion")}
    pose = euler_to_matrix(rng.uniform(-40, 40, (4, 3))).astype("float32")
    pose[1] = 0.0  # a face without a pose label
    occlusion = np.eye(2, dtype="float32")[rng.integers(0, 2, (4, 8, 8))]
    occlusion[2] = 0.0  # ... without a mask label
    inputs = {
        "x": x, "weights": np.array([1.0, 0.0, 1.0, 1.0], "float32"),
        "y_heatmaps": encode_heatmaps(rng.uniform(2, 29, (4, 68, 2)), 32), "p_heatmaps": pred["heatmaps"],
        "y_pose": pose, "p_pose": pred["pose"], "y_occlusion": occlusion, "p_occlusion": pred["occlusion"],
    }
    np.savez(folder / "inputs.npz", **inputs)
    sw = inputs["weights"]
    for name, loss, t in (("heatmap_weighted", L.HeatmapLoss(weighted=True, normalize="labelled"), "heatmaps"),
                          ("pose_geodesic", L.PoseLoss("geodesic"), "pose"),
                          ("pose_mae", L.PoseLoss("mae", normalize="labelled"), "pose"),
                          ("occlusion", L.OcclusionLoss(), "occlusion")):
        tf_out[f"loss/{name}"] = np.asarray(loss(inputs[f"y_{t}"], inputs[f"p_{t}"], sample_weight=sw))
    for name, metric, t in (("nme", KM.HeatmapNME(), "heatmaps"), ("geodesic", KM.PoseGeodesic(), "pose"),
                            ("pose_mae", KM.PoseMAE(), "pose"), ("miou", KM.MaskIoU(), "occlusion")):
        metric.update_state(inputs[f"y_{t}"], inputs[f"p_{t}"], sample_weight=sw)
        tf_out[f"metric/{name}"] = np.asarray(metric.result())
    run_worker("parity", folder, JAX_ENABLE_X64="1")
    jax_out = dict(np.load(folder / "jax_outputs.npz"))
    assert not bool(jax_out.pop("tensorflow_imported"))
    return tf_out, jax_out


def test_forward_pass_float64_identical_across_backends(parity_outputs):
    tf_out, jax_out = parity_outputs
    keys = [k for k in tf_out if k.startswith("float64/")]
    assert len(keys) == 12  # 2 modes x 6 outputs (2 stacks)
    for key in keys:
        print(key, float(np.abs(jax_out[key] - tf_out[key]).max()))  # for the notes (pytest -s)
        assert jax_out[key].dtype == np.float64, key
        scale = max(1.0, float(np.abs(tf_out[key]).max()))
        # Not 1e-12: TensorFlow's bilinear resize (the FPF upsampling) computes in float32
        # even for float64 input, so float32 rounding enters the TF side there (measured
        # up to 8e-7 on values ~2); a real difference in the maths (BatchNorm, the
        # Gram-Schmidt, IOAF) is orders of magnitude larger.
        np.testing.assert_allclose(jax_out[key], tf_out[key], rtol=0, atol=1e-5 * scale, err_msg=key)


def test_forward_pass_float32_within_rounding_across_backends(parity_outputs):
    tf_out, jax_out = parity_outputs
    for key in [k for k in tf_out if k.startswith("float32/")]:
        print(key, float(np.abs(jax_out[key] - tf_out[key]).max()))  # for the notes (pytest -s)
        scale = max(1.0, float(np.abs(tf_out[key]).max()))
        # float32 rounding, amplified through ~40 conv-BN layers (batch statistics: TF's
        # synchronized BatchNorm computes the variance as E[x^2] - E[x]^2).
        np.testing.assert_allclose(jax_out[key], tf_out[key], rtol=0, atol=1e-3 * scale, err_msg=key)
        assert not np.array_equal(tf_out[key], 0 * tf_out[key]), key


def test_losses_and_metrics_identical_across_backends(parity_outputs):
    tf_out, jax_out = parity_outputs
    keys = [k for k in tf_out if k.startswith(("loss/", "metric/"))]
    assert len(keys) == 8
    for key in keys:
        assert np.isfinite(tf_out[key]) and tf_out[key] != 0, key
        np.testing.assert_allclose(jax_out[key], tf_out[key], rtol=2e-6, atol=1e-7, err_msg=key)
