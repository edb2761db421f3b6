"""LPONet builder: shapes, variants, serialisation, parameter count."""
import itertools

import keras
import numpy as np
import pytest

from lponet_tf.config import INT_BOUNDS, LPONetConfig
from lponet_tf.errors import ModelConfigError
from lponet_tf.model import (
    LPONet,
    build_lponet,
    inference_model,
    output_names,
    parameter_breakdown,
)

TINY = LPONetConfig(input_size=64, channels=16, num_landmarks=68)

# The five Table-1 rows: baseline, FPF_Full, FPF_Half, FPF_Full+IOAF, FPF_Half+IOAF.
TABLE1 = [("none", False), ("full", False), ("half", False), ("full", True), ("half", True)]


def _image(n=2, size=64, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


@pytest.mark.parametrize(
    "fpf,ioaf,pose", [(f, i, p) for (f, i), p in itertools.product(TABLE1, ("euler", "6d"))]
)
def test_every_ablation_variant_builds_and_runs(fpf, ioaf, pose):
    cfg = TINY.replace(fpf=fpf, ioaf=ioaf, pose=pose)
    model = build_lponet(cfg)
    out = model(_image(), training=False)
    assert sorted(out) == sorted(output_names(2))
    for suffix in ("", "_1"):
        assert out["heatmaps" + suffix].shape == (2, 16, 16, 68)
        occ = np.asarray(out["occlusion" + suffix])
        assert occ.shape == (2, 16, 16, 2)
        np.testing.assert_allclose(occ.sum(-1), 1.0, atol=1e-5)
        pose_out = np.asarray(out["pose" + suffix])
        if pose == "6d":
            assert pose_out.shape == (2, 3, 3)
            eye = np.einsum("nij,nkj->nik", pose_out, pose_out)
            np.testing.assert_allclose(eye, np.broadcast_to(np.eye(3), eye.shape), atol=1e-5)
            np.testing.assert_allclose(np.linalg.det(pose_out), 1.0, atol=1e-5)
        else:
            assert pose_out.shape == (2, 3)


def test_fpf_and_ioaf_change_the_graph():
    """The variants must really differ: FPF adds the fused width, IOAF feeds the mask."""
    base = parameter_breakdown(build_lponet(TINY.replace(fpf="none", ioaf=False)))
    fpf = parameter_breakdown(build_lponet(TINY.replace(fpf="half", ioaf=False)))
    ioaf = parameter_breakdown(build_lponet(TINY.replace(fpf="half", ioaf=True)))
    assert "fpf" not in base and fpf["fpf"] > 0
    assert "fusion" in fpf and "ioaf" in ioaf
    # IOAF's 2 mask channels enter the 2nd hourglass: its first convs grow.
    assert ioaf["hourglass_2"] > fpf["hourglass_2"]


def _inputs_of(model, layer_name):
    """Names of the layers whose outputs feed ``layer_name`` in the functional graph."""
    node = model.get_layer(layer_name)._inbound_nodes[0]
    return [t._keras_history.operation.name for t in node.input_tensors]


@pytest.mark.parametrize("fpf, levels", [("half", [4, 2]), ("full", [4, 3, 2, 1])])
def test_the_wiring_is_the_papers(fpf, levels):
    """Section III read off the graph, not the parameter counts (a rewiring keeps those):
    FPF fuses the decoder maps of the levels it names (half: the 4x4 bottom and the 16x16
    map of a 64x64 hourglass), each upsampled back to the decoder's size; IOAF concatenates
    the fused carry with the stack's occlusion softmax; the pose head pools the bottom (4x4)
    of its own hourglass."""
    cfg = LPONetConfig(input_size=256, channels=16, num_landmarks=68, fpf=fpf, ioaf=True)
    model = build_lponet(cfg)
    grid = cfg.input_size // 4
    for level in levels:
        conv = model.get_layer(f"fpf1_l{level}_conv")
        assert conv.input.shape[1:3] == (grid // 2**level, grid // 2**level), level
        up = model.get_layer(f"fpf1_up{level}")
        assert up.output.shape[1:3] == (grid, grid)
    assert len(_inputs_of(model, "fpf1_concat")) == 1 + len(levels)
    assert _inputs_of(model, "ioaf1_concat") == ["fuse1_add", "occlusion_1"]
    assert isinstance(model.get_layer("occlusion_1"), keras.layers.Softmax)
    for suffix, stack in (("", 2), ("_1", 1)):
        assert _inputs_of(model, f"pose{suffix}_gap") == [f"hg{stack}_bottom_out"]
        assert model.get_layer(f"pose{suffix}_gap").input.shape[1:3] == (grid // 16, grid // 16)


def test_three_stacks_build():
    model = build_lponet(TINY.replace(num_stacks=3))
    out = model(_image(1))
    assert {"heatmaps_1", "heatmaps_2", "heatmaps"} <= set(out)


def test_default_config_is_the_papers_model_within_five_percent():
    model = build_lponet()
    n = model.count_params()
    assert abs(n - 6.8e6) / 6.8e6 < 0.05, n
    parts = parameter_breakdown(model)
    assert sum(parts.values()) == n
    assert set(parts) == {
        "stem", "hourglass_1", "hourglass_2", "fpf", "ioaf",
        "landmark_occlusion_heads", "pose_heads",
    }
    assert model.input_shape == (None, 256, 256, 3)
    out = inference_model(model)(np.zeros((1, 256, 256, 3), "float32"))
    assert out["heatmaps"].shape == (1, 64, 64, 68)
    assert out["pose"].shape == (1, 3, 3)


def test_inference_model_keeps_final_outputs_and_weights():
    model = build_lponet(TINY)
    x = _image()
    full = model(x)
    inf = inference_model(model)
    assert sorted(inf.output_names) == ["heatmaps", "occlusion", "pose"]
    out = inf(x)
    for k in ("heatmaps", "pose", "occlusion"):
        np.testing.assert_allclose(np.asarray(out[k]), np.asarray(full[k]), atol=1e-5)


def test_get_config_round_trip():
    model = build_lponet(TINY.replace(pose="euler", fpf="full"))
    clone = LPONet.from_config(model.get_config())
    assert clone.lponet_config == model.lponet_config
    assert clone.count_params() == model.count_params()
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("pose", ["6d", "euler"])
def test_keras_file_round_trip_safe_mode(tmp_path, pose):
    model = build_lponet(TINY.replace(pose=pose))
    x = _image()
    ref = model(x, training=False)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, LPONet)
    assert loaded.lponet_config == model.lponet_config
    got = loaded(x, training=False)
    for k in ref:
        np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(ref[k]))


def test_no_lambda_layers_and_no_cross_op():
    model = build_lponet(TINY)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec((1, 64, 64, 3), tf.float32)).graph
    ops = {op.type for op in graph.get_operations()}
    assert "Cross" not in ops


