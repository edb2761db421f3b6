"""Training configs: inheritance, overrides, data roots, the committed recipes."""
import pathlib

import pytest

from lponet_tf.config import LPONetConfig
from lponet_tf.training.config import ConfigError, load_config
from lponet_tf.training.datasets import holdout_split, photo_key
from lponet_tf.data.records import FaceRecord

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "training" / "configs"


def test_stage_configs_carry_the_papers_recipe():
    s1 = load_config(CONFIGS / "stage1.yaml")
    assert [e["name"] for e in s1["data"]["train"]] == ["300w_lp", "ccm"]
    assert [e["ratio"] for e in s1["data"]["train"]] == [1, 1]
    assert (s1["loss"]["alpha"], s1["loss"]["beta"], s1["loss"]["gamma"]) == (1.0, 1.0, 10.0)
    assert s1["loss"]["omega"] == 60.0 and s1["loss"]["weighted"] is False
    assert s1["optimizer"]["name"] == "rmsprop"
    assert s1["optimizer"]["learning_rate"] == 1e-4
    assert s1["optimizer"]["decay_steps"] == [30000] and s1["optimizer"]["decay_values"] == [1e-5]
    assert s1["train"]["steps"] == 40000 and s1["train"]["batch_size"] == 64
    assert LPONetConfig.from_dict(s1["model"]) == LPONetConfig()
    for name, landmark_set in (("stage2_300w.yaml", "300w"), ("stage2_wflw.yaml", "wflw")):
        s2 = load_config(CONFIGS / name)
        assert [e["name"] for e in s2["data"]["train"]] == [landmark_set, "300w_lp", "ccm"]
        assert [e["ratio"] for e in s2["data"]["train"]] == [4, 3, 3]
        assert (s2["loss"]["alpha"], s2["loss"]["beta"], s2["loss"]["gamma"]) == (0.1, 0.1, 40.0)
        assert s2["loss"]["weighted"] is True
        assert s2["init_from"].endswith("stage1/last.keras")
        assert s2["optimizer"] == s1["optimizer"]  # inherited through `base:`


@pytest.mark.parametrize(
    "variant,fpf,ioaf,pose",
    [("baseline", "none", False, "6d"), ("fpf_full", "full", False, "6d"),
     ("fpf_half", "half", False, "6d"), ("fpf_full_ioaf", "full", True, "6d"),
     ("fpf_half_ioaf", "half", True, "6d"), ("pose_euler", "none", False, "euler"),
     ("pose_6d", "none", False, "6d")],
)
def test_ablation_variants_lay_over_a_stage(variant, fpf, ioaf, pose):
    cfg = load_config([CONFIGS / "stage2_wflw.yaml", CONFIGS / "ablation" / f"{variant}.yaml"])
    model = LPONetConfig.from_dict(cfg["model"])
    assert (model.fpf, model.ioaf, model.pose) == (fpf, ioaf, pose)
    assert cfg["loss"]["gamma"] == 40.0  # the stage's values survive
    assert variant in cfg["output_dir"]


def test_overrides_and_data_roots(tmp_path):
    cfg = load_config(
        CONFIGS / "stage1.yaml",
        ["train.steps=12", "model.channels=64", "loss.weighted=true"],
        {"ccm": str(tmp_path)},
    )
    assert cfg["train"]["steps"] == 12
    assert cfg["model"]["channels"] == 64 and cfg["loss"]["weighted"] is True
    assert cfg["data"]["train"][1]["root"] == str(tmp_path.resolve())
    with pytest.raises(ConfigError, match="no dataset 'wflw'"):
        load_config(CONFIGS / "stage1.yaml", data_roots={"wflw": "/x"})
    with pytest.raises(ConfigError, match="key.path=value"):
        load_config(CONFIGS / "stage1.yaml", ["train.steps"])


def test_bad_config_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {channels: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(loop)


def test_relative_roots_resolve_against_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    cfg_file = tmp_path / "sub" / "c.yaml"
    cfg_file.write_text("data:\n  train:\n    - {name: 300w, root: ../faces}\n")
    cfg = load_config(cfg_file)
    assert cfg["data"]["train"][0]["root"] == str((tmp_path / "faces").resolve())


def test_holdout_split_groups_faces_of_one_photo_and_is_stable():
    recs = [FaceRecord(f"/d/img{i // 3}_{i % 3 + 1}.jpg") for i in range(300)]
    assert photo_key(recs[4]) == "img1"
    train = holdout_split(recs, 0.2, seed=3, part="train")
    val = holdout_split(recs, 0.2, seed=3, part="val")
    assert len(train) + len(val) == 300
    assert not {photo_key(r) for r in train} & {photo_key(r) for r in val}
    assert 0.1 < len(val) / 300 < 0.3
    # Stable: independent of order, different for another seed.
    assert [r.image_path for r in holdout_split(recs[::-1], 0.2, 3, "val")][::-1] == [
        r.image_path for r in val]
    assert holdout_split(recs, 0.2, seed=4, part="val") != val


def test_a_global_batch_that_does_not_split_over_the_replicas_is_refused():
    from types import SimpleNamespace

    from lponet_tf.training.distribute import check_batch_split

    check_batch_split(SimpleNamespace(num_replicas_in_sync=2), 64)
    with pytest.raises(ConfigError, match="batch_size=6 does not split over 4 replicas"):
        check_batch_split(SimpleNamespace(num_replicas_in_sync=4), 6)


def test_precision_policies_float64_makes_every_weight_double_and_unknown_names_fail():
    import keras

    from lponet_tf.model import build_lponet
    from lponet_tf.training.trainer import _set_precision

    tiny = LPONetConfig(input_size=32, channels=8, hourglass_depth=2)
    try:
        _set_precision("float64")
        assert {w.dtype for w in build_lponet(tiny).weights} == {"float64"}
        _set_precision("mixed_bfloat16")  # heads stay in the variable dtype, float32
        model = build_lponet(tiny)
        assert {w.dtype for w in model.weights} == {"float32"}
        assert model.get_layer("pose").compute_dtype == "float32"
        with pytest.raises(ConfigError, match="mixed_precision must be one of"):
            _set_precision("bfloat16")
    finally:
        _set_precision(None)
    assert keras.config.floatx() == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_data_root_flags_parse_to_a_mapping_and_a_bad_one_names_itself():
    from lponet_tf.training.config import parse_data_roots

    assert parse_data_roots(["300w=/data/300W", "ccm=/d/a=b"]) == {"300w": "/data/300W", "ccm": "/d/a=b"}
    with pytest.raises(ConfigError, match="'300w': expected NAME=PATH"):
        parse_data_roots(["300w"])
