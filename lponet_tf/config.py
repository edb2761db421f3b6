"""`LPONetConfig`: every architectural choice of LPONet in one serialisable dataclass."""
from __future__ import annotations

import dataclasses
from typing import Any

FPF_MODES = ("none", "half", "full")
POSE_MODES = ("euler", "6d")


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
        name: Keras model name.

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
        if self.fpf not in FPF_MODES:
            raise ValueError(f"fpf must be one of {FPF_MODES}, got {self.fpf!r}")
        if self.pose not in POSE_MODES:
            raise ValueError(f"pose must be one of {POSE_MODES}, got {self.pose!r}")
        if self.num_stacks < 1:
            raise ValueError(f"num_stacks must be >= 1, got {self.num_stacks}")
        if self.channels < 8 or self.channels % 8:
            raise ValueError(f"channels must be a positive multiple of 8, got {self.channels}")
        if self.num_landmarks < 1:
            raise ValueError(f"num_landmarks must be >= 1, got {self.num_landmarks}")
        step = 4 * 2**self.hourglass_depth
        if self.input_size < step or self.input_size % step:
            raise ValueError(
                f"input_size must be a positive multiple of {step} "
                f"(4 * 2**hourglass_depth), got {self.input_size}"
            )
        if self.fpf == "full" and self.hourglass_depth < 3:
            raise ValueError("fpf='full' needs hourglass_depth >= 3")
        if self.fpf == "half" and self.hourglass_depth < 2:  # fuses levels depth and depth - 2
            raise ValueError("fpf='half' needs hourglass_depth >= 2")

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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown LPONetConfig fields: {sorted(unknown)}")
        return cls(**values)
