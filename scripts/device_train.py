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
bundled faces with ``lponet_tf.training.train``, and copies to ``--out`` the inference model
(``model.keras``, 6 MiB for ``lponet_lite``), ``last.keras`` (with the optimizer, to resume
elsewhere), the training log and curves, the config and a summary (steps, data rate, images/s).

Usage:
    .venv/bin/python scripts/device_train.py pack --python 3.12 --bundle device_bundle
    python scripts/device_train.py run --bundle device_bundle --config preset_lite_gpu \
        --steps 1800 --workers 14 --processes --out "$OUT"         # on the GPU machine
    python scripts/device_train.py run ... --seconds 400           # as many steps as fit

``--seconds S`` trains for S seconds (compilation included): the config's learning-rate
decays fall at the same fractions of S as of its steps (``optimizer.decay_seconds``), and
``train``'s ``time_limit`` ends the run after the first epoch that ends past S, every file of
that epoch written. The steps only bound it (twice what the timed data rate could feed).

Run on one NVIDIA H200 (16 CPU cores, JAX 0.11.2, numpy 2.5.2) on 2026-12-04: stage 6 of the
bundled weights (``preset_lite_gpu.yaml``), 1,800 steps in 355 s, the GPU waiting for data
at about 170 ms per step: the numpy pipeline prepared 12.5 batches/s of 16 with one thread
and 11.5 / 7.7 / 6.5 with 2 / 4 / 8 (14 threads, as that run used: 6.6), so more threads
only slowed it down there (most likely numpy's BLAS, a spinning thread per core in every
worker; the workers use one each since). With ``--workers 14 --processes`` a 400-step run
on the same machine trained at 62 ms per step after its first epoch (which compiles), 2.7
times the threads' speed.

Stage 8 (``preset_lite_gpu2.yaml``, the same machine): the first ``--seconds 450`` run timed
the preparation alone in a pool of its own (41 batches/s), planned 13,600 steps and trained
at 17-20 batches/s, so ``time_limit`` stopped it after 8,600 with the schedule unfinished
(``preset_lite_anneal.yaml`` finished it in a second call). A schedule in seconds cannot
be misplanned so. Since then each worker process runs numpy's BLAS on one thread and
``--processes`` sends compact batches (uint8 images, float16 heatmaps): on 2 cores, 2
processes went from 20 to 768 images/s (``benchmarks/bench_numpy_pipeline.py``); that GPU
machine's rate with both is not measured yet.
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
# opencv-python-headless): keras's own dependencies and lponet's PyYAML and threadpoolctl.
WHEELS = ("keras", "optree", "namex", "absl-py", "PyYAML", "rich", "markdown-it-py", "mdurl",
          "pygments", "tqdm", "threadpoolctl")
LIMIT = 64 * 2**20
#: What ``run`` copies from the run's folder to ``--out``.
OUTPUTS = ("model.keras", "last.keras", "training_log.csv", "training_curves.png", "config.yaml")


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


def _data_rate(config, model_cfg, seconds: float) -> float:
    """Training batches per second that the config's data workers deliver to ``fit``, the
    photo cache warm (a forked worker inherits the photos decoded before the fork)."""
    from lponet_tf.data.numpy_pipeline import delivery_rate
    from lponet_tf.training.trainer import _numpy_datasets

    batches, _ = _numpy_datasets(config, model_cfg)
    for s, records in enumerate(batches.sources):
        for i in range(len(records)):
            batches._read(s, i)
    return delivery_rate(batches, seconds)


def _time_schedule(config, seconds: float) -> dict:
    """The config's learning-rate schedule over ``seconds`` of training: each decay at the
    same fraction of the time as of the config's steps (``optimizer.decay_seconds``)."""
    opt = dict(config["optimizer"])
    if opt.get("decay_seconds") is not None:
        return opt  # in seconds already
    total = int(config["train"]["steps"])
    opt["decay_seconds"] = [round(seconds * b / total, 1) for b in opt.get("decay_steps") or []]
    opt["decay_steps"] = []
    return opt


def _fit_schedule(config, steps: int) -> dict:
    """The config's learning-rate schedule stretched (or squeezed) to ``steps``."""
    opt = dict(config["optimizer"])
    scale = steps / int(config["train"]["steps"])
    opt["decay_steps"] = sorted({max(1, round(b * scale)) for b in opt.get("decay_steps") or []})
    if len(opt["decay_steps"]) != len(opt.get("decay_values") or []):
        raise SystemExit(f"{steps} steps are too few for the schedule {config['optimizer']}")
    return opt


