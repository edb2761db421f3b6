"""LPONet: a multitask stacked hourglass for landmarks, head pose and occlusion.

The graph follows Section III of the paper (Fig. 2):

    image (S x S x 3, 0..255)
      -> stem: 7x7/2 conv, residual, max-pool, 2 residuals           -> S/4 x S/4 x C
      -> n x hourglass (encoder S/4 -> 4x4, decoder with lateral skips)
           pose head   at the end of the encoder: GAP -> FC 256 -> FC 3 | FC 6 -> Gram-Schmidt
           FPF         fuses m decoder maps (C/m channels each, upsampled) -> 2C   (Sec. III-B)
           heads       1x1 conv -> K heatmaps; 1x1 conv -> 2-class softmax (visible face)
           fusion      IOAF (Eq. 1) or the standard stacked-hourglass fusion
      -> outputs {"heatmaps", "pose", "occlusion"} (+ "heatmaps_1", ... per earlier stack)

Choices the paper leaves open, fixed here:
  * Residual blocks are bottlenecks (C -> C/2 -> C/2 -> C) in conv-BN-ReLU order (ResNet v1)
    rather than Newell's pre-activation order: every BatchNorm then follows a convolution,
    so TFLite folds it into the conv weights and int8 / QAT quantise cleanly.
  * One hourglass level holds three residuals (skip branch, after pooling, before
    upsampling) plus one at the 4x4 bottom: 13 per hourglass, as in Newell et al.
  * The pose head reads the 4x4 bottom feature (end of the encoder). Euler outputs are a
    linear FC scaled by 90 so the network regresses angles in about [-1, 1].
  * FPF reads decoder maps (after the lateral skip is added); "half" uses the 4x4 and S/16
    maps, "full" the 4x4 .. S/8 maps; bilinear upsampling.
  * IOAF (Eq. 1): ``carry = X_prev + f(X_O) + f(L_hm)``, next input ``carry || O``, where
    X_O is the fused decoder output and ``carry`` (C channels) is what later stacks add to.
  * Decoder upsampling is nearest-neighbour (as in Newell et al.).
"""
from __future__ import annotations

from typing import Dict, List, Optional

import keras

from lponet_tf.config import LPONetConfig
from lponet_tf.distributed_fit import DistributedFitMixin
from lponet_tf.layers import layer_classes
from lponet_tf.metadata import OUTPUT_NAMES  # noqa: F401 (one definition, re-exported here)


def output_names(num_stacks: int, include_intermediate: bool = True) -> List[str]:
    """Names of a model's outputs: ``heatmaps_1, pose_1, occlusion_1, ..., heatmaps, ...``."""
    names = []
    if include_intermediate:
        for i in range(1, num_stacks):
            names += [f"{n}_{i}" for n in OUTPUT_NAMES]
    return names + list(OUTPUT_NAMES)


