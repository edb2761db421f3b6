"""Keras-native use: compile() defaults, the README's "Train on your own faces" block, and
saved models that reload with safe_mode=True after `import lponet_tf` alone (fresh
processes, which also check that `import lponet_tf` does not import TensorFlow)."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import lponet_tf
from lponet_tf import losses as L
from lponet_tf import keras_metrics as M
from synthetic_faces import write_face

REPO = pathlib.Path(__file__).resolve().parents[1]
TINY = dict(channels=16, input_size=64, num_stacks=2)


def test_compile_without_arguments_sets_the_papers_training():
    model = lponet_tf.build_lponet(**TINY)
    model.compile()
    # Paper Eq. 9 / Section IV-B: alpha = beta = 1, gamma = 10, omega = 60, RMSprop 1e-4.
    expected_weight = {"heatmaps": 1.0, "pose": 1.0, "occlusion": 10.0}
    assert set(model.loss) == set(model.output_names) == {
        "heatmaps", "pose", "occlusion", "heatmaps_1", "pose_1", "occlusion_1"}
    compiled = model._compile_config.config  # what Keras was given (and saves)
    for name in model.output_names:
        task = name.split("_")[0]
        assert compiled["loss_weights"][name] == expected_weight[task]
        kind = {"heatmaps": L.HeatmapLoss, "pose": L.PoseLoss, "occlusion": L.OcclusionLoss}[task]
        assert isinstance(model.loss[name], kind)
    assert model.loss["heatmaps"].get_config()["omega"] == 60.0
    assert model.loss["pose"].get_config()["kind"] == "geodesic"
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    lr = model.optimizer.learning_rate
    assert float(keras.ops.convert_to_numpy(lr)) == pytest.approx(1e-4)
    # weighted: a face without a label (weight 0) does not count in its metric
    weighted = compiled["weighted_metrics"]
    assert isinstance(weighted["heatmaps"][0], M.HeatmapNME)
    assert isinstance(weighted["occlusion"][0], M.MaskIoU)


def test_compile_keeps_what_the_caller_passes():
    model = lponet_tf.build_lponet(**TINY, include_intermediate=False)
    model.compile(optimizer="adam", loss={"heatmaps": "mse", "pose": "mse", "occlusion": "mse"})
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.loss == {"heatmaps": "mse", "pose": "mse", "occlusion": "mse"}
    assert model._compile_config.config["loss_weights"] is None


def _readme_block(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, f"README section {title!r} should hold one python block"
    return blocks[0]


def _shrink(code: str, replacements) -> str:
    for old, new in replacements:
        assert old in code, f"README block no longer contains {old!r}"
        code = code.replace(old, new)
    return code


@pytest.fixture(scope="module")
def readme_training(tmp_path_factory):
    """The README block run once (tiny sizes): its namespace and folder. Its saved model is
    compiled with the default (custom) losses and metrics, so the reload tests use it."""
    folder = tmp_path_factory.mktemp("readme")
    faces = [write_face(folder / "faces", f"face_{i}", seed=i) for i in range(4)]
    code = _shrink(_readme_block("Train on your own faces"), [
        ("channels=64", "channels=16"), ("input_size=128", "input_size=64"),
        ("batch_size=8", "batch_size=2"), ("steps_per_epoch=100", "steps_per_epoch=2")])
    namespace = {"my_faces": [(r.image_path, r.landmarks) for r in faces]}
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(code, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace, folder


def test_readme_train_on_your_own_faces_runs(readme_training):
    namespace, folder = readme_training
    history = namespace["model"].history.history
    assert np.isfinite(history["loss"]).all() and len(history["loss"]) == 1
    # one loss per output of the two-stack model (deep supervision) was trained
    assert {"heatmaps_1_loss", "occlusion_loss", "pose_loss"} <= set(history)
    reloaded = keras.saving.load_model(folder / "my_lponet.keras", safe_mode=True)
    assert isinstance(reloaded.loss["heatmaps"], L.HeatmapLoss)  # the compile state came back
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0)["heatmaps"],
                               namespace["model"].predict(x, verbose=0)["heatmaps"], atol=1e-5)


def _fresh(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=str(REPO.parent), timeout=240)


_LOAD = """
m = keras.saving.load_model({path!r}, safe_mode=True)
assert type(m).__name__ == "LPONet", type(m)
assert type(m.loss["heatmaps"]).__name__ == "HeatmapLoss", m.loss
print("OK")
"""


@pytest.mark.parametrize("order", ["lponet_tf first", "keras first"])
def test_saved_model_reloads_after_import_lponet_tf_alone(readme_training, order):
    if order == "lponet_tf first":
        head = ("import sys\nimport lponet_tf\n"
                "assert 'tensorflow' not in sys.modules, 'import lponet_tf imported TensorFlow'\n"
                "assert 'keras' not in sys.modules\nimport keras\n")
    else:
        head = "import keras\nimport lponet_tf\n"
    done = _fresh(head + _LOAD.format(path=str(readme_training[1] / "my_lponet.keras")))
    assert done.returncode == 0 and "OK" in done.stdout, done.stderr[-3000:]


def _tiny_batch(n=2, size=64):
    from lponet_tf.heatmaps import encode_heatmaps

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (n, size, size, 3)).astype("float32")
    y = {"heatmaps": encode_heatmaps(rng.uniform(10, size - 10, (n, 68, 2)), size).astype("float32"),
         "pose": np.tile(np.eye(3, dtype="float32"), (n, 1, 1)),
         "occlusion": np.full((n, size // 4, size // 4, 2), 0.5, "float32")}
    return x, y


def test_a_keras_file_keeps_frozen_layers_and_the_optimizer_state(tmp_path):
    """Fine-tuning with the stem frozen, saved and loaded, goes on exactly as in memory
    (the reloaded model had every layer trainable again, so Keras dropped the optimizer's
    state and one more step moved the weights by up to 2.4)."""
    x, y = _tiny_batch()
    model = lponet_tf.build_lponet(include_intermediate=False, hourglass_depth=2, pose_hidden=16, **TINY)
    frozen = [layer.name for layer in model.layers if layer.name.startswith("stem") and layer.weights]
    for name in frozen:
        model.get_layer(name).trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert [n for n in frozen if loaded.get_layer(n).trainable] == []
    assert len(loaded.trainable_weights) == len(model.trainable_weights)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 1
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    loaded.fit(x, y, batch_size=2, epochs=1, verbose=0)
    # Within two Adam steps' size (lr 1e-3): a thread-order difference in a near-zero
    # gradient can flip an element's step (seen once: 9e-5 under load); lost state moved 2.4.
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-3, err_msg=a.path)


def test_a_keras_file_keeps_the_heatmap_scale_of_its_training(tmp_path):
    """omega is the scale of the landmark scores (peak / omega): a model trained with 30
    reported its scores on 60's scale once saved (the compiled loss is not read back by
    runtimes, which load with compile=False)."""
    from lponet_tf.metadata import training_heatmap_scale
    from lponet_tf.model import inference_model

    model = lponet_tf.build_lponet(hourglass_depth=2, pose_hidden=16, **TINY)
    model.compile(loss={n: L.HeatmapLoss(omega=30.0) if n.startswith("heatmaps") else None
                        for n in model.output_names})
    for name, m in (("train", model), ("inference", inference_model(model))):
        m.save(tmp_path / f"{name}.keras")
        again = keras.saving.load_model(tmp_path / f"{name}.keras", safe_mode=True, compile=False)
        assert training_heatmap_scale(again) == 30.0, name
    plain = lponet_tf.build_lponet(include_intermediate=False, hourglass_depth=2, pose_hidden=16, **TINY)
    plain.save(tmp_path / "plain.keras")  # never compiled: no scale to keep
    assert training_heatmap_scale(keras.saving.load_model(tmp_path / "plain.keras", compile=False)) is None


def test_a_keras_file_keeps_its_mixed_precision_policy(tmp_path):
    x, y = _tiny_batch()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = lponet_tf.build_lponet(include_intermediate=False, hourglass_depth=2, pose_hidden=16, **TINY)
        model.compile(optimizer="adam")
    finally:
        keras.config.set_dtype_policy("float32")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left alone
    assert loaded.get_layer("stem_conv_conv").dtype_policy.name == "mixed_float16"
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__ == "LossScaleOptimizer"
    np.testing.assert_allclose(loaded.predict(x, verbose=0)["heatmaps"],
                               model.predict(x, verbose=0)["heatmaps"], atol=1e-6)


def test_another_landmark_count_trains_without_the_ibug_nme():
    """num_landmarks is configurable: compile() and fit() work with 29 heatmaps (the default
    NME normalises by iBUG-68's eye corners 36 / 45: it failed inside fit with a raw
    StridedSlice error), and HeatmapNME says what to pass instead."""
    from lponet_tf.heatmaps import encode_heatmaps

    model = lponet_tf.build_lponet(include_intermediate=False, hourglass_depth=2, pose_hidden=16,
                                   num_landmarks=29, **TINY)
    model.compile()
    x, y = _tiny_batch()
    y["heatmaps"] = encode_heatmaps(np.random.default_rng(1).uniform(10, 54, (2, 29, 2)), 64).astype("float32")
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and not any("nme" in k for k in history)
    with pytest.raises(ValueError, match=r"eye_indices \(36, 45\) are not landmarks of these 29-channel"):
        M.HeatmapNME().update_state(y["heatmaps"], y["heatmaps"])
    nme = M.HeatmapNME(eye_indices=(3, 20))
    nme.update_state(y["heatmaps"], y["heatmaps"])
    assert float(nme.result()) == pytest.approx(0.0, abs=1e-6)


def test_metadata_of_a_model_trained_with_omega_30_decodes_on_that_scale():
    from lponet_tf.metadata import ModelMetadata

    model = lponet_tf.build_lponet(hourglass_depth=2, pose_hidden=16, channels=16,
                                   input_size=64, num_stacks=2)
    assert ModelMetadata.from_model(model).decode["heatmap_scale"] == 60.0  # not compiled
    model.compile(loss={n: L.HeatmapLoss(omega=30.0) if n.startswith("heatmaps") else None
                        for n in model.output_names})
    assert ModelMetadata.from_model(model).decode["heatmap_scale"] == 30.0
