"""Losses, loss weights, metrics and optimiser of a training config (paper Eq. 9, IV-B)."""
from __future__ import annotations

from typing import Dict, Tuple

import keras

from lponet_tf.config import LPONetConfig
from lponet_tf.heatmaps import DEFAULT_DECODER
from lponet_tf.losses import HeatmapLoss, OcclusionLoss, PoseLoss
from lponet_tf.model import output_names


def task_of(output_name: str) -> str:
    """``"heatmaps_1"`` -> ``"heatmaps"``."""
    return output_name.split("_")[0]


def losses_and_weights(
    model_config: LPONetConfig, loss_config: dict
) -> Tuple[Dict[str, keras.losses.Loss], Dict[str, float]]:
    """Per-output losses and their weights alpha, beta, gamma (Eq. 9).

    Every stack's outputs get the same loss and weight (deep supervision) unless
    ``deep_supervision`` is false, in which case earlier stacks get weight 0.
    The pose loss is the geodesic distance (Eq. 4) for the 6D head; an Euler head always
    uses the MAE (Eq. 3, in degrees).
    """
    pose_kind = loss_config["pose"] if model_config.pose == "6d" else "mae"
    normalize = loss_config.get("normalize", "batch")  # the 1/N of Eq. 3-8 (lponet_tf.losses)
    make = {
        "heatmaps": lambda: HeatmapLoss(
            omega=loss_config["omega"], weighted=loss_config["weighted"], W=loss_config["W"],
            normalize=normalize,
        ),
        "pose": lambda: PoseLoss(kind=pose_kind, normalize=normalize),
        "occlusion": lambda: OcclusionLoss(normalize=normalize),
    }
    scale = {
        "heatmaps": loss_config["alpha"],
        "pose": loss_config["beta"],
        "occlusion": loss_config["gamma"],
    }
    losses, weights = {}, {}
    for name in output_names(model_config.num_stacks):
        task = task_of(name)
        losses[name] = make[task]()
        final = name == task
        weights[name] = float(scale[task]) if (final or loss_config["deep_supervision"]) else 0.0
    return losses, weights


def make_optimizer(opt_config: dict) -> keras.optimizers.Optimizer:
    """RMSprop (paper), Adam or SGD with a piecewise-constant learning rate.

    ``decay_steps: [30000]`` and ``decay_values: [1e-5]`` give 1e-4 until step 30K, then
    1e-5 (Section IV-B). The schedule reads the optimiser's step counter, so a resumed run
    continues on the same schedule. With ``decay_seconds`` the rate is a plain variable that
    :class:`~lponet_tf.training.callbacks.DecayAfterSeconds` lowers.
    """
    lr = float(opt_config["learning_rate"])
    if opt_config.get("decay_seconds") is not None:
        opt_config = {**opt_config, "decay_steps": [], "decay_values": []}
    steps = [int(s) for s in opt_config.get("decay_steps") or []]
    values = [float(v) for v in opt_config.get("decay_values") or []]
    if len(steps) != len(values):
        raise ValueError("optimizer.decay_steps and decay_values must have the same length")
    schedule = (
        keras.optimizers.schedules.PiecewiseConstantDecay(steps, [lr] + values) if steps else lr
    )
    name = opt_config.get("name", "rmsprop").lower()
    clipnorm = opt_config.get("clipnorm")
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=schedule, clipnorm=clipnorm)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=schedule, clipnorm=clipnorm)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule, momentum=float(
            opt_config.get("momentum", 0.0)), clipnorm=clipnorm)
    raise ValueError(f"optimizer.name must be rmsprop, adam or sgd, got {name!r}")


def metrics_for(model_config: LPONetConfig, decode: str = DEFAULT_DECODER) -> Dict[str, list]:
    """Keras metrics on the final outputs: NME from heatmaps, pose error, mask IoU.

    The NME decodes with ``decode``, by default the rule the model's export metadata names
    (:func:`lponet_tf.metadata.decode_rule`) and so the one ``FaceAnalyzer`` and
    ``lponet evaluate`` apply: the logged (val_)NME tracks the evaluated one. It is
    normalised by the iBUG-68 outer eye corners, so a model with another landmark count
    gets no NME here (pass ``HeatmapNME(eye_indices=...)`` of its scheme yourself).
    """
    from lponet_tf import keras_metrics as M

    pose_metric = M.PoseGeodesic() if model_config.pose == "6d" else M.PoseMAE()
    return {
        "heatmaps": [M.HeatmapNME(decode=decode)] if model_config.num_landmarks == 68 else [],
        "pose": [pose_metric],
        "occlusion": [M.MaskIoU()],
    }
