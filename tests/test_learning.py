"""The real LPONet structure at a tiny width learns all three tasks from partial labels:
synthetic faces whose landmarks, roll and visible-face mask are known, one group without
pose labels and one without mask labels; the losses fall and held-out metrics improve."""
import keras
import numpy as np

from lponet_tf.config import LPONetConfig
from lponet_tf.data.pipeline import expand_for_stacks, make_dataset, mix_datasets
from lponet_tf.data.records import FaceRecord
from lponet_tf.geometry import euler_to_matrix
from lponet_tf.model import build_lponet
from lponet_tf.training.config import DEFAULTS
from lponet_tf.training.objectives import losses_and_weights, metrics_for
from synthetic_faces import draw_face, template_68

import cv2

CFG = LPONetConfig(input_size=64, channels=16, hourglass_depth=2)


def _faces(folder, n, seed, pose: bool, mask: bool):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        roll = float(rng.uniform(-25, 25))
        lm = template_68(60 + rng.uniform(-6, 6), 60 + rng.uniform(-6, 6),
                         size=rng.uniform(55, 70), roll_deg=roll)
        img = draw_face((120, 120), lm, seed * 1000 + i)
        path = folder / f"f{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        mask_path = None
        if mask:
            m = np.zeros((120, 120), np.uint8)
            cv2.fillConvexPoly(m, cv2.convexHull(np.round(lm).astype(np.int32)), 255)
            mask_path = folder / f"f{i}_mask.png"
            cv2.imwrite(str(mask_path), m)
        out.append(FaceRecord(str(path), landmarks=lm,
                              pose=euler_to_matrix([0.0, 0.0, roll]) if pose else None,
                              mask_path=mask_path, dataset="synthetic"))
    return out


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
