"""int8 with integer outputs: an Euler pose output keeps angles far beyond the calibration
faces' (up to +-180 degrees, its labels' range). A 3-op stand-in model, not an LPONet:
seconds, no shared data. The suite's Euler test compares the output scale with
EULER_OUTPUT_RANGE itself and its angles stay within +-90, so the range's value is untested."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
litert = pytest.importorskip("ai_edge_litert.interpreter")


class _EulerStandIn(tf.Module):
    """pose = (channel means / 255 * 2 - 1) * 180, one fully connected op on the pixels: a
    crop's colour sets its three angles."""

    def __init__(self):
        super().__init__()
        w = np.zeros((8 * 8 * 3, 3), np.float32)
        for c in range(3):
            w[c::3, c] = 360.0 / 255.0 / 64.0
        self.w, self.b = tf.constant(w), tf.constant(np.full(3, -180.0, np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32, name="image")])
    def serve(self, image):
        return {"pose": tf.matmul(tf.reshape(image, [1, -1]), self.w) + self.b}


def _image(value):
    return np.full((1, 8, 8, 3), value, np.float32)


def test_euler_angles_beyond_the_calibration_faces_survive_uint8_outputs(tmp_path):
    from lponet_tf.export.int8 import calibrate, quantize

    saved = tmp_path / "saved"
    module = _EulerStandIn()
    tf.saved_model.save(module, str(saved), signatures={"serving_default": module.serve})
    rng = np.random.default_rng(0)
    # calibration crops: pixels over 0..255, angles within a few degrees (frontal faces)
    faces = rng.uniform(0, 255, (16, 8, 8, 3)).astype(np.float32)
    model = quantize(calibrate(str(saved), faces), io_dtype="uint8")
    runner = litert.Interpreter(model_content=model).get_signature_runner()
    (in_name, inp), = runner.get_input_details().items()
    out = runner.get_output_details()["pose"]
    for value, angle in ((127.5, 0.0), (233.75, 150.0), (21.25, -150.0), (191.25, 90.0)):
        scale, zero = inp["quantization"]
        q = np.clip(np.round(_image(value) / scale + zero), 0, 255).astype(np.uint8)
        got = runner(**{in_name: q})["pose"].astype(np.float32)
        o_scale, o_zero = out["quantization"]
        degrees = (got - o_zero) * o_scale
        # one output step is 360 / 255 = 1.41 degrees; the input's own step adds a little
        np.testing.assert_allclose(degrees, np.full((1, 3), angle), atol=3.0, err_msg=str(value))

