"""The 1/N of Eq. 3-8 with partial labels (``loss.normalize``), checked through the compiled
training objective against a numpy transcription of Eq. 9 written here; the count summed
over replicas under tf.distribute (a subprocess with two logical CPUs)."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
from scipy.ndimage import maximum_filter  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from lponet_tf.config import LPONetConfig  # noqa: E402
from lponet_tf.data.pipeline import exact_counts  # noqa: E402
from lponet_tf.losses import HeatmapLoss, OcclusionLoss, PoseLoss  # noqa: E402
from lponet_tf.training.config import load_config  # noqa: E402
from lponet_tf.training.objectives import losses_and_weights  # noqa: E402

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "lponet_tf" / "configs"
TASKS = ("heatmaps", "pose", "occlusion")


# ---------------------------------------------------------------- numpy, from the paper
def eq5(L, Lhat, omega, W, weighted):
    """Eq. 5 per sample (with Eq. 6-7's weighted map when ``weighted``)."""
    se = (omega * L - Lhat) ** 2
    if weighted:
        M = maximum_filter(L, size=(1, 3, 3, 1), mode="constant", cval=-np.inf) >= 0.2
        se = se * (W * M + 1.0)
    return se.reshape(len(L), -1).mean(1)


def eq4(R, Rhat):
    """Eq. 4 per sample: the angle of R Rhat^T."""
    return Rotation.from_matrix(R @ np.swapaxes(Rhat, 1, 2)).magnitude()


def eq8(O, Ohat):
    """Eq. 8 per sample: -(1/HW) sum O log Ohat."""
    return -(O * np.log(np.clip(Ohat, 1e-7, 1.0))).sum(-1).reshape(len(O), -1).mean(1)


def eq9(per_sample, weights, alpha, beta, gamma, normalize):
    """Eq. 9 over a mixed batch: each task's sum over the samples that carry its label,
    divided by the batch size N ("batch") or by the number of those samples ("labelled")."""
    total = 0.0
    for task, scale in zip(TASKS, (alpha, beta, gamma)):
        w = weights[task]
        n = len(w) if normalize == "batch" else w.sum()
        total += scale * (w * per_sample[task]).sum() / n
    return total


# ------------------------------------------------------------------------ a mixed batch
def stage2_batch(n=20, k=5, h=8, seed=0):
    """A 4:3:3 batch (landmark set, 300W-LP pose, C-CM masks) with partial labels."""
    rng = np.random.default_rng(seed)
    counts = exact_counts((4, 3, 3), n)
    src = np.repeat([0, 1, 2], counts)
    yy, xx = np.mgrid[0:h, 0:h]
    L = np.zeros((n, h, h, k), np.float32)
    for i in range(n):
        for j in range(k):
            cy, cx = rng.uniform(1, h - 2, 2)
            L[i, ..., j] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0)
    R = Rotation.random(n, random_state=seed).as_matrix().astype(np.float32)
    O = np.eye(2, dtype=np.float32)[rng.integers(0, 2, (n, h, h))]
    weights = {"heatmaps": (src == 0), "pose": (src == 1), "occlusion": (src == 2)}
    weights = {t: w.astype(np.float32) for t, w in weights.items()}
    # Missing labels: zero targets (docs/CONVENTIONS.md).
    L[src != 0] = 0.0
    R[src != 1] = 0.0
    O[src != 2] = 0.0
    targets = {"heatmaps": L, "pose": R, "occlusion": O}
    logits = rng.normal(size=(n, h, h, 2))
    preds = {
        "heatmaps": (60.0 * L + rng.normal(scale=4.0, size=L.shape)).astype(np.float32),
        "pose": Rotation.random(n, random_state=seed + 1).as_matrix().astype(np.float32),
        "occlusion": (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32),
    }
    return targets, preds, weights, counts


def _identity_model():
    """A model whose outputs are its inputs, named like LPONet's final outputs."""
    inputs = {k: keras.Input(shape, name=k) for k, shape in (("h", (8, 8, 5)), ("p", (3, 3)), ("o", (8, 8, 2)))}
    outputs = {t: keras.layers.Identity(name=t)(inputs[k]) for t, k in zip(TASKS, "hpo")}
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("normalize", ["labelled", "batch"])
@pytest.mark.parametrize("stage", ["stage1.yaml", "stage2_300w.yaml"])
def test_compiled_objective_is_eq9_with_the_chosen_normalisation(stage, normalize):
    loss_cfg = dict(load_config(CONFIGS / stage, [f"loss.normalize={normalize}"])["loss"])
    targets, preds, weights, counts = stage2_batch()
    losses, scale = losses_and_weights(LPONetConfig(num_stacks=1, pose="6d"), loss_cfg)
    model = _identity_model()
    model.compile(loss=losses, loss_weights=scale, jit_compile=False)
    x = {"h": preds["heatmaps"], "p": preds["pose"], "o": preds["occlusion"]}
    ds = tf.data.Dataset.from_tensors((x, targets, weights))
    got = model.evaluate(ds, verbose=0, return_dict=True)["loss"]

    per_sample = {
        "heatmaps": eq5(targets["heatmaps"], preds["heatmaps"], loss_cfg["omega"], loss_cfg["W"],
                        loss_cfg["weighted"]),
        "pose": eq4(np.where(weights["pose"][:, None, None] > 0, targets["pose"], np.eye(3)), preds["pose"]),
        "occlusion": eq8(targets["occlusion"], preds["occlusion"]),
    }
    a, b, g = loss_cfg["alpha"], loss_cfg["beta"], loss_cfg["gamma"]
    want = eq9(per_sample, weights, a, b, g, normalize)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    other = eq9(per_sample, weights, a, b, g, "batch" if normalize == "labelled" else "labelled")
    assert abs(other - want) > 0.1 * abs(want)  # the two readings really differ here
    if normalize == "batch":
        # ... by each task's share of the batch (26/19/19 of 64 in stage 2).
        shares = [c / sum(counts) for c in counts]
        scaled = eq9(per_sample, weights, a * shares[0], b * shares[1], g * shares[2], "labelled")
        np.testing.assert_allclose(got, scaled, rtol=1e-4)


