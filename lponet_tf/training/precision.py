"""Numeric precision of a training run (``train.mixed_precision``).

``mixed_bfloat16`` pays off only where the hardware computes in bfloat16: GPUs and TPUs, and
x86 CPUs with AVX512-BF16 or AMX. Elsewhere TensorFlow emulates it and every step gets
slower, not faster: the ``lponet_lite`` preset stages (which ask for ``mixed_bfloat16``, the
CPU they were trained on has AVX512-BF16) ran 4.2x slower per epoch and 7x slower per
training step than in float32 on a 2-core AMD EPYC without it
(``benchmarks/bench_train_precision.py``, docs/training.md). The
run goes on as configured, since changing the numbers of a recipe behind the user's back is
worse, but :func:`set_precision` says so before the first step.
"""
from __future__ import annotations

import pathlib
import platform
import warnings
from typing import Optional

import keras

from lponet_tf.training.config import PRECISIONS, ConfigError

#: /proc/cpuinfo flags (x86) or features (arm64) that mean native bfloat16 arithmetic.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


class SlowPrecisionWarning(UserWarning):
    """The requested precision is emulated on this machine (slower than float32)."""


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> Optional[bool]:
    """Whether the CPU computes bfloat16 natively; None when the file cannot tell (not Linux).

    Args:
        cpuinfo: path of a ``/proc/cpuinfo``-format file (its ``flags`` / ``Features`` lines).
    """
    try:
        text = pathlib.Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    if not flags:
        return None
    return bool(flags & BF16_CPU_FLAGS)


def accelerator_visible() -> bool:
    """Whether the Keras backend sees a GPU or TPU (where bfloat16 is native)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return any(tf.config.list_physical_devices(kind) for kind in ("GPU", "TPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def emulated_precision_message(policy: str, native_bf16: Optional[bool],
                               accelerator: bool) -> Optional[str]:
    """The warning for ``policy`` on this hardware, or None when it is not emulated.

    Args:
        policy: a ``train.mixed_precision`` value.
        native_bf16: :func:`cpu_has_native_bf16` (None: unknown, no warning).
        accelerator: :func:`accelerator_visible`.
    """
    if policy != "mixed_bfloat16" or accelerator or native_bf16 is not False:
        return None
    return (f"train.mixed_precision=mixed_bfloat16 on a CPU without native bfloat16 "
            f"({platform.machine() or 'this CPU'}: none of the flags "
            f"{', '.join(sorted(BF16_CPU_FLAGS))}) and no GPU: bfloat16 is emulated, several "
            f"times slower per step than float32 (4-7x measured, docs/training.md). Add "
            f"`--set train.mixed_precision=float32` unless you need this run's numerics.")


def check_precision(policy: Optional[str]) -> None:
    """Refuse a ``train.mixed_precision`` this process cannot run (before a run reads its data).

    Raises:
        ConfigError: an unknown policy, or ``float64`` on JAX without 64-bit arrays.
    """
    if (policy or "float32") not in PRECISIONS:
        raise ConfigError(f"train.mixed_precision must be one of {PRECISIONS} or null, got {policy!r}")
    if policy == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:  # JAX would truncate every array to float32
            raise ConfigError("train.mixed_precision=float64 on JAX needs 64-bit arrays: set "
                              "JAX_ENABLE_X64=1 in the environment (without it JAX computes "
                              "in float32)")


def set_precision(policy: Optional[str]) -> None:
    """Set the Keras dtype policy of a run (``train.mixed_precision``; None = float32).

    ``float64`` runs variables, activations and losses (which follow ``floatx``) in double
    precision: slow, for numerical checks such as comparing a multi-replica run with one
    device, where float32 rounding is amplified by the network past any tight tolerance.
    Set on every call, so a previous run's policy in the same process does not leak in.
    ``mixed_bfloat16`` on a machine that would emulate it warns
    (:class:`SlowPrecisionWarning`).

    Args:
        policy: one of :data:`PRECISIONS` or None.

    Raises:
        ConfigError: as :func:`check_precision`.
    """
    check_precision(policy)
    policy = policy or "float32"
    keras.config.set_floatx("float64" if policy == "float64" else "float32")
    keras.mixed_precision.set_global_policy(policy)
    if policy == "mixed_bfloat16":
        message = emulated_precision_message(policy, cpu_has_native_bf16(), accelerator_visible())
        if message:
            warnings.warn(message, SlowPrecisionWarning, stacklevel=2)