class _Builder:
    """Builds the LPONet graph with one Keras module (``keras`` or ``tf_keras``).

    Layer names are deterministic and identical for both modules, so weights can be
    copied between them by name (used by quantisation-aware training).
    """

    def __init__(self, config: LPONetConfig, K):
        self.cfg = config
        self.K = K
        self.L = K.layers
        self.custom = layer_classes(K)
        # tf_keras runs on TensorFlow only; Keras 3 on whichever backend is configured.
        self.tensorflow = K is not keras or keras.backend.backend() == "tensorflow"
        # Heads, softmax and the Gram-Schmidt pose run in the variable dtype: float32 under
        # mixed precision (a float16 softmax or orthonormalisation loses too much), float64
        # when the whole model is float64 (numerical checks). Every variable then has one
        # dtype, which tf.distribute's packed gradient all-reduce requires.
        self.head_dtype = K.mixed_precision.global_policy().variable_dtype

    # -- building blocks --------------------------------------------------------------
    def conv_bn(self, x, filters, kernel, name, stride=1, relu=True):
        x = self.L.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
        )(x)
        # synchronized: under a multi-replica tf.distribute strategy the batch statistics
        # are those of the global batch, so training matches one device (a no-op with one
        # replica). Only TensorFlow has the option; JAX's data parallelism (one jit over a
        # sharded batch) computes global statistics by itself.
        x = self.L.BatchNormalization(
            momentum=0.9, epsilon=1e-5, name=f"{name}_bn",
            **({"synchronized": True} if self.tensorflow else {}),
        )(x)
        return self.L.ReLU(name=f"{name}_relu")(x) if relu else x

    def residual(self, x, filters, name):
        """Bottleneck residual: 1x1 (C/2) -> 3x3 (C/2) -> 1x1 (C) + skip, then ReLU."""
        mid = filters // 2
        y = self.conv_bn(x, mid, 1, f"{name}_a")
        y = self.conv_bn(y, mid, 3, f"{name}_b")
        y = self.conv_bn(y, filters, 1, f"{name}_c", relu=False)
        skip = x
        if x.shape[-1] != filters:
            skip = self.conv_bn(x, filters, 1, f"{name}_proj", relu=False)
        y = self.L.Add(name=f"{name}_add")([y, skip])
        return self.L.ReLU(name=f"{name}_out")(y)

    def conv1x1(self, x, filters, name, dtype=None):
        kwargs = {"dtype": dtype} if dtype else {}
        return self.L.Conv2D(filters, 1, padding="same", name=name, **kwargs)(x)

    # -- network parts ----------------------------------------------------------------
    def stem(self, image):
        """7x7/2 conv, residual, 2x2 max-pool, two residuals: S -> S/4, C channels."""
        c = self.cfg.channels
        x = self.L.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(image)
        x = self.conv_bn(x, c // 4, 7, "stem_conv", stride=2)
        x = self.residual(x, c // 2, "stem_res1")
        x = self.L.MaxPooling2D(2, name="stem_pool")(x)
        x = self.residual(x, c // 2, "stem_res2")
        return self.residual(x, c, "stem_res3")

    def hourglass(self, x, stack):
        """One hourglass. Returns (decoder output, 4x4 bottom feature, {level: decoder map})."""
        c, depth, p = self.cfg.channels, self.cfg.hourglass_depth, f"hg{stack}"
        skips = []
        for level in range(depth):  # encoder: S/4 -> S/4 / 2**depth
            skips.append(self.residual(x, c, f"{p}_skip{level}"))
            x = self.L.MaxPooling2D(2, name=f"{p}_pool{level}")(x)
            x = self.residual(x, c, f"{p}_down{level}")
        bottom = self.residual(x, c, f"{p}_bottom")
        decoder_maps = {depth: bottom}
        x = bottom
        for level in reversed(range(depth)):  # decoder with lateral skips
            x = self.residual(x, c, f"{p}_up{level}")
            x = self.L.UpSampling2D(2, name=f"{p}_upsample{level}")(x)
            x = self.L.Add(name=f"{p}_merge{level}")([x, skips[level]])
            decoder_maps[level] = x
        return x, bottom, decoder_maps

    def fpf(self, decoder_out, decoder_maps, stack):
        """Feature pyramid fusion (Sec. III-B): m maps -> C/m channels each, upsample, concat."""
        depth = self.cfg.hourglass_depth
        levels = {"none": [], "half": [depth, depth - 2], "full": list(range(depth, 0, -1))}[
            self.cfg.fpf
        ]
        if not levels:
            return decoder_out
        width = self.cfg.channels // len(levels)
        parts = [decoder_out]
        for level in levels:
            y = self.conv_bn(decoder_maps[level], width, 1, f"fpf{stack}_l{level}")
            y = self.L.UpSampling2D(
                2**level, interpolation="bilinear", name=f"fpf{stack}_up{level}"
            )(y)
            parts.append(y)
        return self.L.Concatenate(name=f"fpf{stack}_concat")(parts)

    def pose_head(self, bottom, name):
        """GAP -> FC(256) -> FC(3) Euler degrees | FC(6) -> Gram-Schmidt rotation matrix."""
        y = self.L.GlobalAveragePooling2D(name=f"{name}_gap")(bottom)
        y = self.L.Dense(self.cfg.pose_hidden, activation="relu", name=f"{name}_fc1")(y)
        if self.cfg.pose == "6d":
            y = self.L.Dense(6, name=f"{name}_fc2", dtype=self.head_dtype)(y)
            return self.custom.GramSchmidt(name=name, dtype=self.head_dtype)(y)
        y = self.L.Dense(3, name=f"{name}_fc2", dtype=self.head_dtype)(y)
        return self.L.Rescaling(90.0, name=name, dtype=self.head_dtype)(y)

    def heads(self, features, suffix):
        heatmaps = self.conv1x1(
            features, self.cfg.num_landmarks, f"heatmaps{suffix}", dtype=self.head_dtype
        )
        logits = self.conv1x1(features, 2, f"occlusion{suffix}_logits", dtype=self.head_dtype)
        occlusion = self.L.Softmax(name=f"occlusion{suffix}", dtype=self.head_dtype)(logits)
        return heatmaps, occlusion

    def fusion(self, carry, features, heatmaps, occlusion, stack):
        """Input of the next hourglass: IOAF (Eq. 1) or the standard stacked-HG fusion."""
        c = self.cfg.channels
        carry = self.L.Add(name=f"fuse{stack}_add")(
            [
                carry,
                self.conv1x1(features, c, f"fuse{stack}_features"),
                self.conv1x1(heatmaps, c, f"fuse{stack}_heatmaps"),
            ]
        )
        if not self.cfg.ioaf:
            return carry, carry
        # The mask joins the next stack's input but not the carry, so Eq. 1's "+ X^(i-1)"
        # stays C channels wide for any number of stacks.
        return carry, self.L.Concatenate(name=f"ioaf{stack}_concat")([carry, occlusion])

    # -- whole network ----------------------------------------------------------------
    def build(self, include_intermediate: bool = True):
        cfg = self.cfg
        image = self.K.Input((cfg.input_size, cfg.input_size, 3), name="image")
        x = carry = self.stem(image)
        outputs: Dict[str, object] = {}
        for stack in range(1, cfg.num_stacks + 1):
            last = stack == cfg.num_stacks
            suffix = "" if last else f"_{stack}"
            decoder_out, bottom, decoder_maps = self.hourglass(x, stack)
            features = self.fpf(decoder_out, decoder_maps, stack)
            heatmaps, occlusion = self.heads(features, suffix)
            if last or include_intermediate:
                outputs[f"heatmaps{suffix}"] = heatmaps
                outputs[f"occlusion{suffix}"] = occlusion
                outputs[f"pose{suffix}"] = self.pose_head(bottom, f"pose{suffix}")
            if not last:
                carry, x = self.fusion(carry, features, heatmaps, occlusion, stack)
        names = output_names(cfg.num_stacks, include_intermediate)
        return image, {n: outputs[n] for n in names}


def build_graph(config: LPONetConfig, keras_module=keras, include_intermediate: bool = True):
    """Build LPONet's graph with ``keras_module``. Returns ``(input, outputs_dict)``."""
    return _Builder(config, keras_module).build(include_intermediate)


@keras.saving.register_keras_serializable(package="lponet_tf")
class LPONet(DistributedFitMixin, keras.Model):
    """LPONet as a Keras functional model that carries its :class:`LPONetConfig`.

    Built like a keras-hub backbone: the constructor lays out the functional graph, and
    ``get_config`` returns the constructor arguments, so ``from_config`` and ``.keras``
    files (``safe_mode=True``) rebuild exactly this network.

    Args:
        config: an :class:`LPONetConfig` or its ``dict``.
        include_intermediate: also output ``heatmaps_i, pose_i, occlusion_i`` of stacks
            ``i < n`` for deep supervision (training). Inference models drop them.
        heatmap_scale: the training heatmap scale (the heatmap loss's omega), kept as
            ``lponet_heatmap_scale`` for the runtimes and exports; None: from the compiled
            loss, else the metadata default.
        frozen_layers: names of layers to build with ``trainable=False``.
        dtype_policy: the Keras dtype policy to build the layers with (e.g.
            ``"mixed_float16"``); None: the global policy.

    The last three are what ``get_config`` adds to the architecture, so that a ``.keras``
    file keeps them: a model fine-tuned with frozen layers or trained in mixed precision
    reloads as it was saved (and its optimizer state with it), and a model trained with
    another omega reports its landmark scores on its own scale.

    Example:
        >>> model = LPONet(LPONetConfig(input_size=64, channels=16))
        >>> sorted(model.output_names)  # doctest: +SKIP
        ['heatmaps', 'heatmaps_1', 'occlusion', 'occlusion_1', 'pose', 'pose_1']
    """

    def __init__(self, config=None, include_intermediate: bool = True,
                 heatmap_scale: Optional[float] = None, frozen_layers=(),
                 dtype_policy: Optional[str] = None, **kwargs):
        if config is None:
            config = LPONetConfig()
        elif isinstance(config, dict):
            config = LPONetConfig.from_dict(config)
        previous = keras.config.dtype_policy()
        if dtype_policy is not None:  # the builder's layers follow the global policy
            keras.config.set_dtype_policy(dtype_policy)
        try:  # the model itself too: compile() adds loss scaling by its policy
            image, outputs = build_graph(config, keras, include_intermediate)
            built_with = keras.config.dtype_policy().name
            kwargs.setdefault("name", config.name)
            super().__init__(inputs=image, outputs=outputs, **kwargs)
        finally:
            keras.config.set_dtype_policy(previous)
        self.lponet_config = config
        self.include_intermediate = include_intermediate
        self.lponet_dtype_policy = built_with
        if heatmap_scale is not None:
            self.lponet_heatmap_scale = float(heatmap_scale)
        for name in frozen_layers:
            self.get_layer(name).trainable = False

    def compile(self, optimizer=None, loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, **kwargs):
        """``compile()`` with no arguments sets up the paper's training (Eq. 9, IV-B).

        Every argument left as None takes the default of ``lponet train``
        (``lponet_tf.training.config.DEFAULTS``): the heatmap (:class:`lponet_tf.losses.HeatmapLoss`:
        squared error with heatmap scaling, omega = 60, Eq. 5; the weighted loss map of Eq. 6-7
        off, as in the paper's first stage: ``HeatmapLoss(weighted=True)`` for the second),
        pose (geodesic for the 6D head, MAE for Euler) and occlusion losses weighted
        alpha = 1, beta = 1, gamma = 10 on every stack's outputs (deep supervision), RMSprop
        at 1e-4 dropping to 1e-5 after 30K steps, and NME / pose error / mask IoU as
        *weighted* metrics (a face without a label, weight 0, does not count). Pass any
        argument to replace that part; ``loss_weights`` defaults only with the default loss.

        Args:
            optimizer, loss, loss_weights, metrics, weighted_metrics: as ``keras.Model``.
            **kwargs: passed to ``keras.Model.compile`` (``jit_compile``, ...).
        """
        from lponet_tf.training.config import DEFAULTS
        from lponet_tf.training.objectives import losses_and_weights, make_optimizer, metrics_for

        if optimizer is None:
            optimizer = make_optimizer(DEFAULTS["optimizer"])
        if loss is None:
            losses, weights = losses_and_weights(self.lponet_config, DEFAULTS["loss"])
            loss = {n: losses[n] for n in self.output_names}
            if loss_weights is None:
                loss_weights = {n: weights[n] for n in self.output_names}
        if metrics is None and weighted_metrics is None:
            weighted_metrics = metrics_for(self.lponet_config)
        # TensorFlow, as lponet train: XLA ("auto") would first spend minutes compiling the
        # hourglass for no speed-up on a CPU. JAX: jit is its graph mode (eager JAX
        # dispatches op by op, several times slower even for a tiny model).
        kwargs.setdefault("jit_compile", keras.backend.backend() == "jax")
        super().compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights,
                        metrics=metrics, weighted_metrics=weighted_metrics, **kwargs)

    def compile_from_config(self, config):
        # Keras skips restoring the compile state of any model whose compile() is
        # overridden; ours only fills in defaults, and the saved arguments are explicit.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        from lponet_tf.metadata import training_heatmap_scale

        config = {
            "config": self.lponet_config.to_dict(),
            "include_intermediate": self.include_intermediate,
            "name": self.name,
            "trainable": self.trainable,
        }
        scale = training_heatmap_scale(self)
        if scale is not None:
            config["heatmap_scale"] = scale
        frozen = [layer.name for layer in self.layers if layer.weights and not layer.trainable]
        if frozen:
            config["frozen_layers"] = frozen
        if self.lponet_dtype_policy != "float32":
            config["dtype_policy"] = self.lponet_dtype_policy
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_lponet(
    config: Optional[LPONetConfig] = None, include_intermediate: bool = True, **overrides
) -> LPONet:
    """Build an LPONet (randomly initialised).

    Args:
        config: architecture; defaults to the paper's best model (2-HG, C = 256,
            FPF-half, IOAF, 6D pose, 256 px).
        include_intermediate: keep per-stack outputs for deep supervision.
        **overrides: fields of :class:`LPONetConfig` to change, e.g. ``channels=64``.

    Returns:
        An :class:`LPONet` (a functional ``keras.Model``) with dict outputs
        ``heatmaps (N, S/4, S/4, K)``, ``pose (N, 3, 3) | (N, 3)``,
        ``occlusion (N, S/4, S/4, 2)``.

    Example:
        >>> model = build_lponet(channels=32, input_size=128)
        >>> out = model(np.zeros((1, 128, 128, 3), "float32"))  # doctest: +SKIP
        >>> out["heatmaps"].shape  # doctest: +SKIP
        TensorShape([1, 32, 32, 68])
    """
    config = (config or LPONetConfig()).replace(**overrides) if overrides else (
        config or LPONetConfig()
    )
    return LPONet(config, include_intermediate=include_intermediate)


def inference_model(model: LPONet) -> LPONet:
    """The same network with only the final ``heatmaps``, ``pose`` and ``occlusion``.

    Weights are copied by layer name; layers that only feed intermediate outputs (the
    earlier stacks' pose heads) are left out.
    """
    if not model.include_intermediate:
        return model
    target = LPONet(model.lponet_config, include_intermediate=False, name=model.name)
    copy_weights_by_name(model, target)
    # The training heatmap scale (the compiled loss's omega) travels to the export metadata.
    from lponet_tf.metadata import training_heatmap_scale

    target.lponet_heatmap_scale = training_heatmap_scale(model)
    return target


def copy_weights_by_name(source, target) -> int:
    """Copy the weights of every layer of ``target`` from the same-named layer of ``source``.

    Returns the number of layers copied. Raises ``ValueError`` when a weighted target layer
    has no counterpart or shapes differ.
    """
    src = {layer.name: layer for layer in source.layers}
    copied = 0
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name not in src:
            raise ValueError(f"layer {layer.name!r} missing in source model")
        layer.set_weights(src[layer.name].get_weights())
        copied += 1
    return copied


def parameter_breakdown(model: LPONet) -> Dict[str, int]:
    """Parameters (trainable + BatchNorm statistics) per part of the network.

    Parts: ``stem``, ``hourglass_i``, ``fpf``, ``fusion`` (IOAF or standard), ``heads``
    (landmark + occlusion 1x1 convs), ``pose_heads``. Sums to ``model.count_params()``.
    """
    parts: Dict[str, int] = {}

    def part_of(name: str) -> str:
        if name.startswith("stem"):
            return "stem"
        if name.startswith("hg"):
            return "hourglass_" + name[2 : name.index("_")]
        if name.startswith("fpf"):
            return "fpf"
        if name.startswith(("fuse", "ioaf")):
            return "ioaf" if model.lponet_config.ioaf else "fusion"
        if name.startswith("pose"):
            return "pose_heads"
        if name.startswith(("heatmaps", "occlusion")):
            return "landmark_occlusion_heads"
        return "other"

    for layer in model.layers:
        n = sum(int(w.numpy().size) for w in layer.weights)
        if n:
            key = part_of(layer.name)
            parts[key] = parts.get(key, 0) + n
    return parts
