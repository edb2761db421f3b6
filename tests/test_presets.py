"""Presets: registry, bundled float16 weights, errors."""
import numpy as np
import pytest

import lponet_tf
from lponet_tf.config import LPONetConfig
from lponet_tf.model import build_lponet, inference_model
from lponet_tf.presets import (
    PRESETS, PresetError, from_preset, get_preset, list_presets, load_npz_weights,
    save_npz_weights,
)


def test_registry_has_lite_and_paper():
    assert {"lponet_lite", "lponet_paper"} <= set(PRESETS)
    assert get_preset("lponet_paper").config.replace(name="lponet") == LPONetConfig()
    lite = get_preset("lponet_lite").config
    assert (lite.fpf, lite.ioaf, lite.pose) == ("half", True, "6d")
    # Mobile-sized: its full-int8 time per face is measured in benchmarks/ (make bench).
    assert lite.input_size <= 160 and lite.channels <= 128
    assert set(list_presets()) == set(PRESETS)
    with pytest.raises(PresetError, match="unknown preset"):
        get_preset("nope")


def test_paper_preset_is_architecture_only():
    with pytest.raises(PresetError, match="no bundled weights"):
        from_preset("lponet_paper")
    model = from_preset("lponet_paper", load_weights=False)
    assert abs(model.count_params() - 6.8e6) / 6.8e6 < 0.05


def test_npz_weights_round_trip_in_float16(tmp_path):
    import keras

    keras.utils.set_random_seed(0)  # a fixed model: the bound below is not a draw
    cfg = LPONetConfig(input_size=64, channels=16)
    src = inference_model(build_lponet(cfg))
    path = tmp_path / "w.npz"
    save_npz_weights(src, path)
    dst = inference_model(build_lponet(cfg))
    assert load_npz_weights(dst, path) == len(dst.weights)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    a, b = src(x), dst(x)
    # float16 storage: outputs agree to float16 precision of the weights (2^-11 relative per
    # weight; heatmaps reach ~30, where 0.02 absolute was once exceeded by 0.0006).
    np.testing.assert_allclose(np.asarray(b["heatmaps"]), np.asarray(a["heatmaps"]),
                               rtol=2e-3, atol=2e-2)
    np.testing.assert_allclose(np.asarray(b["pose"]), np.asarray(a["pose"]), atol=5e-3)
    other = inference_model(build_lponet(cfg.replace(channels=24)))
    with pytest.raises(ValueError):
        load_npz_weights(other, path)


def test_lite_preset_loads_every_bundled_weight():
    """Every variable of the built model holds the value the committed archive stores for
    it (read here with numpy, keyed ``layer/variable``), and no stored array is left over."""
    preset = get_preset("lponet_lite")
    assert preset.has_weights, "the lponet_lite weights are committed"
    model = lponet_tf.from_preset("lponet_lite")
    assert sorted(model.output_names) == ["heatmaps", "occlusion", "pose"]
    with np.load(preset.weights_path) as archive:
        stored = {key: archive[key] for key in archive.files}
    loaded = set()
    for layer in model.layers:
        for variable in layer.weights:
            key = f"{layer.name}/{variable.name}"
            assert key in stored, key
            np.testing.assert_array_equal(np.asarray(variable.numpy()),
                                          stored[key].astype(np.float32), err_msg=key)
            loaded.add(key)
    assert loaded == set(stored)
    assert sum(stored[k].size for k in loaded) == model.count_params()
