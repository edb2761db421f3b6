"""Flip test-time augmentation: run each face crop and its mirror image, average the two.

The network sees every crop twice: as it is and mirrored left-right. The mirrored run's
outputs are mapped back into the original crop's frame and averaged with the direct ones:

* heatmaps: the grid is reversed along its width and the channels re-indexed with the
  iBUG 68-point mirror permutation (:data:`lponet_tf.data.augment.FLIP_68`: the left eye
  corner of the mirror image is the right eye corner of the face), then averaged. A pixel
  ``x`` of an ``S``-wide crop mirrors to ``S - 1 - x``, and grid cell ``u`` (centre
  ``4u + 1.5``) to ``S/4 - 1 - u``: a plain reversal of the grid, no resampling;
* occlusion (visible-face probabilities): reversed along the width, averaged;
* pose: the mirrored run's rotation ``R'`` is mirrored back (``F R' F``, ``F = diag(-1, 1,
  1)``, :func:`lponet_tf.geometry.mirror_rotation`), and the two rotations are averaged by
  their chordal L2 mean (the rotation nearest to ``(R1 + R2) / 2``, by SVD); an Euler head's
  angles go through the same matrices.

Labels that are not mirror-symmetric: a network reproduces its training labels' offset,
and the mirrored run turns it around. The 300W annotations sit about 1.6 image px right of
their mirror-symmetric place, so the bundled preset's mirrored run lands 2 x 1.1 crop px
(160 px input) left of its direct run and plain averaging costs accuracy. ``label_x_offset`` (input
pixels) moves the mirrored run's heatmaps right by twice it before the average (a linear
interpolation along the grid's width); the bundled preset carries its measured value
(:attr:`lponet_tf.presets.Preset.flip_label_x_offset`, ``scripts/measure_flip_offset.py``),
any other model 0 unless told.

With ``label_x_offset=0`` the averaged result is mirror-symmetric by construction: the
outputs for a mirrored crop are exactly the mirror of the outputs for the crop
(``tests/test_flip_tta.py``). It costs
one more network pass per face (the batch is doubled); the gain and the cost measured on the
bundled preset are in ``docs/inference.md``.

Use it through :class:`~lponet_tf.inference.analyzer.FaceAnalyzerOptions` ``(flip_tta=True)``,
``lponet predict --flip-tta`` / ``lponet evaluate --flip-tta``, or wrap any runner:

Example:
    >>> from lponet_tf.runtime import load_runner                     # doctest: +SKIP
    >>> runner = FlipTTARunner(load_runner("lponet_lite.tflite"))     # doctest: +SKIP
    >>> runner(crops)["heatmaps"].shape                                # doctest: +SKIP
    (4, 32, 32, 68)
"""
from __future__ import annotations

import math
import pathlib
from typing import Dict

import numpy as np

from lponet_tf.data.augment import FLIP_68
from lponet_tf.errors import LPONetError
from lponet_tf.geometry import euler_to_matrix, matrix_to_euler, mirror_rotation, nearest_rotation

__all__ = ["FlipTTARunner", "FlipTTAError", "mirror_outputs", "average_outputs", "mean_rotation",
           "shift_maps_x", "default_label_x_offset"]


class FlipTTAError(LPONetError, ValueError):
    """Flip TTA asked of a model whose landmarks have no mirror permutation (not 68)."""


def mean_rotation(rotations: np.ndarray) -> np.ndarray:
    """Chordal L2 mean of rotations: the rotation nearest (Frobenius) to their average.

    Args:
        rotations: ``(M, N, 3, 3)`` rotations; the mean is taken over the first axis.

    Returns:
        ``(N, 3, 3)`` float64 proper rotations (``U diag(1, 1, det(U V^T)) V^T`` of the
        average's SVD, so a reflection never comes out).

    Example:
        >>> r = euler_to_matrix(np.array([[10.0, 0.0, 0.0], [20.0, 0.0, 0.0]]))
        >>> (matrix_to_euler(mean_rotation(r[:, None])[0]).round(6) + 0.0).tolist()
        [15.0, 0.0, 0.0]
    """
    return nearest_rotation(np.mean(np.asarray(rotations, np.float64), axis=0))


