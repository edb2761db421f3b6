"""Presets, keras-hub style: named architectures with (optionally) bundled weights.

``from_preset(name)`` returns an :class:`~lponet_tf.model.LPONet` built from the preset's
:class:`~lponet_tf.config.LPONetConfig`, with the bundled weights loaded when the preset
has them. Weights ship inside the package as float16 ``.npz`` archives keyed by layer and
variable name (small, no pickle, nothing downloaded); they are cast to the model's dtype
on load.

Presets:
  * ``lponet_lite`` — the mobile model: 2 hourglasses, C = 128, 160 px, FPF-half, IOAF,
    6D pose (128 px until stage 13, which fine-tuned the same weights at 160 px). Weights
    trained on the 300W faces available to this project (see the model card in README.md,
    ``lponet_tf/configs/preset_lite.yaml`` and ``preset_lite_cpu15.yaml``, the last stage).
  * ``lponet_paper`` — the paper's configuration (2-HG, C = 256, 256 px, FPF-half, IOAF,
    6D). Architecture only: it has not been trained here (no GPU, and the paper's datasets
    are not available); train it with ``lponet_tf/configs/stage1.yaml`` then a stage-2
    config.

Example:
    >>> from lponet_tf import from_preset
    >>> model = from_preset("lponet_lite")          # doctest: +SKIP
    >>> model.lponet_config.input_size              # doctest: +SKIP
    160
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
from typing import Dict, Optional

import numpy as np

from lponet_tf.config import LPONetConfig
from lponet_tf.errors import LPONetError

WEIGHTS_DIR = pathlib.Path(__file__).parent / "weights"


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    config: LPONetConfig
    description: str
    weights_file: Optional[str] = None
    #: x offset of the labels the weights learned, input pixels: what flip test-time
    #: augmentation turns back (:mod:`lponet_tf.inference.flip_tta`). Measured on the
    #: training faces by ``scripts/measure_flip_offset.py``; remeasure with new weights.
    flip_label_x_offset: float = 0.0

    @property
    def weights_path(self) -> Optional[pathlib.Path]:
        return WEIGHTS_DIR / self.weights_file if self.weights_file else None

    @property
    def has_weights(self) -> bool:
        return self.weights_path is not None and self.weights_path.is_file()

    @property
    def tflite_path(self) -> Optional[pathlib.Path]:
        """The bundled TFLite export of the weights (``scripts/export_preset_tflite.py``)."""
        return WEIGHTS_DIR / f"{self.name}.tflite" if self.weights_file else None

    def bundled_tflite(self) -> Optional[pathlib.Path]:
        """The bundled ``.tflite`` when it was exported from the bundled weights as they are
        now (its ``.json`` stamp holds their SHA-256), else None (then use the Keras path)."""
        path = self.tflite_path
        if path is None or not path.is_file() or not self.has_weights:
            return None
        try:
            stamp = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None
        return path if stamp.get("weights_sha256") == file_sha256(self.weights_path) else None


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


PRESETS: Dict[str, Preset] = {
    "lponet_lite": Preset(
        name="lponet_lite",
        config=LPONetConfig(
            input_size=160, channels=128, num_stacks=2, hourglass_depth=3,
            fpf="half", ioaf=True, pose="6d", name="lponet_lite",
        ),
        description="Mobile LPONet (C=128, 160 px), trained on 300W faces.",
        weights_file="lponet_lite.weights.npz",
        flip_label_x_offset=1.1,
    ),
    "lponet_paper": Preset(
        name="lponet_paper",
        config=LPONetConfig(name="lponet_paper"),
        description="The paper's best model (2-HG, C=256, FPF-half, IOAF, 6D); no weights.",
    ),
}

DEFAULT_PRESET = "lponet_lite"


class PresetError(LPONetError, ValueError):
    """Unknown preset, or one without bundled weights when weights were required."""


def list_presets() -> Dict[str, str]:
    """``{name: description}`` of every preset (``+ weights`` when bundled)."""
    return {
        n: p.description + (" [weights bundled]" if p.has_weights else " [no weights]")
        for n, p in PRESETS.items()
    }


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise PresetError(f"unknown preset {name!r}; available: {sorted(PRESETS)}")
    return PRESETS[name]


def from_preset(name: str = DEFAULT_PRESET, load_weights: bool = True,
                include_intermediate: bool = False):
    """Build a preset's model, with its bundled weights.

    Args:
        name: a key of :data:`PRESETS`.
        load_weights: load the bundled weights; a preset without weights raises
            :class:`PresetError` unless this is False.
        include_intermediate: keep the per-stack training outputs (for fine-tuning).

    Returns:
        An :class:`~lponet_tf.model.LPONet`.
    """
    from lponet_tf.model import LPONet

    preset = get_preset(name)
    model = LPONet(preset.config, include_intermediate=include_intermediate)
    if load_weights:
        if not preset.has_weights:
            raise PresetError(
                f"preset {name!r} has no bundled weights; use load_weights=False for the "
                "architecture or train it (see README, 'Presets')"
            )
        load_npz_weights(model, preset.weights_path)
    return model


def save_npz_weights(model, path, dtype="float16") -> None:
    """Write a model's variables to ``path`` (.npz) keyed ``layer/variable``.

    BatchNorm moving variances are kept in float32: a variance below float16's smallest
    normal would round to 0 and blow up ``1/sqrt(var + eps)`` after loading.
    """
    arrays = {}
    for layer in model.layers:
        for w in layer.weights:
            value = np.asarray(w.numpy())
            keep32 = "moving_variance" in w.path or "moving_mean" in w.path
            arrays[f"{layer.name}/{w.name}"] = value if keep32 else value.astype(dtype)
    tmp = pathlib.Path(str(path) + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_npz_weights(model, path) -> int:
    """Load :func:`save_npz_weights` archives into ``model`` by name; returns #variables.

    Layers of the model absent from the archive are an error (a mismatched preset), while
    extra archive entries (e.g. intermediate heads) are ignored.
    """
    with np.load(path) as data:
        stored = dict(data)
    count = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        values = []
        for w in layer.weights:
            key = f"{layer.name}/{w.name}"
            if key not in stored:
                raise PresetError(f"{path}: no weights for {key}")
            values.append(stored[key].astype("float32"))
        layer.set_weights(values)
        count += len(values)
    return count