def test_mixed_precision_outputs_stay_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_lponet(TINY)
        out = model(_image(1))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for k, v in out.items():
        assert v.dtype == "float32", k


@pytest.mark.parametrize(
    "bad,field", [
        (dict(fpf="quarter"), "fpf"), (dict(pose="quat"), "pose"),
        (dict(input_size=100), "input_size"),
        (dict(channels=12), "channels"),
        (dict(input_size=32, hourglass_depth=1, fpf="half"), "fpf"),
        (dict(input_size=64, hourglass_depth=2, fpf="full"), "fpf"),
        # Sizes a crafted .keras file could use to exhaust memory while the model is built.
        (dict(channels=40000), "channels"), (dict(num_stacks=1000), "num_stacks"),
        (dict(input_size=65536), "input_size"), (dict(num_landmarks=100000), "num_landmarks"),
        (dict(pose_hidden=10**9), "pose_hidden"), (dict(hourglass_depth=30), "hourglass_depth"),
        # Wrong types: a JSON / YAML value that is not what the field means.
        (dict(channels="64"), "channels"), (dict(channels=64.0), "channels"),
        (dict(num_stacks=True), "num_stacks"), (dict(ioaf="no"), "ioaf"), (dict(ioaf=1), "ioaf"),
        (dict(fpf=None), "fpf"), (dict(name="a/b"), "name"), (dict(name="x" * 1000), "name"),
        (dict(name=5), "name"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_config_is_a_clear_error(bad, field):
    with pytest.raises(ModelConfigError) as err:
        LPONetConfig(**bad)
    assert err.value.field == field
    message = str(err.value)
    assert f"LPONetConfig.{field} = " in message and "must be" in message
    assert len(message) < 400  # a megabyte-long crafted value is not echoed in full
    with pytest.raises(ModelConfigError):  # the path a saved model's config takes
        LPONetConfig.from_dict({**LPONetConfig().to_dict(), **bad})


def test_out_of_range_message_names_value_and_allowed_range():
    with pytest.raises(ModelConfigError, match=r"channels = 40000 .*8\.\.512"):
        LPONetConfig(channels=40000)


def test_from_dict_refuses_unknown_fields_and_non_dicts():
    with pytest.raises(ModelConfigError, match="did you mean 'channels'"):
        LPONetConfig.from_dict({"chanels": 64})
    with pytest.raises(ModelConfigError):
        LPONetConfig.from_dict([("channels", 64)])


def test_bounds_cover_the_paper_and_the_presets():
    from lponet_tf.presets import PRESETS

    for preset in PRESETS.values():
        assert LPONetConfig.from_dict(preset.config.to_dict()) == preset.config
    # Newell's 8-stack hourglass at C = 256 and every Table-1 ablation are expressible.
    LPONetConfig(num_stacks=8)
    for fpf, ioaf in TABLE1:
        for pose in ("euler", "6d"):
            LPONetConfig(fpf=fpf, ioaf=ioaf, pose=pose)
    # Every field's own limits are accepted (with the others at values that fit them).
    for field, (lo, hi) in INT_BOUNDS.items():
        for value in (lo, hi):
            other = dict(fpf="none")
            if field == "input_size":
                other["hourglass_depth"] = 1
            if field == "hourglass_depth":
                other["input_size"] = 4 * 2**value
            if field == "channels":
                value = value // 8 * 8
            assert getattr(LPONetConfig(**{field: value}, **other), field) == value


def test_numpy_integers_and_bools_are_normalised():
    cfg = LPONetConfig(channels=np.int64(64), ioaf=np.bool_(False))
    assert type(cfg.channels) is int and cfg.ioaf is False
    assert cfg == LPONetConfig(channels=64, ioaf=False)
