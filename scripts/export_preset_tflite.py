#!/usr/bin/env python
"""Regenerate a preset's bundled TFLite export from its bundled weights.

    python scripts/export_preset_tflite.py [--preset lponet_lite]

Writes ``lponet_tf/presets/weights/<preset>.tflite`` (fp16 weights: the bundled weights are
fp16 already, so nothing is lost; float32 compute and I/O) and ``<preset>.json``, the stamp
holding the SHA-256 of the weights it came from. ``FaceAnalyzer.create()`` uses the
``.tflite`` only while that stamp matches the weights (else the Keras model), and
tests/test_preset_tflite.py fails when it does not: rerun this script after changing the
weights.

    python scripts/export_preset_tflite.py --weights cand.weights.npz --output cand.tflite

exports other weights of the preset's architecture (a candidate, before it replaces the
bundled ones) to a file of your choice, without a stamp.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="lponet_lite", help="preset name (default lponet_lite)")
    parser.add_argument("--weights", default=None,
                        help="a .npz of the preset's architecture to export instead of the "
                             "bundled weights (needs --output)")
    parser.add_argument("--output", default=None, help="the .tflite to write (with --weights)")
    args = parser.parse_args(argv)
    if (args.weights is None) != (args.output is None):
        parser.error("--weights and --output go together")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lponet_tf.export.tflite import export_tflite
    from lponet_tf.fileio import atomic_write_via, check_outputs
    from lponet_tf.presets import file_sha256, from_preset, get_preset, load_npz_weights

    name = args.preset
    preset = get_preset(name)
    if args.weights is not None:
        model = from_preset(name, load_weights=False)
        load_npz_weights(model, args.weights)
        out = pathlib.Path(args.output)
        check_outputs([out], inputs=[args.weights], overwrite=False)
        atomic_write_via(out, lambda tmp: export_tflite(model, tmp, quantize="fp16", preset=name))
        print(f"wrote {out} ({out.stat().st_size} bytes)")
        return 0
    model = from_preset(name)
    print(f"exporting {name} to {preset.tflite_path} ...", file=sys.stderr, flush=True)
    atomic_write_via(preset.tflite_path,
                     lambda tmp: export_tflite(model, tmp, quantize="fp16", preset=name))
    stamp = {"preset": name, "weights": preset.weights_file,
             "weights_sha256": file_sha256(preset.weights_path), "quantize": "fp16",
             "generated_by": "scripts/export_preset_tflite.py"}
    atomic_write_via(preset.tflite_path.with_suffix(".json"),
                     lambda tmp: pathlib.Path(tmp).write_text(json.dumps(stamp, indent=1) + "\n"))
    print(f"wrote {preset.tflite_path} ({preset.tflite_path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
