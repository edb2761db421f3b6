"""Is a multi-replica run the same training as one device? A measurement, not a belief.

Every run starts from one saved initial model and takes the same few plain-SGD steps on
the config's data stream; each run reports the UPDATE of every trainable weight (final -
initial). SGD keeps updates proportional to gradients, so a wrong aggregation across
replicas (a loss scaled by the replica count, replicas fed other samples, unsynchronised
BatchNorm) shows as a large difference. Each run is a fresh process: logical devices and
the dtype policy must be set before TensorFlow starts.

Rows of the report, each the relative difference ``|u - u_ref| / |u_ref|`` of all
updates against one device in float64:

* one device, float32 — the rounding floor: how far float32 alone moves the update
  (percents after a few steps of a small LPONet: the gradient amplifies rounding);
* ``mirrored``, float32 — should be of the same order as the floor, not more;
* ``mirrored``, float64 — the numerical proof: agrees to ~1e-12 when the aggregation is
  right;
* ``multi_worker`` with two worker processes on localhost, float64 (``--multi-worker``).

Usage::

    python -m lponet_tf.training.equivalence report \\
        --config quickstart --data-root 300w=/data/300w
    # on a machine with two GPUs
    python -m lponet_tf.training.equivalence report --config ... --devices /gpu:0,/gpu:1

``worker`` is the single-run entry point the report (and the tests) start per process.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import yaml

SGD = ["optimizer.name=sgd", "optimizer.learning_rate=1e-5", "optimizer.decay_steps=[]",
       "optimizer.decay_values=[]"]
FLOAT64 = ["train.mixed_precision=float64"]


def run_worker(config_path: str, updates_path: str, init_path: str, overrides: Sequence[str]) -> int:
    """Train as the config says (SGD from ``init_path``); the chief saves the updates."""
    import keras

    from lponet_tf.training.config import load_config
    from lponet_tf.training.trainer import train

    cfg = load_config(config_path, list(overrides) + SGD + [f"init_from={init_path}"])
    result = train(cfg)
    if result.chief:
        final = keras.models.load_model(result.output_dir / "model.keras", compile=False)
        start = {layer.name: layer for layer in
                 keras.models.load_model(init_path, compile=False).layers}
        # Trainable weights: the gradient-driven part (BatchNorm moving statistics are
        # running averages of activations, not gradient updates).
        np.savez(updates_path, *[
            np.asarray(w, "float64") - np.asarray(i, "float64")
            for layer in final.layers if layer.trainable_weights
            for w, i in zip(layer.trainable_weights, start[layer.name].trainable_weights)
        ])
    print("steps", result.steps)
    return 0


def load_updates(path) -> List[np.ndarray]:
    with np.load(path) as d:
        return [d[k] for k in sorted(d.files, key=lambda k: int(k.split("_")[1]))]


def relative_difference(reference: Sequence[np.ndarray], other: Sequence[np.ndarray]) -> float:
    """``|other - reference| / |reference|`` over all weights (reference must have moved)."""
    ref = np.concatenate([a.ravel() for a in reference])
    got = np.concatenate([a.ravel() for a in other])
    if not np.linalg.norm(ref) > 0:
        raise ValueError("the reference run did not move its weights")
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))


def _command(config, updates, init, overrides) -> List[str]:
    return [sys.executable, "-m", "lponet_tf.training.equivalence", "worker", str(config),
            str(updates), str(init), *overrides]


def run_single(config, updates, init, overrides, timeout: int = 900) -> subprocess.CompletedProcess:
    """One training process; raises ``RuntimeError`` with its stderr when it fails."""
    done = subprocess.run(_command(config, updates, init, overrides), capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"worker {overrides} failed:\n{done.stderr[-3000:]}")
    return done


def free_ports(n: int) -> List[int]:
    """``n`` distinct ports that were free a moment ago (bound to port 0, then released:
    the worker processes must bind them themselves, so another process can take one in
    between; :func:`run_local_workers` retries with new ports when that happens)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


#: What a worker's stderr says when its gRPC server could not bind its port.
PORT_TAKEN = ("Address already in use", "Failed to add port", "Could not start gRPC server")


class PortTakenError(RuntimeError):
    """A worker could not bind the port it was given (taken since :func:`free_ports`)."""


def run_local_workers(config, updates_dir, init, overrides, workers: int = 2,
                      timeout: int = 900, attempts: int = 3) -> List[str]:
    """A ``multi_worker`` run with ``workers`` processes on localhost (``TF_CONFIG``).

    Worker ``i`` writes its updates to ``updates_dir/w{i}.npz`` if it is the chief. When a
    worker fails because its port was taken meanwhile, the run starts again on new ports
    (up to ``attempts`` runs).

    Returns:
        Each worker's stdout.

    Raises:
        RuntimeError: naming the failed worker, with its stderr (``PortTakenError`` when
            every attempt lost a port).
    """
    for attempt in range(1, attempts + 1):
        try:
            return _run_workers_once(config, pathlib.Path(updates_dir), init, overrides,
                                     workers, timeout)
        except PortTakenError:
            if attempt == attempts:
                raise