def mirror_outputs(outputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Outputs of a mirrored crop expressed in the original crop's frame (and vice versa:
    the mapping is its own inverse).

    Args:
        outputs: ``{"heatmaps": (N, G, G, 68), "occlusion": (N, G, G, C), "pose":
            (N, 3, 3) rotation or (N, 3) yaw, pitch, roll degrees}``.

    Returns:
        the same keys, float32 (heatmaps and occlusion) and float64 (pose).

    Raises:
        FlipTTAError: the heatmaps do not have 68 channels.
    """
    heat = np.asarray(outputs["heatmaps"])
    if heat.shape[-1] != FLIP_68.size:
        raise FlipTTAError(
            f"flip test-time augmentation needs the 68-point iBUG landmarks (the mirror "
            f"permutation); this model has {heat.shape[-1]}"
        )
    pose = np.asarray(outputs["pose"], np.float64)
    if pose.shape[-2:] == (3, 3):
        pose = mirror_rotation(pose)
    else:  # Euler (yaw, pitch, roll): through the matrix, the one convention
        pose = matrix_to_euler(mirror_rotation(euler_to_matrix(pose)))
    return {
        "heatmaps": heat[:, :, ::-1, :][..., FLIP_68],
        "occlusion": np.asarray(outputs["occlusion"])[:, :, ::-1, :],
        "pose": pose,
    }


def shift_maps_x(maps: np.ndarray, cells: float) -> np.ndarray:
    """Move ``(N, G, G, C)`` maps ``cells`` grid cells to the right (left if negative).

    Linear interpolation between the two whole-cell shifts around ``cells``; zeros enter at
    the border. The centre of mass of a map away from the border moves by exactly ``cells``.

    Example:
        >>> m = np.zeros((1, 1, 4, 1)); m[0, 0, 1, 0] = 1.0
        >>> shift_maps_x(m, 0.25)[0, 0, :, 0].tolist()
        [0.0, 0.75, 0.25, 0.0]
    """
    maps = np.asarray(maps)
    if not cells:
        return maps
    k = math.floor(cells)
    f = float(cells - k)

    def whole(j: int) -> np.ndarray:
        out = np.zeros_like(maps)
        w = maps.shape[2]
        if abs(j) < w:
            if j >= 0:
                out[:, :, j:] = maps[:, :, :w - j]
            else:
                out[:, :, :w + j] = maps[:, :, -j:]
        return out

    return (1.0 - f) * whole(k) + f * whole(k + 1) if f else whole(k)


def default_label_x_offset(model=None, preset: str = "lponet_lite") -> float:
    """The label x offset (input pixels) that flip TTA corrects for a model.

    Args:
        model: None (the preset's bundled weights), or a model file / runner.
        preset: the preset that ``model=None`` means.

    Returns:
        The preset's measured :attr:`~lponet_tf.presets.Preset.flip_label_x_offset` for the
        preset itself or its bundled ``.tflite`` file; 0 for any other model (its training
        labels' offset is unknown: measure it with ``scripts/measure_flip_offset.py``).
    """
    from lponet_tf.presets import PRESETS, get_preset

    if model is None:
        return float(get_preset(preset).flip_label_x_offset)
    if isinstance(model, (str, pathlib.Path)):
        path = pathlib.Path(model).resolve()
        for p in PRESETS.values():
            bundled = p.bundled_tflite()
            if bundled is not None and bundled.resolve() == path:
                return float(p.flip_label_x_offset)
    return 0.0


def average_outputs(direct: Dict[str, np.ndarray], mirrored_back: Dict[str, np.ndarray]
                    ) -> Dict[str, np.ndarray]:
    """Average the direct outputs with the mirrored run's outputs mapped back
    (:func:`mirror_outputs`): heatmaps and occlusion arithmetically, the pose by
    :func:`mean_rotation`.

    Returns:
        ``{"heatmaps", "pose", "occlusion"}`` float32 arrays (pose in the head's own form:
        ``(N, 3, 3)`` or ``(N, 3)`` degrees).
    """
    out = {k: 0.5 * (np.asarray(direct[k], np.float64) + np.asarray(mirrored_back[k], np.float64))
           for k in ("heatmaps", "occlusion")}
    pose = np.asarray(direct["pose"], np.float64)
    if pose.shape[-2:] == (3, 3):
        out["pose"] = mean_rotation(np.stack([pose, mirrored_back["pose"]]))
    else:
        mats = np.stack([euler_to_matrix(pose), euler_to_matrix(mirrored_back["pose"])])
        out["pose"] = matrix_to_euler(mean_rotation(mats))
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


class FlipTTARunner:
    """A runner that answers with the flip-averaged outputs of another runner.

    It has the runner contract (``runner(images) -> outputs``, ``metadata``, ``close``),
    so the analyzer and the evaluator take it unchanged. Each call runs the wrapped
    runner once on the crops and their mirror images together (one batch of 2N).

    Args:
        runner: a runner (:func:`lponet_tf.runtime.load_runner`) of a 68-landmark model.
        label_x_offset: x offset of the model's training labels, input pixels (see the
            module doc; :func:`default_label_x_offset`): the mirrored run's heatmaps move
            right by twice it, ``2 * label_x_offset / stride`` cells, before the average.

    Raises:
        FlipTTAError: the model does not predict the 68 iBUG landmarks.
        ValueError: ``label_x_offset`` is not a finite number.
    """

    def __init__(self, runner, label_x_offset: float = 0.0):
        label_x_offset = float(label_x_offset)
        if not math.isfinite(label_x_offset):
            raise ValueError(f"label_x_offset must be a finite number of pixels, "
                             f"got {label_x_offset}")
        self.label_x_offset = label_x_offset
        landmarks = getattr(getattr(runner, "metadata", None), "num_landmarks", FLIP_68.size)
        if landmarks is not None and int(landmarks) != FLIP_68.size:
            raise FlipTTAError(
                f"flip test-time augmentation needs the 68-point iBUG landmarks (the mirror "
                f"permutation); this model has {landmarks}"
            )
        self.runner = runner

    def __call__(self, images) -> Dict[str, np.ndarray]:
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        n = len(x)
        both = self.runner(np.concatenate([x, x[:, :, ::-1]]) if x.ndim == 4 else x)
        direct = {k: v[:n] for k, v in both.items()}
        back = mirror_outputs({k: v[n:] for k, v in both.items()})
        if self.label_x_offset and x.ndim == 4:
            stride = x.shape[2] / back["heatmaps"].shape[2]
            back["heatmaps"] = shift_maps_x(back["heatmaps"], 2.0 * self.label_x_offset / stride)
        return average_outputs(direct, back)

    def __getattr__(self, name):  # metadata, backend, path, max_batch, close, ...
        if name == "runner":  # not set yet (copy/pickle): no recursion
            raise AttributeError(name)
        return getattr(self.runner, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"FlipTTARunner({self.runner!r}, label_x_offset={self.label_x_offset})"
