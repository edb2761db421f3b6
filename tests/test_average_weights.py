"""scripts/average_weights.py: the element-wise mean of preset-architecture weights."""

import numpy as np
import pytest

from script_modules import load_script


def _script():
    return load_script("scripts/average_weights.py")


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """Two archives of the lponet_lite architecture: the bundled weights, and the same with
    every variable times -0.5 plus 0.25 (BatchNorm variances kept positive)."""
    from lponet_tf.presets import from_preset, save_npz_weights

    folder = tmp_path_factory.mktemp("avg")
    model = from_preset("lponet_lite")
    save_npz_weights(model, folder / "a.npz")
    for layer in model.layers:
        layer.set_weights([np.abs(w) + 0.25 if "variance" in v.path else -0.5 * w + 0.25
                           for w, v in zip(layer.get_weights(), layer.weights)])
    save_npz_weights(model, folder / "b.npz")
    return folder


def test_the_mean_of_two_archives_is_elementwise(archives):
    out = archives / "mean.npz"
    assert _script().main([str(archives / "a.npz"), str(archives / "b.npz"), "--output", str(out)]) == 0
    with np.load(archives / "a.npz") as a, np.load(archives / "b.npz") as b, np.load(out) as m:
        assert sorted(m.files) == sorted(a.files)
        for key in a.files:
            want = (a[key].astype(np.float32) + b[key].astype(np.float32)) / 2
            assert m[key].dtype == a[key].dtype, key  # fp16, BatchNorm statistics float32
            np.testing.assert_allclose(m[key].astype(np.float32), want, rtol=2e-3, atol=1e-4,
                                       err_msg=key)


def test_an_existing_output_or_an_input_as_output_is_refused(archives, capsys):
    a = archives / "a.npz"
    before = a.read_bytes()
    for output in (a, archives / "b.npz"):
        with pytest.raises(SystemExit) as exc:
            _script().main([str(a), "--output", str(output)])
        assert exc.value.code == 2
        assert str(output) in capsys.readouterr().err
    assert a.read_bytes() == before
    with pytest.raises(SystemExit):
        _script().main([str(archives / "absent.keras"), "--output", str(archives / "x.npz")])
    assert "absent.keras" in capsys.readouterr().err and not (archives / "x.npz").exists()