def _run_workers_once(config, updates_dir: pathlib.Path, init, overrides, workers: int,
                      timeout: int) -> List[str]:
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(workers)]}
    logs = [(updates_dir / f"worker{i}.out", updates_dir / f"worker{i}.err")
            for i in range(workers)]
    procs = []
    try:
        for index, (out, err) in enumerate(logs):
            env = dict(os.environ, TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}))
            with open(out, "w") as stdout, open(err, "w") as stderr:
                procs.append(subprocess.Popen(
                    _command(config, updates_dir / f"w{index}.npz", init,
                             [*overrides, "train.distribute=multi_worker"]),
                    stdout=stdout, stderr=stderr, text=True, env=env))
        deadline = time.monotonic() + timeout
        # A worker left alone waits in a collective op: stop at the first failure.
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any(p.returncode for p in procs):
                break
            time.sleep(0.2)
        failed = [i for i, p in enumerate(procs) if p.poll() not in (None, 0)]
        unfinished = [i for i, p in enumerate(procs) if p.poll() is None]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    errors = [err.read_text() for _, err in logs]
    if any(text in errors[i] for i in failed for text in PORT_TAKEN):
        raise PortTakenError(f"a worker's port was taken:\n{errors[failed[0]][-2000:]}")
    if failed:
        raise RuntimeError(f"worker {failed[0]} failed (exit {procs[failed[0]].returncode}):\n"
                           f"{errors[failed[0]][-3000:]}")
    if unfinished:
        raise RuntimeError(f"workers {unfinished} did not finish within {timeout} s:\n"
                           f"{errors[unfinished[0]][-3000:]}")
    return [out.read_text() for out, _ in logs]


def report(config: str, devices: Sequence[str], multi_worker: bool,
           workdir: pathlib.Path) -> Dict[str, float]:
    """Run the rows of the module docstring on a resolved config file (data roots absolute);
    returns ``{row: relative difference}``."""
    from lponet_tf.config import LPONetConfig
    from lponet_tf.model import build_lponet
    from lponet_tf.training.config import load_config

    model_cfg = LPONetConfig.from_dict(load_config(config)["model"])
    init = workdir / "init.keras"
    build_lponet(model_cfg).save(init)
    mirrored = ["train.distribute=mirrored", f"train.devices=[{','.join(devices)}]"]

    def run(name, extra):
        run_single(config, workdir / f"{name}.npz", init,
                   [*extra, f"output_dir={workdir / name}"])
        return load_updates(workdir / f"{name}.npz")

    reference = run("single_float64", FLOAT64)
    rows = {
        "one device, float32 (rounding floor)": run("single_float32", []),
        f"mirrored on {len(devices)} devices, float32": run("mirrored_float32", mirrored),
        f"mirrored on {len(devices)} devices, float64": run("mirrored_float64", [*mirrored, *FLOAT64]),
    }
    if multi_worker:
        run_local_workers(config, workdir, init, [*FLOAT64, f"output_dir={workdir / 'multi_worker'}"])
        rows["multi_worker, 2 local processes, float64"] = load_updates(workdir / "w0.npz")
    return {name: relative_difference(reference, updates) for name, updates in rows.items()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lponet_tf.training.equivalence",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="one training process (used by report and the tests)")
    worker.add_argument("config")
    worker.add_argument("updates")
    worker.add_argument("init")
    worker.add_argument("overrides", nargs="*")
    rep = sub.add_parser("report", help="single vs mirrored (vs multi-worker) updates")
    rep.add_argument("--config", required=True)
    rep.add_argument("--data-root", action="append", default=[], metavar="NAME=PATH")
    rep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    rep.add_argument("--steps", type=int, default=3)
    rep.add_argument("--batch-size", type=int, default=4)
    rep.add_argument("--devices", default="/cpu:0,/cpu:1")
    rep.add_argument("--multi-worker", action="store_true",
                     help="also two worker processes on localhost")
    rep.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args(argv)
    if args.command == "worker":
        return run_worker(args.config, args.updates, args.init, args.overrides)

    from lponet_tf.training.config import load_config, parse_data_roots

    # Data roots resolve here, once, into a config file every worker reads.
    roots = parse_data_roots(args.data_root)
    overrides = [*args.overrides, f"train.steps={args.steps}",
                 f"train.steps_per_epoch={args.steps}", f"train.batch_size={args.batch_size}",
                 "train.validation_steps=null", "data.validation=[]", "train.verbose=0"]
    with tempfile.TemporaryDirectory(prefix="lponet-equivalence-") as tmp:
        workdir = pathlib.Path(tmp)
        resolved = load_config(args.config, overrides, roots)
        (workdir / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
        rows = report(str(workdir / "config.yaml"), args.devices.split(","), args.multi_worker,
                      workdir)
    table = [f"Updates after {args.steps} SGD steps of batch {args.batch_size} "
             f"({args.config}), relative to one device in float64:", "",
             "| run | relative difference |", "|---|---:|"]
    table += [f"| {name} | {value:.2e} |" for name, value in rows.items()]
    text = "\n".join(table)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
