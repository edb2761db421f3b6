#!/usr/bin/env python
"""Training step time under each ``train.mixed_precision``, interleaved: is bfloat16 native here?

    python benchmarks/bench_train_precision.py [--config preset_lite] [--batch 16]
        [--policies float32 mixed_bfloat16] [--rounds 5] [--steps 10] [--out out/precision.md]

One model per policy (the config's architecture, losses, loss weights, optimizer and metrics,
compiled as ``lponet train`` compiles it), trained on one fixed batch of the config's shapes,
so the figures are the network's compute per step (forward, backward, update) without the
data pipeline, which costs the same under every policy. Every round runs ``--steps`` steps
of each policy in turn (order rotated each round); a load change slows all policies of a
round alike, so read the ratio column (median of the per-round ratios to the first policy).
The CPU's bfloat16 flags are printed beside it (``lponet_tf.training.precision``).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_export import cpu_name  # noqa: E402


def _batch(model, batch: int, seed: int = 0):
    """A fixed batch: an image, and targets in each output's range (rotations for the pose)."""
    rng = np.random.default_rng(seed)
    size = model.inputs[0].shape[1]
    x = rng.uniform(0, 1, (batch, size, size, 3)).astype(np.float32)
    y = {}
    for name, out in zip(model.output_names, model.outputs):
        shape = (batch, *out.shape[1:])
        if name.startswith("pose"):
            y[name] = np.repeat(np.eye(3, dtype=np.float32)[None], batch, axis=0)
        elif name.startswith("occlusion"):
            y[name] = np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], shape[:-1])]
        else:
            y[name] = rng.uniform(0, 1, shape).astype(np.float32)
    return x, y


def _compiled(config: dict, policy: str):
    from lponet_tf.config import LPONetConfig
    from lponet_tf.model import build_lponet
    from lponet_tf.training.objectives import losses_and_weights, make_optimizer, metrics_for
    from lponet_tf.training.precision import set_precision

    set_precision(policy)
    model_cfg = LPONetConfig.from_dict(config["model"])
    model = build_lponet(model_cfg)
    losses, weights = losses_and_weights(model_cfg, config["loss"])
    model.compile(optimizer=make_optimizer(config["optimizer"]), loss=losses, loss_weights=weights,
                  weighted_metrics=metrics_for(model_cfg, decode=config["train"]["nme_decode"]))
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="preset_lite", help="a shipped training config or a YAML path")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="steps per policy per round")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps per policy (tracing)")
    ap.add_argument("--out", help="also write the Markdown table here")
    args = ap.parse_args(argv)
    from lponet_tf.training.config import PRECISIONS, load_config

    unknown = [p for p in args.policies if p not in PRECISIONS]
    if unknown:
        ap.error(f"unknown policies {unknown}; choose from {PRECISIONS}")
    if min(args.batch, args.rounds, args.steps) < 1 or args.warmup < 0:
        ap.error("--batch, --rounds and --steps must be >= 1, --warmup >= 0")
    config = load_config([args.config], [], {})
    from tqdm import tqdm

    from lponet_tf.training.precision import accelerator_visible, cpu_has_native_bf16, set_precision

    models = {}
    for policy in args.policies:
        model = _compiled(config, policy)
        x, y = _batch(model, args.batch)
        for _ in range(args.warmup):
            model.train_on_batch(x, y)
        models[policy] = (model, x, y)
    set_precision(None)

    times = {p: [] for p in args.policies}
    ratios = {p: [] for p in args.policies}
    for r in tqdm(range(args.rounds), desc="rounds"):
        order = args.policies[r % len(args.policies):] + args.policies[:r % len(args.policies)]
        this_round = {}
        for policy in order:
            model, x, y = models[policy]
            t0 = time.perf_counter()
            for _ in range(args.steps):
                model.train_on_batch(x, y)
            this_round[policy] = (time.perf_counter() - t0) / args.steps
            times[policy].append(this_round[policy])
        for policy in args.policies:
            ratios[policy].append(this_round[policy] / this_round[args.policies[0]])

    native = cpu_has_native_bf16()
    lines = [
        f"# Training step time by precision ({time.strftime('%Y-%m-%d')})", "",
        f"CPU: {cpu_name()}, {os.cpu_count()} cores visible; native bfloat16 (AVX512-BF16 / AMX / "
        f"arm64 bf16): {'unknown' if native is None else 'yes' if native else 'no'}; accelerator: "
        f"{'yes' if accelerator_visible() else 'none'}. Config `{args.config}`, batch {args.batch}, "
        f"{args.rounds} interleaved rounds of {args.steps} steps per policy after {args.warmup} "
        f"warm-up steps; a fixed batch (compute only, no data pipeline). "
        f"Load average at the end: {[round(v, 2) for v in os.getloadavg()]}.", "",
        f"| policy | s / step (median of rounds) | ratio to {args.policies[0]} (median) |",
        "|---|---:|---:|",
    ]
    for policy in args.policies:
        lines.append(f"| {policy} | {statistics.median(times[policy]):.3f} | "
                     f"{statistics.median(ratios[policy]):.2f}x |")
    lines += ["", "```", "python benchmarks/bench_train_precision.py " + " ".join(argv or sys.argv[1:]), "```"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
