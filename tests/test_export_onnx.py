"""ONNX export (tf2onnx) of a tiny LPONet, checked with onnxruntime."""
import numpy as np
import pytest

from export_helpers import artifacts, assert_matches_reference, exported_onnx
from lponet_tf.runtime import load_runner

pytestmark = pytest.mark.timeout(300)


def test_onnx_matches_keras_like_fp32():
    a = artifacts()
    runner = load_runner(exported_onnx(), threads=1)
    out = runner(a.images)
    for name in ("heatmaps", "pose", "occlusion"):
        np.testing.assert_allclose(out[name], a.reference[name], atol=1e-4, rtol=1e-4)
    assert_matches_reference(out, a.reference, "none")


def test_onnx_has_a_dynamic_batch_named_batch_and_the_fixed_names():
    import onnx

    model = onnx.load(exported_onnx())
    assert [i.name for i in model.graph.input] == ["image"]
    assert sorted(o.name for o in model.graph.output) == ["heatmaps", "occlusion", "pose"]
    for value in list(model.graph.input) + list(model.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 13


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_onnx_runs_any_batch_size(batch):
    a = artifacts()
    out = load_runner(exported_onnx())(a.images[:batch])
    assert out["heatmaps"].shape == (batch, 16, 16, 68)
    np.testing.assert_allclose(out["pose"], a.reference["pose"][:batch], atol=1e-4)


def test_onnx_opset_below_13_is_refused():
    from lponet_tf.export.errors import ExportError
    from lponet_tf.export.onnx import convert_onnx

    with pytest.raises(ExportError, match="opset"):
        convert_onnx(artifacts().model, opset=12)
