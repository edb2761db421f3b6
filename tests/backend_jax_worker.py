"""Run by tests/test_backend_jax.py in a subprocess: Keras on JAX with TensorFlow BLOCKED.

The Keras backend is fixed per process, so the JAX side of the cross-backend tests runs
here (``KERAS_BACKEND=jax``); ``import tensorflow`` (and ``tf_keras``) raise ImportError,
which proves the model, layers, losses, metrics and ``fit`` need no TensorFlow.

Usage: ``python backend_jax_worker.py MODES FOLDER``, MODES a comma-separated list of
``learn``, ``trainer``, ``parity``, ``devices`` (run with two host devices).
"""
from __future__ import annotations

import importlib.abc
import json
import os
import pathlib
import sys


class _BlockTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in ("tensorflow", "tf_keras"):
            raise ImportError(f"{fullname} is blocked: this process runs without TensorFlow")
        return None


sys.meta_path.insert(0, _BlockTensorFlow())
os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # synthetic_faces

import numpy as np  # noqa: E402

TASKS = ("heatmaps", "pose", "occlusion")


def learn(folder: pathlib.Path) -> None:
    """Fit a tiny LPONet on synthetic faces (partial labels) with jit; report before/after."""
    import keras

    import lponet_tf
    from lponet_tf.data.sample import prepare_sample
    from synthetic_faces import labelled_faces

    config = lponet_tf.LPONetConfig(input_size=32, channels=16, hourglass_depth=2, num_stacks=1)

    def faces(sub, n, seed, pose, mask):
        return labelled_faces(folder / sub, n, seed, pose=pose, mask=mask)

    def arrays(records):
        samples = [prepare_sample(r, config.input_size, image_dtype="float32") for r in records]
        x = np.stack([s.image for s in samples])
        y = {t: np.stack([s.targets[t] for s in samples]) for t in TASKS}
        w = {t: np.array([s.weights[t] for s in samples], np.float32) for t in TASKS}
        return x, y, w

    train_records = faces("a", 16, 1, pose=True, mask=False) + faces("b", 16, 2, pose=False, mask=True)
    xv, yv, wv = arrays(faces("c", 16, 3, pose=True, mask=True))
    keras.utils.set_random_seed(0)
    model = lponet_tf.build_lponet(config)
    model.compile(optimizer=keras.optimizers.Adam(float(os.environ.get("LPONET_TEST_LR", "2e-3"))))
    before = model.evaluate(xv, yv, sample_weight=wv, batch_size=16, verbose=0, return_dict=True)
    # The public entry (README): on JAX it returns the numpy pipeline's FaceBatches.
    batches = lponet_tf.make_dataset(train_records, model, batch_size=8, augment=False, seed=0)
    assert type(batches).__name__ == "FaceBatches", type(batches)
    history = model.fit(batches, epochs=int(os.environ.get("LPONET_TEST_EPOCHS", "12")), steps_per_epoch=4,
                        verbose=0).history
    after = model.evaluate(xv, yv, sample_weight=wv, batch_size=16, verbose=0, return_dict=True)
    model.save(folder / "jax.keras")
    np.savez(folder / "jax_predictions.npz", x=xv[:4],
             **{k: np.asarray(v) for k, v in model.predict(xv[:4], verbose=0).items()})
    report = {"history": history, "before": before, "after": after,
              "backend": keras.backend.backend(), "jit": bool(model.jit_compile),
              "tensorflow_imported": "tensorflow" in sys.modules}
    (folder / "learn.json").write_text(json.dumps(report, default=float))


def trainer(folder: pathlib.Path) -> None:
    """``lponet_tf.training.train`` on JAX (numpy pipeline): one epoch, then a resume."""
    import csv

    from lponet_tf.training.config import validate_config
    from lponet_tf.training.trainer import train
    from synthetic_faces import write_300w_folder

    faces = write_300w_folder(folder / "faces300w", 12)
    config = validate_config({
        "model": {"input_size": 16, "channels": 8, "num_stacks": 1, "hourglass_depth": 1,
                  "fpf": "none", "ioaf": False, "pose": "6d", "pose_hidden": 8},
        "data": {"train": [{"name": "300w", "root": str(faces), "pseudo_pose": True}],
                 "validation": [{"name": "300w", "root": str(faces)}]},
        "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "train": {"batch_size": 4, "steps": 4, "steps_per_epoch": 2, "seed": 0, "verbose": 0},
        "output_dir": str(folder / "run"),
    })
    first = train(config, epochs_limit=1)
    second = train(config)
    with open(folder / "run" / "training_log.csv") as f:
        rows = list(csv.DictReader(f))
    # In one go with two data worker threads: the same stream (Keras' shape peek used to
    # take the first batch from the workers' queue), so the weights of the resumed run.
    threads = train(validate_config(dict(config, output_dir=str(folder / "run_threads"),
                                         train=dict(config["train"], data_workers=2))))
    import keras
    import numpy as np

    weights = [keras.saving.load_model(r.model_path, compile=False).get_weights()
               for r in (second, threads)]
    report = {"weights_differ_by": max(float(np.max(np.abs(a - b))) for a, b in zip(*weights)),
              "steps": [first.steps, second.steps], "epochs_logged": [r["epoch"] for r in rows],
              "val_loss": [float(r["val_loss"]) for r in rows],
              "files": sorted(p.name for p in (folder / "run").iterdir()),
              "tensorflow_imported": "tensorflow" in sys.modules}
    (folder / "trainer.json").write_text(json.dumps(report))


