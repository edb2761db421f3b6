#!/usr/bin/env python
"""Average the weights of models of one preset's architecture into a preset archive (.npz).

    python scripts/average_weights.py runs/preset_lite_turns/last.keras \
        runs/preset_lite_restart/last.keras --output lponet_lite.weights.npz

Each input is a training checkpoint (``.keras``: its layers of the preset's inference model
are taken by name) or a preset archive (``.npz``, as bundled). The output is the element-wise
mean (BatchNorm statistics included), written like the bundled archive (fp16, BatchNorm
statistics float32) and never over an input. One input converts a checkpoint to an archive.

The bundled ``lponet_lite`` weights were trained from the mean of stage 3 and stage 4
(README, "Recipe"): models fine-tuned from one another stay in one basin of the loss, where
the mean of two points is a better point than either (weight averaging, Izmailov et al. 2018).
Stage 5's own checkpoint, converted with one input, is the bundled archive.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys


def load_as_preset(path: str, preset: str):
    """The preset's inference model with the weights of ``path`` (.keras or .npz)."""
    import keras

    import lponet_tf.model  # noqa: F401  (registers the custom layers)
    from lponet_tf.presets import from_preset, load_npz_weights

    model = from_preset(preset, load_weights=False)
    if path.endswith(".npz"):
        load_npz_weights(model, path)
        return model
    trained = {layer.name: layer for layer in
               keras.saving.load_model(path, safe_mode=True, compile=False).layers}
    for layer in model.layers:
        if layer.weights:
            if layer.name not in trained:
                raise SystemExit(f"{path}: no layer {layer.name!r} of preset {preset!r}")
            layer.set_weights(trained[layer.name].get_weights())
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", help=".keras checkpoints or .npz preset archives")
    parser.add_argument("--output", required=True, help="the .npz archive to write")
    parser.add_argument("--preset", default="lponet_lite", help="architecture (default lponet_lite)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.output)
    for p in args.inputs:
        if not p.endswith((".keras", ".npz")) or not os.path.isfile(p):
            parser.error(f"{p}: not a .keras or .npz file")
        if out.exists() and out.resolve() == pathlib.Path(p).resolve():
            parser.error(f"--output {out} is an input; choose another file")
    if out.suffix != ".npz":
        parser.error(f"--output {out}: must end in .npz")
    if out.exists():
        parser.error(f"--output {out} exists; remove it first")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from lponet_tf.presets import save_npz_weights

    models = [load_as_preset(p, args.preset) for p in args.inputs]
    first = models[0]
    for layer in first.layers:
        if layer.weights:
            stacks = zip(*(m.get_layer(layer.name).get_weights() for m in models))
            layer.set_weights([np.mean(np.stack(values), axis=0) for values in stacks])
    save_npz_weights(first, out)
    print(f"wrote {out}: mean of {len(models)} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
