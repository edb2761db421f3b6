"""Train a preset on a GPU machine that has JAX but no TensorFlow (issue 18, item 5).

Two steps:

``pack`` (here, with network access to PyPI) writes a bundle folder that must fit the
64 MiB carried per call together with the repository:

- ``wheels/``: what the GPU machine lacks for Keras on JAX (keras and its pure-Python
  dependencies, optree / PyYAML built for ``--python``), downloaded with pip;
- ``faces/300w/``: the 300W training faces in 300W format, each photo cropped to twice its
  landmark box and re-encoded as JPEG (``--max-side``, ``--quality``), landmarks moved along.

``run`` (on the GPU machine, from the repository root) installs the wheels into the bundle
(``--no-index``), trains ``--config`` (a preset's config) under ``KERAS_BACKEND=jax`` on the
bundled faces with ``lponet_tf.training.train``, and writes to ``--out``: the training log,
a summary (steps, images/s, validation figures) and the weights of the inference model as
``.npz`` files of at most 16 MiB each.

Usage:
    .venv/bin/python scripts/device_train.py pack --python 3.12 --bundle device_bundle
    python scripts/device_train.py run --bundle device_bundle --config preset_lite \\
        --steps 4000 --out "$OUT"                                  # on the GPU machine

Not run on a GPU in the session that wrote it (no device was lent); ``pack`` and ``run`` were
run here on the CPU (``run --steps 2``).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
# Keras on JAX needs these besides what the GPU machine has (numpy, h5py, ml-dtypes, scipy,
# opencv-python-headless): keras's own dependencies and lponet's PyYAML.
WHEELS = ("keras", "optree", "namex", "absl-py", "PyYAML", "rich", "markdown-it-py", "mdurl",
          "pygments", "tqdm")
LIMIT = 64 * 2**20
SHARD = 16 * 2**20


def _size(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pack(args) -> None:
    import cv2
    import numpy as np

    sys.path.insert(0, str(REPO))
    from lponet_tf.data import read_dataset
    from lponet_tf.data.pts import write_pts

    bundle = pathlib.Path(args.bundle)
    if bundle.exists():
        raise SystemExit(f"{bundle} exists: pass a new folder (nothing is overwritten)")
    wheels = bundle / "wheels"
    wheels.mkdir(parents=True)
    pins = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    specs = [f"{w}=={pins[w.lower()]}" if w.lower() in pins else w for w in WHEELS]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--python-version", args.python, "--implementation", "cp",
                    "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
                    "--platform", "manylinux_2_28_x86_64", "-d", str(wheels), *specs], check=True)

    faces = bundle / "faces" / "300w"
    root = pathlib.Path(args.faces)
    records = read_dataset("300w", str(root))
    for rec in records:
        image = cv2.imread(rec.image_path, cv2.IMREAD_COLOR)
        lm = np.asarray(rec.landmarks, np.float64)
        lo, hi = lm.min(0), lm.max(0)
        centre, side = (lo + hi) / 2, 2.0 * float((hi - lo).max())
        x0, y0 = np.maximum(np.floor(centre - side / 2), 0).astype(int)
        x1 = int(min(image.shape[1], np.ceil(centre[0] + side / 2)))
        y1 = int(min(image.shape[0], np.ceil(centre[1] + side / 2)))
        crop = image[y0:y1, x0:x1]
        scale = min(1.0, args.max_side / max(crop.shape[:2]))
        if scale < 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        # Pixel centres at integers: x' = (x - x0 + 0.5) * scale - 0.5.
        moved = (lm - [x0, y0] + 0.5) * scale - 0.5
        rel = pathlib.Path(rec.image_path).resolve().relative_to(root.resolve())
        target = (faces / rel).with_suffix(".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), crop, [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        write_pts(target.with_suffix(".pts"), moved)
    total = _size(bundle)
    print(f"{len(records)} faces, bundle {total / 2**20:.1f} MiB "
          f"(wheels {_size(wheels) / 2**20:.1f} MiB)")
    if total > LIMIT - args.repo_mib * 2**20:
        raise SystemExit(f"bundle {total / 2**20:.1f} MiB does not fit beside the repository "
                         f"({args.repo_mib} MiB) in {LIMIT // 2**20} MiB: lower --max-side / --quality")


def run(args) -> None:
    bundle = pathlib.Path(args.bundle).resolve()
    site = bundle / "site"
    import importlib.util

    # The GPU machine lacks Keras: install the bundled wheels (here the venv has it).
    if importlib.util.find_spec("keras") is None and not site.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                        "--target", str(site), *map(str, sorted((bundle / "wheels").glob("*.whl")))],
                       check=True)
    os.environ["KERAS_BACKEND"] = "jax"
    sys.path[:0] = [str(REPO), str(site)]
    import keras
    import numpy as np

    from lponet_tf.training.config import load_config
    from lponet_tf.training.trainer import train

    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    overrides = [f"output_dir={out / 'run'}", f"train.steps={args.steps}",
                 f"train.steps_per_epoch={min(args.steps, args.steps_per_epoch)}"]
    config = load_config(args.config, overrides=overrides + list(args.set),
                         data_roots={"300w": str(bundle / "faces" / "300w")})
    print("devices:", keras.distribution.list_devices(), flush=True)
    t0 = time.perf_counter()
    result = train(config)
    seconds = time.perf_counter() - t0
    batch = int(config["train"]["batch_size"])
    model = keras.saving.load_model(result.model_path, safe_mode=True, compile=False)
    weights = {f"{layer.name}/{w.name}": np.asarray(w.numpy()) for layer in model.layers for w in layer.weights}
    shard, shards, size = {}, [], 0
    for key, value in weights.items():
        if shard and size + value.nbytes > SHARD - 2**20:
            shards.append(shard)
            shard, size = {}, 0
        shard[key] = value
        size += value.nbytes
    shards.append(shard)
    for i, part in enumerate(shards):
        np.savez(out / f"weights_{i:02d}.npz", **part)
    shutil.copy(result.output_dir / "training_log.csv", out / "training_log.csv")
    summary = {"steps": result.steps, "seconds": seconds,
               "images_per_second_incl_compile": result.steps * batch / seconds,
               "best_epoch": result.best_epoch, "best_val_loss": result.best_value,
               "last_epoch": {k: v[-1] for k, v in result.history.items()},
               "devices": [str(d) for d in keras.distribution.list_devices()]}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    print(json.dumps(summary, default=float))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="wheels + faces into a bundle folder (here)")
    p.add_argument("--bundle", required=True)
    p.add_argument("--faces", default=str(REPO.parent / "shared" / "data" / "300w"))
    p.add_argument("--python", default="3.12", help="the GPU machine's Python (X.Y)")
    p.add_argument("--max-side", type=int, default=320)
    p.add_argument("--quality", type=int, default=90)
    p.add_argument("--repo-mib", type=int, default=14, help="room left for the repository")
    p.set_defaults(func=pack)
    r = sub.add_parser("run", help="train on the GPU machine")
    r.add_argument("--bundle", required=True)
    r.add_argument("--config", default="preset_lite")
    r.add_argument("--steps", type=int, default=4000)
    r.add_argument("--steps-per-epoch", type=int, default=200)
    r.add_argument("--out", required=True)
    r.add_argument("--set", nargs="*", default=[], help="more config overrides key=value")
    r.set_defaults(func=run)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
