"""numpy transcriptions of the paper's loss equations (Eq. 3-8), written independently of
the library; the references of tests/test_losses.py and of the fit check in
tests/test_pipeline.py. Each returns the per-sample loss."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter
from scipy.spatial.transform import Rotation


def np_heatmap_loss(L, Lhat, omega=60.0, weighted=False, W=10.0):
    """Eq. 5 (and Eq. 6-7): (1/NHWC) sum (omega L - Lhat)^2 [* (W M + 1)]."""
    se = (omega * L - Lhat) ** 2
    if weighted:
        Ld = maximum_filter(L, size=(1, 3, 3, 1), mode="constant", cval=-np.inf)  # Eq. 6
        se = se * (W * (Ld >= 0.2) + 1.0)  # Eq. 7
    return se.reshape(len(L), -1).mean(1)  # per sample; the batch mean is Eq. 5


def np_geodesic(R, Rhat):
    """Eq. 4 per sample, through the rotation angle of R Rhat^T (scipy)."""
    return Rotation.from_matrix(R @ np.swapaxes(Rhat, -1, -2)).magnitude()


def np_mae(P, Phat):
    """Eq. 3 per sample: mean absolute error over the parameters."""
    return np.abs(P - Phat).reshape(len(P), -1).mean(1)


def np_occlusion(O, Ohat, eps=1e-7):
    """Eq. 8 per sample: -(1/HW) sum_j sum_c O log Ohat."""
    return -(O * np.log(np.clip(Ohat, eps, 1.0))).sum(-1).reshape(len(O), -1).mean(1)
