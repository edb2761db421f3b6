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
