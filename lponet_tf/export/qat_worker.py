"""Quantisation-aware training, run in its own process (see :mod:`lponet_tf.export.qat`).

Importing tensorflow-model-optimization sets ``TF_USE_LEGACY_KERAS=1`` for the whole
process (``tf.keras`` becomes ``tf_keras``), so this module is only ever run as
``python -m lponet_tf.export.qat_worker SPEC.json``; the calling process never imports it.

Steps:
  1. Load the Keras 3 model and real training-split face crops; record the float model's
     outputs on them (the distillation targets) *before* tfmot is imported.
  2. Build the same architecture with ``tf_keras`` from the same ``LPONetConfig``
     (:func:`lponet_tf.model.build_graph`, one builder for both Keras versions) and copy
     the weights by layer name.
  3. Freeze the batch norms (fine-tuning on small batches must not move their statistics;
     frozen, they fold into the convolutions exactly as in post-training conversion),
     annotate every layer (a no-op QuantizeConfig for the pose head -- ``pose_gap``,
     ``pose_fc1``, ``pose_fc2`` and the Gram-Schmidt / pose output layer, see
     :data:`POSE_HEAD_LAYERS` -- and for the ``keep_float`` layers, an output quantizer
     for ``Rescaling`` and, in a file with int8 / uint8 I/O, for the pose output), then
     ``quantize_apply`` inside ``quantize_scope``.
  4. Calibrate the activation ranges: tfmot starts them at [-6, 6] (inputs [0, 0]) and
     moves them by an EMA with decay 0.999, i.e. over thousands of steps; a short QAT
     would train against clipped heatmaps (peaks of 60 clipped at 6). The EMA decay is
     made a variable (:func:`_controllable_ema`) and set to ``1 - 1/(i+1)`` over
     ``calibration_steps`` forward passes, which makes each range the mean of the batch
     ranges, then back to 0.999 for fine-tuning.
  5. Fine-tune with the project's losses (:mod:`lponet_tf.losses`, plain TF ops that work
     on tf_keras tensors): :class:`HeatmapLoss` (omega = 60, weighted), the geodesic
     :class:`PoseLoss` and :class:`OcclusionLoss`. Targets are the float model's outputs
     (``target="teacher"``: QAT should reproduce the float model) or, for the heatmaps,
     the ground-truth landmarks (``target="labels"``; 300W has no pose / mask labels, so
     those stay the float model's).
  6. Save the QAT model as a SavedModel whose signature keeps the names ``image`` ->
     ``heatmaps``, ``pose``, ``occlusion`` (``quantize_apply`` renames the Keras outputs
     to ``quant_*``), convert it to int8 TFLite and embed the metadata.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time

import numpy as np

from lponet_tf.export.int8 import EULER_OUTPUT_RANGE

#: Keras layer names of the pose head, kept in float in every QAT file. Its ranges learnt on
#: training faces clipped large poses as post-training int8's did (docs/export.md, "Large
#: poses"): 7.5 / 7.3 deg off the Keras model at 45 / 60 deg of roll with the head in int8,
#: 0.9 unturned. Under 0.01% of the MACs. The layer-name twin of ``int8.POSE_HEAD``.
POSE_HEAD_LAYERS = r"^pose(_gap|_fc\d)?(_\d+)?$"


def _teacher(spec):
    from lponet_tf.export.parity import run_batched
    from lponet_tf.export.representative import load_faces
    from lponet_tf.runtime.keras_runner import KerasRunner

    runner = KerasRunner(spec["model"])
    size = runner.metadata.input_size
    faces = load_faces(spec["data"], size, "train", limit=spec["faces"], seed=spec["seed"])
    return runner, faces, run_batched(runner, faces.images)


def _quantize_configs(tfmot):
    q = tfmot.quantization.keras

    class NoOpQuantizeConfig(q.QuantizeConfig):
        """Leave a layer in float: no weight, activation or output quantizers."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    class OutputQuantizeConfig(NoOpQuantizeConfig):
        """Quantise the output only: weightless layers tfmot does not know (Rescaling),
        and the float pose output of an integer-I/O file."""

        def get_output_quantizers(self, layer):
            return [q.quantizers.MovingAverageQuantizer(
                num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    class RotationOutputQuantizeConfig(NoOpQuantizeConfig):
        """The Gram-Schmidt output of an integer-I/O file: a rotation matrix, whose entries
        lie in [-1, 1] by construction. A fixed range keeps every pose representable; a
        range learnt from a few batches clipped the extreme ones (1.0 deg mean, 10.5 deg max
        against Keras on the preset; 0.70 / 4.3 deg with this range, docs/export.md)."""

        bound = 1.0

        def get_output_quantizers(self, layer):
            return [q.quantizers.FixedQuantizer(num_bits=8, init_min=-self.bound,
                                                init_max=self.bound, narrow_range=False)]

    class EulerOutputQuantizeConfig(RotationOutputQuantizeConfig):
        """An Euler head's angles (degrees) on the fixed range of their labels
        (``int8.EULER_OUTPUT_RANGE``), not a range learnt from 300W's narrow poses."""

        bound = EULER_OUTPUT_RANGE

    return (NoOpQuantizeConfig, OutputQuantizeConfig, RotationOutputQuantizeConfig,
            EulerOutputQuantizeConfig)


def _controllable_ema(tf):
    """Make tfmot's activation-range EMA decay a variable; returns that variable.

    ``MovingAverageQuantizer`` passes a constant ``ema_decay=0.999`` to
    ``quant_ops.MovingAvgQuantize``; the wrapper substitutes the variable, which
    ``assign_moving_average`` accepts as a tensor. Patched before the QAT model is
    traced, in the worker process only (tfmot pinned to 0.8.x).
    """
    from tensorflow_model_optimization.python.core.quantization.keras import quantizers

    decay = tf.Variable(0.999, trainable=False, dtype=tf.float32, name="qat_ema_decay")
    original = quantizers.quant_ops.MovingAvgQuantize

    def moving_avg_quantize(*args, **kwargs):
        kwargs["ema_decay"] = decay
        return original(*args, **kwargs)

    quantizers.quant_ops.MovingAvgQuantize = moving_avg_quantize
    return decay


def build_qat_model(keras3_model, keep_float=(), quantize_pose_output: bool = False):
    """The tf_keras QAT twin of a Keras 3 LPONet (weights copied, BN frozen).

    The pose head (:data:`POSE_HEAD_LAYERS`: pooling, two dense layers and the pose output,
    Gram-Schmidt or the x90 Euler scaling) always computes in float: ranges learnt on
    300W faces clip the poses they lack. ``quantize_pose_output``
    (int8 / uint8 I/O) adds an output quantizer to it, so that the converter can give the
    file an integer pose output like the other two; without one the pose output would stay
    float32 in a file whose I/O is declared integer.

    Returns:
        ``(qat_model, ema_decay variable, tf_keras)``.
    """
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot  # sets TF_USE_LEGACY_KERAS=1
    import tf_keras

    from lponet_tf.layers import layer_classes
    from lponet_tf.model import build_graph, copy_weights_by_name

    cfg = keras3_model.lponet_config
    image, outputs = build_graph(cfg, tf_keras, include_intermediate=False)
    float_model = tf_keras.Model(image, outputs, name=cfg.name)
    copy_weights_by_name(keras3_model, float_model)
    for layer in float_model.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.trainable = False

    decay = _controllable_ema(tf)
    q = tfmot.quantization.keras
    NoOp, OutputOnly, RotationOutput, EulerOutput = _quantize_configs(tfmot)
    gram_schmidt = layer_classes(tf_keras).GramSchmidt
    patterns = [re.compile(p) for p in keep_float]
    pose_output = re.compile(r"^pose(_\d+)?$")
    pose_head = re.compile(POSE_HEAD_LAYERS)

    def annotate(layer):
        float_layer = (
            isinstance(layer, gram_schmidt)
            or pose_head.match(layer.name)
            or any(p.search(layer.name) for p in patterns)
        )
        if float_layer:
            if quantize_pose_output and isinstance(layer, gram_schmidt):
                return q.quantize_annotate_layer(layer, RotationOutput())
            if quantize_pose_output and pose_output.match(layer.name):  # Euler angles
                return q.quantize_annotate_layer(layer, EulerOutput())
            return q.quantize_annotate_layer(layer, NoOp())
        if isinstance(layer, tf_keras.layers.Rescaling):
            return q.quantize_annotate_layer(layer, OutputOnly())
        return q.quantize_annotate_layer(layer)

    annotated = tf_keras.models.clone_model(float_model, clone_function=annotate)
    scope = {"NoOpQuantizeConfig": NoOp, "OutputQuantizeConfig": OutputOnly,
             "RotationOutputQuantizeConfig": RotationOutput,
             "EulerOutputQuantizeConfig": EulerOutput,
             "GramSchmidt": gram_schmidt}
    with q.quantize_scope(scope):
        qat_model = q.quantize_apply(annotated)
    return qat_model, decay, tf_keras


def _loss_fn(cfg, weights):
    from lponet_tf.losses import HeatmapLoss, OcclusionLoss, PoseLoss

    heatmap_loss = HeatmapLoss(omega=60.0, weighted=True)
    pose_loss = PoseLoss("geodesic" if cfg.pose == "6d" else "mae")
    occlusion_loss = OcclusionLoss()
    alpha, beta, gamma = weights

    def loss(targets, outputs):
        return (alpha * heatmap_loss(targets["heatmaps"], outputs["heatmaps"])
                + beta * pose_loss(targets["pose"], outputs["pose"])
                + gamma * occlusion_loss(targets["occlusion"], outputs["occlusion"]))

    return loss


def calibrate(qat_model, images, decay, batch_size: int, steps: int, seed: int) -> None:
    """Set every activation range to the mean of ``steps`` batch ranges (no weight update)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def observe(x):
        qat_model(x, training=True)  # training=True updates the range variables

    rng = np.random.default_rng(seed + 1)
    for i in range(steps):
        decay.assign(1.0 - 1.0 / (i + 1))  # i = 0: take the batch range outright
        idx = rng.choice(len(images), size=min(batch_size, len(images)), replace=False)
        observe(images[idx])
    decay.assign(0.999)


def fine_tune(qat_model, tf_keras, cfg, images, targets, spec):
    """A few hundred Adam steps on random batches; returns the loss log."""
    import tensorflow as tf

    loss = _loss_fn(cfg, spec["loss_weights"])
    optimizer = tf_keras.optimizers.Adam(spec["learning_rate"])
    variables = qat_model.trainable_variables

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            value = loss(y, qat_model(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
        return value

    rng = np.random.default_rng(spec["seed"])
    log = []
    for i in range(spec["steps"]):
        idx = rng.choice(len(images), size=min(spec["batch_size"], len(images)), replace=False)
        value = float(step(images[idx], {k: v[idx] for k, v in targets.items()}))
        log.append(value)
        if spec.get("verbose") and (i % 25 == 0 or i == spec["steps"] - 1):
            print(f"qat step {i + 1}/{spec['steps']}: loss {value:.4f}", flush=True)
    return log


def convert(qat_model, cfg, io_dtype: str, decay) -> bytes:
    """SavedModel with named outputs -> int8 TFLite (ranges from QAT)."""
    import tensorflow as tf

    from lponet_tf.export.tflite import configure_converter

    size = cfg.input_size

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, "image")])
    def serve(image):
        out = qat_model(image, training=False)
        return {k: tf.identity(out[k], name=k) for k in ("heatmaps", "pose", "occlusion")}

    # Track the variables, not the Keras model: saving a tf_keras model object traces
    # every layer's call function (minutes for a QAT graph); only `serve` is needed.
    module = tf.Module()
    module.variables_ = list(qat_model.variables) + [decay]
    module.serve = serve
    with tempfile.TemporaryDirectory(prefix="lponet_qat_") as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": serve})
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        configure_converter(converter, "qat", None, io_dtype)
        return converter.convert()


def main(spec_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    t0 = time.time()
    runner, faces, teacher = _teacher(spec)
    cfg = runner.model.lponet_config
    targets = dict(teacher)
    targets["heatmaps"] = teacher["heatmaps"] / 60.0  # HeatmapLoss takes L, not omega * L
    if spec["target"] == "labels":
        from lponet_tf.heatmaps import encode_heatmaps

        targets["heatmaps"] = encode_heatmaps(faces.landmarks, input_size=cfg.input_size)
    qat_model, decay, tf_keras = build_qat_model(runner.model, spec["keep_float"],
                                                 quantize_pose_output=spec["io_dtype"] != "float32")
    calibrate(qat_model, faces.images, decay, spec["batch_size"], spec["calibration_steps"],
              spec["seed"])
    t1 = time.time()
    log = fine_tune(qat_model, tf_keras, cfg, faces.images, targets, spec)
    t2 = time.time()
    data = convert(qat_model, cfg, spec["io_dtype"], decay)
    t3 = time.time()

    from lponet_tf import metadata as md
    from lponet_tf.export.tflite import embed_metadata, write_bytes

    meta = md.ModelMetadata.from_model(runner.model, preset=spec.get("preset"), format="tflite",
                                       quantization="qat", io_dtype=spec["io_dtype"])
    write_bytes(spec["output"], embed_metadata(data, meta))
    summary = {
        "faces": len(faces), "steps": spec["steps"], "batch_size": spec["batch_size"],
        "learning_rate": spec["learning_rate"], "target": spec["target"],
        "io_dtype": spec["io_dtype"], "keep_float": spec["keep_float"],
        "loss_first": log[0] if log else None, "loss_last": log[-1] if log else None,
        "loss_log": log, "seconds_prepare": t1 - t0, "seconds_train": t2 - t1,
        "seconds_convert": t3 - t2, "legacy_keras_env": os.environ.get("TF_USE_LEGACY_KERAS"),
    }
    with open(spec["log"], "w") as f:
        json.dump(summary, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
