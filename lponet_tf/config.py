"""`LPONetConfig`: every architectural choice of LPONet in one serialisable dataclass."""
from __future__ import annotations

import dataclasses
import difflib
import numbers
import re
from typing import Any

import numpy as np

from lponet_tf.errors import ModelConfigError

FPF_MODES = ("none", "half", "full")
POSE_MODES = ("euler", "6d")

#: The paper enlarges the face box by 10% of its size on each side: the input crops every
#: model is trained and read with (lponet_tf.codec.crop takes them; lponet_tf.metadata
#: records the rule). Kept here, below both, so that the runners, which read the metadata,
#: do not load the codec and OpenCV with it (16 MiB of RSS).
DEFAULT_ENLARGE = 0.10

#: Inclusive bounds of the integer fields. They cover the paper's models and the presets
#: with room to spare, and cap the largest network (8 stacks of C = 512, depth 6: about
#: 130 M parameters, 0.5 GB of float32 weights) that a config, e.g. the one inside an
#: untrusted ``.keras`` file, can make Keras allocate.
INT_BOUNDS = {
    "input_size": (8, 1024),
    "num_stacks": (1, 8),
    "channels": (8, 512),
    "num_landmarks": (1, 256),
    "hourglass_depth": (1, 6),
    "pose_hidden": (1, 4096),
}
# Keras layer names are prefixed with it; "/" would break TF scopes, and the length keeps
# error messages and saved files sane.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")


def _bounded_int(field: str, value, lo: int, hi: int) -> int:
    """``value`` as an int in ``lo..hi``; bools and floats are refused (``64.0`` is a typo
    somewhere, and ``True`` is not a size)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ModelConfigError(field, value, f"an integer in {lo}..{hi}")
    if not lo <= value <= hi:
        raise ModelConfigError(field, value, f"an integer in {lo}..{hi}")
    return int(value)


def _choice(field: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ModelConfigError(field, value, f"one of {', '.join(map(repr, choices))}")
    return value


@dataclasses.dataclass(frozen=True)
class LPONetConfig:
    """Architecture of an LPONet (paper Section III).

    The defaults are the paper's best model: 2 stacked hourglasses, C = 256,
    FPF-half, IOAF and the 6D (gimbal-lock-free) pose head, 256 px input.

    Args:
        input_size: side S of the square RGB input crop (pixels, 0..255). Must be a
            multiple of 4 * 2**hourglass_depth so the encoder reaches an integer grid.
        num_stacks: number of hourglass subnetworks n (paper: 2).
        channels: feature width C of every residual block (paper: 256).
        num_landmarks: K heatmaps (68 in iBUG order).
        fpf: feature pyramid fusion (Sec. III-B): "none", "half" (m = 2: the 4x4 and
            S/16 maps) or "full" (m = 4: 4x4 .. S/8 maps).
        ioaf: inter-level occlusion-aware fusion between stacks (Eq. 1). False gives
            the standard stacked-hourglass fusion (Newell et al.) without the mask.
        pose: "6d" (FC 6 -> Gram-Schmidt, Eq. 2 -> 3x3 matrix) or "euler"
            (FC 3 -> yaw, pitch, roll in degrees).
        hourglass_depth: poolings inside one hourglass; 4 takes S/4 = 64 to 4x4.
        pose_hidden: width of the pose head's hidden FC layer (paper: 256).
        name: Keras model name (letters, digits, ``_.-``; at most 64 characters).

    Integer fields lie in :data:`INT_BOUNDS`; ``channels`` is a multiple of 8.

    Raises:
        ModelConfigError: a field of a wrong type or out of range, checked before anything
            is built (the message names the field, the value and what is allowed).

    Example:
        >>> cfg = LPONetConfig(channels=64, input_size=128)
        >>> cfg.heatmap_size
        32
    """

    input_size: int = 256
    num_stacks: int = 2
    channels: int = 256
    num_landmarks: int = 68
    fpf: str = "half"
    ioaf: bool = True
    pose: str = "6d"
    hourglass_depth: int = 4
    pose_hidden: int = 256
    name: str = "lponet"

    def __post_init__(self):
        # Checked before anything is built: a .keras file is untrusted input, and a crafted
        # channels=40000 would otherwise allocate gigabytes of weights while loading.
        for field, (lo, hi) in INT_BOUNDS.items():
            object.__setattr__(self, field, _bounded_int(field, getattr(self, field), lo, hi))
        if self.channels % 8:
            raise ModelConfigError("channels", self.channels,
                                   f"a multiple of 8 in {INT_BOUNDS['channels'][0]}.."
                                   f"{INT_BOUNDS['channels'][1]}")
        object.__setattr__(self, "fpf", _choice("fpf", self.fpf, FPF_MODES))
        object.__setattr__(self, "pose", _choice("pose", self.pose, POSE_MODES))
        if not isinstance(self.ioaf, (bool, np.bool_)):
            raise ModelConfigError("ioaf", self.ioaf, "true or false")
        object.__setattr__(self, "ioaf", bool(self.ioaf))
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ModelConfigError("name", self.name, f"a name matching {_NAME.pattern}")
        step = 4 * 2**self.hourglass_depth
        if self.input_size < step or self.input_size % step:
            raise ModelConfigError(
                "input_size", self.input_size,
                f"a multiple of {step} (4 * 2**hourglass_depth with hourglass_depth="
                f"{self.hourglass_depth}) in {step}..{INT_BOUNDS['input_size'][1]}",
            )
        if self.fpf == "full" and self.hourglass_depth < 3:
            raise ModelConfigError("fpf", self.fpf, "'none' or 'half' when hourglass_depth < 3")
        if self.fpf == "half" and self.hourglass_depth < 2:  # fuses levels depth and depth - 2
            raise ModelConfigError("fpf", self.fpf, "'none' when hourglass_depth < 2")

    @property
    def heatmap_size(self) -> int:
        """Side of the heatmap / occlusion grid: S / 4."""
        return self.input_size // 4

    @property
    def stride(self) -> int:
        """Input pixels per heatmap cell (4)."""
        return 4

    def replace(self, **changes: Any) -> "LPONetConfig":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "LPONetConfig":
        """Build from a dict (e.g. a saved model's config); missing fields take defaults.

        Raises:
            ModelConfigError: not a dict, an unknown field, or a field of a wrong type or
                out of range (the message names the field, the value and what is allowed).
        """
        known = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(values, dict):
            raise ModelConfigError("<config>", values, "a mapping of field names to values")
        unknown = [k for k in values if k not in known]
        if unknown:
            field = str(unknown[0])
            close = difflib.get_close_matches(field, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ModelConfigError(field, values[unknown[0]],
                                   f"a known field{hint}: {', '.join(known)}")
        return cls(**values)
