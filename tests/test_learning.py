"""The real LPONet structure at a tiny width learns all three tasks from partial labels:
synthetic faces whose landmarks, roll and visible-face mask are known, one group without
pose labels and one without mask labels; the losses fall and held-out metrics improve."""
import keras

from lponet_tf.config import LPONetConfig
from lponet_tf.data.pipeline import expand_for_stacks, make_dataset, mix_datasets
from lponet_tf.model import build_lponet
from lponet_tf.training.config import DEFAULTS
from lponet_tf.training.objectives import losses_and_weights, metrics_for
from synthetic_faces import labelled_faces as _faces

CFG = LPONetConfig(input_size=64, channels=16, hourglass_depth=2)


def test_tiny_lponet_learns_three_tasks_from_partial_labels(tmp_path):
    with_pose = _faces(tmp_path / "a", 24, 1, pose=True, mask=False)
    with_mask = _faces(tmp_path / "b", 24, 2, pose=False, mask=True)
    held_out = _faces(tmp_path / "c", 16, 3, pose=True, mask=True)
    train = expand_for_stacks(
        mix_datasets([(with_pose, 1), (with_mask, 1)], 8, seed=0, input_size=CFG,
                     cache="decoded"), CFG.num_stacks)
    val = expand_for_stacks(make_dataset(held_out, CFG, batch_size=8, shuffle=False,
                                         repeat=False, seed=0, cache="decoded"),
                            CFG.num_stacks).cache()

    keras.utils.set_random_seed(0)
    model = build_lponet(CFG)
    losses, weights = losses_and_weights(CFG, DEFAULTS["loss"])
    model.compile(keras.optimizers.Adam(2e-3), loss=losses, loss_weights=weights,
                  weighted_metrics=metrics_for(CFG))
    before = model.evaluate(val, verbose=0, return_dict=True)
    history = model.fit(train, epochs=8, steps_per_epoch=12, verbose=0, shuffle=False).history
    after = model.evaluate(val, verbose=0, return_dict=True)

    for task in ("heatmaps", "pose", "occlusion"):
        curve = history[f"{task}_loss"]
        assert curve[-1] < 0.85 * curve[0], (task, curve)
    assert after["heatmaps_nme"] < 0.8 * before["heatmaps_nme"], (before, after)
    assert after["pose_geodesic"] < before["pose_geodesic"], (before, after)
    assert after["occlusion_miou"] > before["occlusion_miou"], (before, after)
