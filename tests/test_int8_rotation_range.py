"""Integer outputs: the rotation output is quantised on exactly [-1, 1] (a 2 / 255 step).
The suite's check (tests/test_export_tflite.py::test_integer_io_model_is_integer_and_the_
runner_quantises) only asks that the range cover [-1, 1]: a range of [-2, 2] (every entry
rounded twice as coarsely) passes it. On the suite's cached tiny int8 export
(tests/export_helpers.py, which falls back to synthetic crops without the shared data)."""
import numpy as np
import pytest

from export_helpers import exported


def test_the_rotation_output_step_is_that_of_minus_one_to_one():
    from ai_edge_litert.interpreter import Interpreter

    pose = Interpreter(model_path=exported("int8", "uint8")).get_signature_runner() \
        .get_output_details()["pose"]
    scale, zero = pose["quantization"]
    info = np.iinfo(pose["dtype"])
    assert scale * (info.max - info.min) == pytest.approx(2.0, rel=0.01)
    assert scale * (info.min - zero) == pytest.approx(-1.0, abs=1.5 * scale)
