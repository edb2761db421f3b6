"""train.mixed_precision: bfloat16 requested where the machine would emulate it is said."""
import platform
import warnings

import pytest

from lponet_tf.training import precision
from lponet_tf.training.precision import (SlowPrecisionWarning, cpu_has_native_bf16,
                                          emulated_precision_message, set_precision)

X86_NO_BF16 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme de pse tsc msr pae avx2 avx512f avx512bw avx512_vnni
"""
X86_BF16 = X86_NO_BF16.replace("avx512_vnni", "avx512_vnni avx512_bf16")
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 bf16 i8mm\n"
ARM_NO_BF16 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"


@pytest.mark.parametrize("text, expected", [
    (X86_NO_BF16, False), (X86_BF16, True), (X86_NO_BF16.replace("avx2", "avx2 amx_bf16"), True),
    (ARM_BF16, True), (ARM_NO_BF16, False),
    ("processor\t: 0\nmodel name\t: something\n", None),  # no flags line: cannot tell
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, text, expected):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    assert cpu_has_native_bf16(str(path)) is expected


def test_no_cpuinfo_means_unknown_and_linux_always_answers(tmp_path):
    assert cpu_has_native_bf16(str(tmp_path / "missing")) is None
    if platform.system() == "Linux":  # CI's machines: the real file gives a yes or a no
        assert cpu_has_native_bf16() in (True, False)


@pytest.mark.parametrize("policy, native, accelerator, warned", [
    ("mixed_bfloat16", False, False, True),
    ("mixed_bfloat16", True, False, False),
    ("mixed_bfloat16", False, True, False),   # a GPU computes bfloat16 itself
    ("mixed_bfloat16", None, False, False),   # unknown CPU: no guess
    ("float32", False, False, False),
    ("mixed_float16", False, False, False),
])
def test_the_message_is_given_only_for_emulated_bfloat16(policy, native, accelerator, warned):
    message = emulated_precision_message(policy, native, accelerator)
    assert (message is not None) is warned
    if warned:
        assert "train.mixed_precision=float32" in message and "emulated" in message


def test_set_precision_warns_once_per_call_where_bfloat16_is_emulated(monkeypatch):
    monkeypatch.setattr(precision, "accelerator_visible", lambda: False)
    try:
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
        with pytest.warns(SlowPrecisionWarning, match="without native bfloat16"):
            set_precision("mixed_bfloat16")
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", SlowPrecisionWarning)
            set_precision("mixed_bfloat16")
        import keras

        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    finally:
        set_precision(None)


def test_the_accelerator_probe_answers_on_this_backend():
    assert precision.accelerator_visible() in (True, False)