def test_the_paper_configs_normalise_by_labelled_samples_and_the_preset_keeps_the_batch():
    for name in ("stage1.yaml", "stage2_300w.yaml", "stage2_wflw.yaml"):
        losses, _ = losses_and_weights(LPONetConfig(), load_config(CONFIGS / name)["loss"])
        assert {loss.normalize for loss in losses.values()} == {"labelled"}, name
    for name in ("preset_lite.yaml", "quickstart.yaml"):
        losses, _ = losses_and_weights(LPONetConfig(), load_config(CONFIGS / name)["loss"])
        assert {loss.normalize for loss in losses.values()} == {"batch"}, name


@pytest.mark.parametrize("make", [lambda n: HeatmapLoss(weighted=True, normalize=n),
                                  lambda n: PoseLoss("mae", normalize=n),
                                  lambda n: OcclusionLoss(normalize=n)])
def test_normalize_serialises_and_a_batch_without_labels_gives_zero(make):
    loss = make("labelled")
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(clone) is type(loss) and clone.get_config() == loss.get_config()
    assert clone.normalize == "labelled"
    y = np.random.default_rng(0).uniform(size=(4, 4, 4, 2)).astype(np.float32)
    if isinstance(loss, PoseLoss):
        y = y.reshape(4, -1)[:, :3]
    p = y[::-1].copy()
    w = np.array([0, 2, 0, 1], np.float32)
    per_sample = loss.call(tf.constant(y), tf.constant(p)).numpy()
    np.testing.assert_allclose(float(clone(y, p, sample_weight=w)), (w * per_sample).sum() / 3, rtol=1e-5)
    np.testing.assert_allclose(float(make("batch")(y, p, sample_weight=w)), (w * per_sample).sum() / 4, rtol=1e-5)
    pred = tf.Variable(p)
    with tf.GradientTape() as tape:
        value = loss(y, pred, sample_weight=np.zeros(4, np.float32))
    assert float(value) == 0.0 and not tape.gradient(value, pred).numpy().any()


def test_bad_normalize_values():
    with pytest.raises(ValueError, match="normalize"):
        OcclusionLoss(normalize="samples")
    with pytest.raises(ValueError, match="reduction"):
        OcclusionLoss(normalize="labelled", reduction="none")


_REPLICAS = r"""
import json, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from lponet_tf.losses import OcclusionLoss
rng = np.random.default_rng(0)
y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, (8, 4, 4))]
p = rng.uniform(0.05, 0.95, (8, 4, 4, 1)).astype(np.float32); p = np.concatenate([p, 1 - p], -1)
w = np.array([1, 1, 1, 0, 0, 0, 1, 0], np.float32)  # replica 0: 3 labelled, replica 1: 1
out = {"single": float(OcclusionLoss(normalize="labelled")(y, p, sample_weight=w)),
       "per_sample": OcclusionLoss().call(tf.constant(y), tf.constant(p)).numpy().tolist(),
       "weights": w.tolist()}
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors((y, p, w)))
loss = OcclusionLoss(normalize="labelled")
for yb, pb, wb in ds:
    per = strategy.run(lambda a, b, c: loss(a, b, sample_weight=c), args=(yb, pb, wb))
    out["replicas"] = [float(v) for v in strategy.experimental_local_results(per)]
print(json.dumps(out))
"""


def test_labelled_count_is_summed_over_replicas():
    """Two replicas with 3 and 1 labelled samples: their values add up to the one-device
    loss (gradients are summed over replicas), each being its share of the global mean."""
    done = subprocess.run([sys.executable, "-c", _REPLICAS], capture_output=True, text=True, timeout=300,
                          cwd=pathlib.Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    weighted = np.array(out["weights"]) * np.array(out["per_sample"])
    count = sum(out["weights"])
    np.testing.assert_allclose(out["single"], weighted.sum() / count, rtol=1e-5)
    # Not each replica's own mean (3 and 1 labelled): its sum over the global count.
    np.testing.assert_allclose(out["replicas"], [weighted[:4].sum() / count, weighted[4:].sum() / count], rtol=1e-5)
    np.testing.assert_allclose(sum(out["replicas"]), out["single"], rtol=1e-5)


def test_deep_supervision_gives_every_stack_the_tasks_weight_and_off_only_the_last():
    from lponet_tf.config import LPONetConfig
    from lponet_tf.training.objectives import losses_and_weights

    loss_cfg = {"alpha": 1.0, "beta": 2.0, "gamma": 10.0, "omega": 60.0, "weighted": False,
                "W": 10.0, "pose": "geodesic", "deep_supervision": True, "normalize": "batch"}
    _, weights = losses_and_weights(LPONetConfig(num_stacks=2, pose="6d"), loss_cfg)
    # Eq. 9 on every stack's outputs (deep supervision): alpha, beta, gamma for stack 1 too.
    assert weights == {"heatmaps_1": 1.0, "pose_1": 2.0, "occlusion_1": 10.0,
                       "heatmaps": 1.0, "pose": 2.0, "occlusion": 10.0}
    _, off = losses_and_weights(LPONetConfig(num_stacks=2, pose="6d"),
                                dict(loss_cfg, deep_supervision=False))
    assert off == {"heatmaps_1": 0.0, "pose_1": 0.0, "occlusion_1": 0.0,
                   "heatmaps": 1.0, "pose": 2.0, "occlusion": 10.0}