def run(args) -> None:
    bundle = pathlib.Path(args.bundle).resolve()
    site = bundle / "site"
    import importlib.util

    # The GPU machine lacks Keras: install the bundled wheels (here the venv has them).
    missing = [m for m in ("keras", "yaml", "threadpoolctl") if importlib.util.find_spec(m) is None]
    if missing and not site.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                        "--target", str(site), *map(str, sorted((bundle / "wheels").glob("*.whl")))],
                       check=True)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    sys.path[:0] = [str(REPO), str(site)]
    import keras

    from lponet_tf.config import LPONetConfig
    from lponet_tf.training.config import load_config, validate_config
    from lponet_tf.training.trainer import train

    out = pathlib.Path(args.out).resolve()
    taken = [out / n for n in OUTPUTS + ("summary.json",) if (out / n).exists()]
    if taken:
        raise SystemExit(f"{taken[0]} exists: pass a new --out folder (nothing is overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(args.work or out / "run").resolve()
    # Worker processes pickle every batch into a pipe: compact batches are 2.5x smaller.
    processes = str(args.processes).lower()
    overrides = [f"output_dir={work}", f"train.data_workers={args.workers}",
                 f"train.data_processes={processes}", f"train.data_compact={processes}", *args.set]
    roots = {"300w": str(bundle / "faces" / "300w")}
    config = validate_config(load_config(args.config, overrides=overrides, data_roots=roots))
    print("backend:", keras.backend.backend(), "devices:", keras.distribution.list_devices(), flush=True)
    rate, time_limit = None, None
    if args.seconds:
        # Time decides: the decays at the config's fractions of it, a stop at the first
        # epoch past it. The steps only bound the run: fit cannot outrun its data.
        rate = _data_rate(config, LPONetConfig.from_dict(config["model"]), args.calibrate)
        steps = args.steps or int(2 * rate * args.seconds)
        schedule, time_limit = _time_schedule(config, args.seconds), args.seconds
        kind = "processes" if args.processes else "threads"
        print(f"data: {rate:.1f} batches/s with {args.workers} {kind}; at most {steps} steps in "
              f"{args.seconds:.0f} s", flush=True)
    else:
        steps = args.steps or int(config["train"]["steps"])
    per_epoch = min(steps, int(config["train"]["steps_per_epoch"]))
    steps = steps // per_epoch * per_epoch
    if not args.seconds:
        schedule = _fit_schedule(config, steps)
    config = validate_config({**config, "optimizer": schedule,
                              "train": {**config["train"], "steps": steps, "steps_per_epoch": per_epoch}})
    print("schedule:", json.dumps(schedule), flush=True)
    t0 = time.perf_counter()
    result = train(config, time_limit=time_limit)
    seconds = time.perf_counter() - t0
    batch = int(config["train"]["batch_size"])
    for name in OUTPUTS:
        if (result.output_dir / name).exists():
            shutil.copy(result.output_dir / name, out / name)
    summary = {"steps_planned": steps, "steps": result.steps, "seconds": seconds,
               "data_batches_per_second": rate, "data_workers": args.workers,
               "data_processes": args.processes, "data_compact": config["train"]["data_compact"],
               "images_per_second_incl_compile": result.steps * batch / seconds,
               "best_epoch": result.best_epoch, "best_val_loss": result.best_value,
               "last_epoch": {k: v[-1] for k, v in result.history.items()},
               "backend": keras.backend.backend(),
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
    r.add_argument("--steps", type=int, default=None,
                   help="steps, the schedule stretched to them (default: the config's own); with "
                   "--seconds the most it may run (default: twice what the data rate allows)")
    r.add_argument("--seconds", type=float, default=None,
                   help="train for this long instead (the first epoch that ends past it is the "
                   "last), the config's decays at the same fractions of the time")
    # More threads were slower on the H200 machine's 16 cores (module docstring).
    r.add_argument("--workers", type=int, default=1, help="threads (or processes) preparing batches")
    r.add_argument("--processes", action="store_true",
                   help="the workers are forked processes, not threads (train.data_processes), "
                   "sending compact batches (train.data_compact; --set train.data_compact=false: "
                   "float32)")
    r.add_argument("--calibrate", type=float, default=10.0, help="seconds timing the data")
    r.add_argument("--out", required=True, help="summary, log, curves and the .keras files")
    r.add_argument("--work", default=None, help="the run's own folder (default OUT/run)")
    r.add_argument("--set", nargs="*", default=[], help="more config overrides key=value")
    r.set_defaults(func=run)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