def parity(folder: pathlib.Path) -> None:
    """Forward passes, losses and metrics of the TF side's inputs, on JAX (float32 / 64)."""
    import keras

    import lponet_tf  # noqa: F401  (registers the classes for safe_mode loading)
    from lponet_tf import keras_metrics as KM
    from lponet_tf import losses as L

    out = {}
    data = dict(np.load(folder / "inputs.npz"))
    for precision in ("float64", "float32"):
        keras.config.set_floatx(precision)
        keras.mixed_precision.set_global_policy(precision)
        model = keras.saving.load_model(folder / "tf.keras", safe_mode=True, compile=False)
        x = data["x"].astype(precision)
        for k, v in model(x, training=False).items():
            out[f"{precision}/infer/{k}"] = np.asarray(v)
        for k, v in model(x, training=True).items():  # batch statistics in BatchNorm
            out[f"{precision}/train/{k}"] = np.asarray(v)
    keras.config.set_floatx("float32")
    keras.mixed_precision.set_global_policy("float32")
    sw = data["weights"]
    losses = {
        "heatmap_weighted": L.HeatmapLoss(weighted=True, normalize="labelled"),
        "pose_geodesic": L.PoseLoss("geodesic"),
        "pose_mae": L.PoseLoss("mae", normalize="labelled"),
        "occlusion": L.OcclusionLoss(),
    }
    target = {"heatmap_weighted": "heatmaps", "pose_geodesic": "pose", "pose_mae": "pose",
              "occlusion": "occlusion"}
    for name, loss in losses.items():
        t = target[name]
        out[f"loss/{name}"] = np.asarray(loss(data[f"y_{t}"], data[f"p_{t}"], sample_weight=sw))
    metrics = {"nme": (KM.HeatmapNME(), "heatmaps"), "geodesic": (KM.PoseGeodesic(), "pose"),
               "pose_mae": (KM.PoseMAE(), "pose"), "miou": (KM.MaskIoU(), "occlusion")}
    for name, (metric, t) in metrics.items():
        metric.update_state(data[f"y_{t}"], data[f"p_{t}"], sample_weight=sw)
        out[f"metric/{name}"] = np.asarray(metric.result())
    out["tensorflow_imported"] = np.array("tensorflow" in sys.modules)
    np.savez(folder / "jax_outputs.npz", **out)


def devices(folder: pathlib.Path) -> None:
    """``lponet_tf.training.train`` over two (host) devices: a validation set whose last batch
    does not split over them (11 faces, batch 4: 3 left), ``train.devices`` choosing one,
    unknown devices and float64 without 64-bit JAX refused."""
    import contextlib
    import csv
    import io

    import keras

    from lponet_tf.training.config import ConfigError, validate_config
    from lponet_tf.training.trainer import train
    from synthetic_faces import write_300w_folder

    faces = write_300w_folder(folder / "faces300w", 12)

    def config(name, **train_options):
        return validate_config({
            "model": {"input_size": 16, "channels": 8, "num_stacks": 1, "hourglass_depth": 1,
                      "fpf": "none", "ioaf": False, "pose": "6d", "pose_hidden": 8},
            "data": {"train": [{"name": "300w", "root": str(faces), "pseudo_pose": True}],
                     "validation": [{"name": "300w", "root": str(faces), "limit": 11}]},
            "optimizer": {"name": "adam", "learning_rate": 1e-3},
            "train": {"batch_size": 4, "steps": 2, "steps_per_epoch": 1, "seed": 0,
                      "verbose": 0, **train_options},
            "output_dir": str(folder / name),
        })

    report = {"devices": keras.distribution.list_devices()}
    for name, options in (("both", {}), ("one", {"devices": ["/cpu:1"]})):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            train(config(name, **options))
        with open(folder / name / "training_log.csv") as f:
            rows = list(csv.DictReader(f))
        report[name] = {"printed": printed.getvalue(),
                        "val_loss": [float(r["val_loss"]) for r in rows]}
    import lponet_tf.training.trainer as trainer

    def no_data(config):  # both refusals come before the data is read
        raise RuntimeError("the data was read before the refusal")

    read_data, trainer.data_plan = trainer.data_plan, no_data
    for name, options in (("unknown", {"devices": ["gpu:7"]}),
                          ("float64", {"mixed_precision": "float64"})):
        try:
            train(config(name, **options))
            report[name] = None
        except (ConfigError, RuntimeError) as exc:
            report[name] = str(exc)
    trainer.data_plan = read_data
    (folder / "devices.json").write_text(json.dumps(report))


if __name__ == "__main__":
    for mode in sys.argv[1].split(","):  # one process (one JAX start-up) for several
        {"learn": learn, "trainer": trainer, "parity": parity,
         "devices": devices}[mode](pathlib.Path(sys.argv[2]))
