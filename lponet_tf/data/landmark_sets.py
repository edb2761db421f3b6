"""Landmark sets other than iBUG-68 and how they relate to it.

iBUG-68 (0-based) is: jaw 0-16, right brow 17-21, left brow 22-26 (the *subject's* right /
left, i.e. image left / right on a frontal face), nose bridge 27-30, nose base 31-35, eyes
36-41 and 42-47 (each: outer or inner corner, two upper-lid points, the other corner, two
lower-lid points), outer lip 48-59, inner lip 60-67.

WFLW-98 (Wu et al., CVPR 2018) is: contour 0-32, brows 33-41 and 42-50 (each: five points
along the upper edge from the outer end, then four along the lower edge back), nose bridge
51-54, nose base 55-59, eyes 60-67 and 68-75 (each: corner, three upper-lid points, the
other corner, three lower-lid points), outer lip 76-87, inner lip 88-95, pupils 96-97.

COFW-29 (Burgos-Artizzu et al., ICCV 2013, the LFPW-29 markup) is a sparse set: brow ends,
brow middles, eye corners, lid middles, pupils, nose and mouth points, chin.
"""
from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- WFLW 98 -> 68
#: ``ibug68 = wflw98[WFLW98_TO_68]``. Every 68 point takes exactly one WFLW point (no
#: averaging) so a conversion never invents a position:
#:
#: * jaw 0-16      <- contour 0, 2, ..., 32 (the 33-point contour subsampled every other
#:   point; both ends and the chin, WFLW 16 -> iBUG 8, coincide);
#: * brows 17-26   <- the five upper-edge points of each brow, 33-37 and 42-46 (iBUG brows
#:   run along the upper edge too; WFLW's lower-edge points 38-41 and 47-50 are dropped);
#: * nose 27-35    <- 51-59, one to one (same 4 + 5 layout);
#: * eyes 36-47    <- corners exactly (60, 64, 68, 72); the two upper-lid points take
#:   WFLW's first and third upper-lid points (61, 63 / 69, 71) and the two lower-lid points
#:   the first and third lower-lid points (65, 67 / 73, 75), skipping the lid middles 62,
#:   66, 70, 74 that iBUG does not have;
#: * mouth 48-67   <- 76-95, one to one (same 12 + 8 layout);
#: * pupils 96, 97 are dropped.
WFLW98_TO_68 = np.array(
    list(range(0, 33, 2))                      # jaw 0-16
    + [33, 34, 35, 36, 37]                     # right brow 17-21
    + [42, 43, 44, 45, 46]                     # left brow 22-26
    + [51, 52, 53, 54, 55, 56, 57, 58, 59]     # nose 27-35
    + [60, 61, 63, 64, 65, 67]                 # right eye 36-41
    + [68, 69, 71, 72, 73, 75]                 # left eye 42-47
    + list(range(76, 96)),                     # mouth 48-67
    dtype=np.int64,
)


def wflw98_to_68(points: np.ndarray) -> np.ndarray:
    """Convert WFLW 98-point landmarks to iBUG 68 points (see :data:`WFLW98_TO_68`).

    Args:
        points: ``(..., 98, 2)`` array.

    Returns:
        ``(..., 68, 2)`` array of the same dtype.

    Example:
        >>> import numpy as np
        >>> p98 = np.arange(196, dtype=np.float32).reshape(98, 2)
        >>> wflw98_to_68(p98)[36].tolist()   # iBUG right-eye outer corner = WFLW 60
        [120.0, 121.0]
    """
    points = np.asarray(points)
    if points.shape[-2:] != (98, 2):
        raise ValueError(f"expected (..., 98, 2) WFLW landmarks, got {points.shape}")
    return points[..., WFLW98_TO_68, :]


# --------------------------------------------------------------------------- COFW 29
#: Names of the 29 COFW points, in file order (left / right as seen in the image).
COFW29_NAMES = (
    "brow_left_outer", "brow_right_outer", "brow_left_inner", "brow_right_inner",
    "brow_left_top_middle", "brow_left_bottom_middle",
    "brow_right_top_middle", "brow_right_bottom_middle",
    "eye_left_outer", "eye_right_outer", "eye_left_inner", "eye_right_inner",
    "eye_left_upper_lid", "eye_left_lower_lid", "eye_right_upper_lid", "eye_right_lower_lid",
    "pupil_left", "pupil_right",
    "nose_left_wing", "nose_right_wing", "nose_tip", "nose_base",
    "mouth_left_corner", "mouth_right_corner",
    "upper_lip_top", "upper_lip_bottom", "lower_lip_top", "lower_lip_bottom",
    "chin",
)

#: COFW-29 index -> iBUG-68 index for the points that mark the same anatomical location in
#: both markups (checked on the real COFW / COFW-68 samples in tests/test_readers_cofw.py).
#: Brow middles, lid middles and pupils have no single iBUG counterpart and are left out;
#: the nose wings (18, 19) sit a little above iBUG 31 / 35 and are left out too.
COFW29_TO_68 = {
    0: 17, 1: 26, 2: 21, 3: 22,          # brow ends
    8: 36, 9: 45, 10: 39, 11: 42,        # eye corners
    20: 30, 21: 33,                      # nose tip, nose base
    22: 48, 23: 54,                      # mouth corners
    24: 51, 25: 62, 26: 66, 27: 57,      # lip middles
    28: 8,                               # chin
}
