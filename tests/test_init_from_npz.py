"""`init_from` with a preset's .npz archive (how the bundled lponet_lite is fine-tuned,
lponet_tf/configs/preset_lite_finetune.yaml): every layer in the archive is loaded into the
training model by name, the layers it lacks (the first stack's pose head, absent from the
inference model the archive holds) keep their initialisation."""
import numpy as np

from lponet_tf.config import LPONetConfig
from lponet_tf.model import build_lponet, inference_model
from lponet_tf.presets import save_npz_weights
from lponet_tf.training.trainer import _init_weights


def test_npz_archive_initialises_the_training_model_by_name(tmp_path):
    cfg = LPONetConfig(input_size=64, channels=16)
    source = inference_model(build_lponet(cfg))
    path = tmp_path / "w.weights.npz"
    save_npz_weights(source, path)
    stored = dict(np.load(path))

    target = build_lponet(cfg)  # training model: with the intermediate heads
    before = {l.name: [w.numpy().copy() for w in l.weights] for l in target.layers}
    _init_weights(target, str(path))
    loaded = kept = 0
    for layer in target.layers:
        if not layer.weights:
            continue
        keys = [f"{layer.name}/{w.name}" for w in layer.weights]
        if all(k in stored for k in keys):
            for k, w in zip(keys, layer.weights):
                np.testing.assert_array_equal(w.numpy(), stored[k].astype("float32"))
            loaded += 1
        else:  # not in the archive: untouched
            for old, w in zip(before[layer.name], layer.weights):
                np.testing.assert_array_equal(w.numpy(), old)
            kept += 1
    assert loaded == len([l for l in source.layers if l.weights])
    assert kept >= 1  # the first stack's pose head


def test_an_init_file_that_fits_nothing_or_is_not_a_model_is_refused(tmp_path):
    import pytest

    from lponet_tf.training.config import ConfigError

    other = inference_model(build_lponet(LPONetConfig(input_size=64, channels=16)))
    path = tmp_path / "other.weights.npz"
    save_npz_weights(other, path)
    target = build_lponet(LPONetConfig(input_size=64, channels=24))  # another width
    with pytest.raises(ConfigError, match=r"only \d+ of this model's \d+ layers fit it"):
        _init_weights(target, str(path))
    fake = tmp_path / "photo.keras"
    fake.write_bytes(b"\xff\xd8\xff\xe0 not a zip")
    with pytest.raises(ConfigError, match=r"photo\.keras: not a model or weights file"):
        _init_weights(target, str(fake))
    junk = tmp_path / "junk.npz"
    junk.write_text("junk")
    with pytest.raises(ConfigError, match=r"junk\.npz: not a model or weights file"):
        _init_weights(target, str(junk))
    with pytest.raises(ConfigError, match="not found"):
        _init_weights(target, str(tmp_path / "missing.keras"))
    assert _init_weights(build_lponet(LPONetConfig(input_size=64, channels=16)), str(path)) > 0


def test_preset_prefix_names_the_bundled_weights_wherever_installed(tmp_path, monkeypatch):
    import pytest

    from lponet_tf.presets import PresetError, get_preset
    from lponet_tf.training.config import ConfigError
    from lponet_tf.training.trainer import init_from_path

    monkeypatch.chdir(tmp_path)  # not the repository: a relative path would not be found
    assert init_from_path("preset:lponet_lite") == get_preset("lponet_lite").weights_path
    with pytest.raises(PresetError, match="unknown preset 'lponet_lit'"):
        init_from_path("preset:lponet_lit")
    with pytest.raises(ConfigError, match="the preset has no bundled weights"):
        init_from_path("preset:lponet_paper")
    with pytest.raises(ConfigError, match="relative paths are from the folder lponet train runs"):
        init_from_path("lponet_tf/presets/weights/lponet_lite.weights.npz")
    # the bundled weights load into the training model of the preset's architecture
    target = build_lponet(get_preset("lponet_lite").config)
    assert _init_weights(target, "preset:lponet_lite") >= len(target.layers) // 2
