"""The occluder mix per config (paper Section IV-B vs Table 8's LPONet-RP): the training
pipeline a config builds draws only the occluders that config names."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from lponet_tf.config import LPONetConfig
from lponet_tf.data import sample as sample_module
from lponet_tf.training.config import load_config
from synthetic_faces import write_300w_folder, write_face

SMALL = ["model.input_size=64", "model.channels=16", "model.hourglass_depth=2", "train.batch_size=8"]


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """A 300W-format folder (image + .pts) and a C-CM-format folder (images/ + masks/)."""
    w300 = write_300w_folder(tmp_path_factory.mktemp("w300"), 6)
    ccm = tmp_path_factory.mktemp("ccm")
    for i in range(6):
        rec = write_face(ccm / "tmp", f"{i}", seed=40 + i, shape=(160, 200), mask=True)
        for src, folder, name in ((rec.image_path, "images", f"{i}.png"), (rec.mask_path, "masks", f"{i:05d}.png")):
            (ccm / folder).mkdir(exist_ok=True)
            pathlib.Path(src).rename(ccm / folder / name)
    return w300, ccm


def _drawn_kinds(configs, roots, monkeypatch, batches=3):
    """Occluder kinds the config's training pipeline draws over a few batches."""
    from lponet_tf.training.pipelines import train_and_validation_datasets

    w300, ccm = roots
    data = (f"data.train=[{{name: 300w, root: {w300}, ratio: 1, tasks: [landmarks]}}, "
            f"{{name: ccm, root: {ccm}, ratio: 1, tasks: [occlusion]}}]")
    cfg = load_config(configs, SMALL + [data])  # shipped config names
    drawn = []
    real = sample_module.occlude

    def recording(image, visible, landmarks, config, rng, kinds=None):
        out = real(image, visible, landmarks, config, rng, kinds)
        drawn.extend(out)
        return out

    monkeypatch.setattr(sample_module, "occlude", recording)
    train, _ = train_and_validation_datasets(cfg, LPONetConfig.from_dict(cfg["model"]))
    for _ in train.take(batches):
        pass
    return drawn


def test_random_patch_config_builds_a_patch_only_pipeline(roots, monkeypatch):
    drawn = _drawn_kinds(["stage1", "ablation/random_patch"], roots, monkeypatch)
    assert drawn and set(drawn) == {"patch"}


def test_main_recipe_draws_masks_sunglasses_and_hands_but_no_patches(roots, monkeypatch):
    drawn = _drawn_kinds(["stage1"], roots, monkeypatch)
    assert drawn and "patch" not in drawn
    assert {"mask", "sunglasses"} <= set(drawn)  # C-CM faces get them too (placement landmarks)
    assert set(drawn) <= {"mask", "sunglasses", "hand"}


def test_stage_2_and_ablations_inherit_the_mix_and_the_preset_keeps_its_own():
    for name in ("stage2_300w", "stage2_wflw"):
        assert load_config(name)["occlusion"]["patch_weight"] == 0.0
    rp = load_config(["stage2_300w", "ablation/random_patch"])
    assert rp["output_dir"].endswith("random_patch/stage1")  # overridden by --output-dir in stage 2
    assert {k: rp["occlusion"][f"{k}_weight"] for k in ("mask", "sunglasses", "hand", "patch")} == {
        "mask": 0.0, "sunglasses": 0.0, "hand": 0.0, "patch": 1.0}
    # The bundled preset's recipe is untouched: it keeps every occluder (patches included).
    preset = load_config("preset_lite")["occlusion"]
    assert "patch_weight" not in preset or preset["patch_weight"] > 0
    assert np.isclose(preset.get("approx_mask_weight", 0), 1.0)
