"""What travels with an exported model, and how it is stored in each file format.

A model file must be usable on its own: an app that loads ``face.tflite`` needs the input
size, the pixel range, the landmark count and the pose representation without a Python
config next to it. :class:`ModelMetadata` is that record; it is stored

* in a ``.tflite`` file as an entry ``lponet_metadata`` of the flatbuffer's ``metadata``
  list (a name plus a buffer, the same mechanism the converter uses for
  ``min_runtime_version``): the model stays one file, LiteRT ignores unknown entries, and
  any flatbuffer reader (Python, the Android core) can read it back;
* in a ``.onnx`` file as ``metadata_props`` (one JSON entry ``lponet_metadata`` plus a
  flat ``lponet.<field>`` entry per scalar field, for viewers such as Netron);
* in a Keras model as ``model.lponet_config`` (the metadata is derived from it).

This module imports neither TensorFlow nor onnx at import time, so the TFLite runtime
path stays light (an app process should not pay for TensorFlow).

Example:
    >>> from lponet_tf.config import LPONetConfig
    >>> meta = ModelMetadata.from_config(LPONetConfig(input_size=128), preset="lponet_lite")
    >>> ModelMetadata.from_json(meta.to_json()) == meta
    True
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional, Tuple

from lponet_tf.config import DEFAULT_ENLARGE, POSE_MODES, LPONetConfig
from lponet_tf.errors import LPONetError
from lponet_tf.heatmaps import DECODERS, DEFAULT_DECODER, SIGMA, STRIDE, check_decoder
from lponet_tf.version import __version__

#: Name of the metadata entry in a TFLite flatbuffer and key in ONNX ``metadata_props``.
METADATA_KEY = "lponet_metadata"
#: Bumped when a field changes meaning; readers accept any version <= their own and refuse
#: a newer one (:class:`NewerMetadataError`).
SCHEMA_VERSION = 1
OUTPUT_NAMES = ("heatmaps", "pose", "occlusion")
QUANTIZATIONS = ("none", "fp16", "dynamic", "int8", "int16x8", "qat")
IO_DTYPES = ("float32", "int8", "uint8")


#: How a face crop is taken (lponet_tf.codec.crop, docs/CONVENTIONS.md); ``enlarge`` is a
#: parameter, the rest is the rule a port implements.
CROP_RULE = {
    "box": "x0, y0, x1, y1 = min/max of the 68 landmarks (training); at inference the "
           "detector's box mapped to that landmark box (lponet_tf.detection)",
    "enlarge": DEFAULT_ENLARGE,
    "square": "side = max(w, h) * (1 + 2 * enlarge), centred on the box centre",
    "resample": "affine warp of the image to input_size x input_size (bilinear, constant "
                "border 0 outside the photo); pixel centres at integers. When the crop "
                "shrinks the image by f = floor(side / input_size) >= 2, the square's pixels "
                "plus f pixels of margin are first area-averaged (INTER_AREA) to "
                "round(width / f) x round(height / f) and the warp reads that image",
}
#: How landmarks are read from the heatmaps (lponet_tf.heatmaps, lponet_tf.codec.decode).
#: ``heatmap_scale`` (omega, Eq. 5) and ``sigma`` are the training targets' (the model's
#: facts); ``decoder`` is the rule a runner applies by default. Files written before
#: ``sigma`` existed say ``"decoder": "argmax_top2"``, which only described the one rule
#: there was: readers take omega 60, sigma 1, stride 4 and their own default rule ("dark").
LEGACY_DECODER = "argmax_top2"
DECODE_RULE = {
    "decoder": DEFAULT_DECODER,
    "stride": STRIDE,
    "grid_to_pixel": "x = stride * (u + 0.5) - 0.5 (same for y)",
    "heatmap_scale": 60.0,
    "sigma": SIGMA,
    "dark": "DARK (Zhang et al. 2020): at the argmax cell (ties to the lower row-major "
            "index), the map smoothed by a Gaussian of sigma cells (2*ceil(3 sigma)+1 taps, "
            "zeros outside the map), log(max(v, 1e-10)), one Newton step -H^-1 g with central "
            "differences on the 3x3 cells; no step unless H is negative definite; step "
            "clipped to 1 cell per axis",
    "top2": "p = (s1 p1 + s2 p2) / (s1 + s2) over the two highest cells, scores clipped "
            "at 0 (p = p1 when both <= 0); ties to the lower row-major index (paper IV-B)",
    "score": "the peak value; ~heatmap_scale for a confident landmark (trained on "
             "heatmap_scale x a unit Gaussian)",
}


def decode_rule(heatmap_scale: float = 60.0, sigma: float = SIGMA,
                decoder: str = DEFAULT_DECODER) -> Dict[str, Any]:
    """:data:`DECODE_RULE` with a model's own heatmap scale, sigma and default rule.

    Example:
        >>> decode_rule(heatmap_scale=30.0)["heatmap_scale"]
        30.0
    """
    return dict(DECODE_RULE, heatmap_scale=float(heatmap_scale), sigma=float(sigma),
                decoder=check_decoder(decoder))


def training_heatmap_scale(model) -> Optional[float]:
    """omega of a compiled Keras LPONet's heatmap loss (``loss.omega`` of its training
    config, saved with a ``.keras`` file; kept by :func:`lponet_tf.model.inference_model` as
    ``lponet_heatmap_scale``), or None when it was not compiled with one."""
    kept = getattr(model, "lponet_heatmap_scale", None)
    if isinstance(kept, (int, float)) and kept > 0:
        return float(kept)
    loss = getattr(model, "loss", None)
    if isinstance(loss, dict):
        loss = loss.get("heatmaps")
    omega = getattr(loss, "omega", None)
    return float(omega) if isinstance(omega, (int, float)) and omega > 0 else None


#: iBUG 68-point order of the heatmap channels (the 300W markup).
LANDMARK_ORDER = {
    "scheme": "ibug68",
    "groups": {"jaw": [0, 16], "right_brow": [17, 21], "left_brow": [22, 26],
               "nose": [27, 35], "right_eye": [36, 41], "left_eye": [42, 47],
               "mouth": [48, 67]},
    "side": "right_* = the subject's right = image left in a frontal face",
}
#: Channels of the occlusion output: a softmax over these two classes per grid cell.
OCCLUSION_CHANNELS = ("not_visible_face", "visible_face")
#: Pose output (lponet_tf.geometry): matrix and Euler convention.
POSE_CONVENTION = {
    "6d": "pose is R (3x3), p_cam = R @ p_head; camera x right, y down, z forward; head x "
          "to the subject's left ear, y to the chin, z into the head",
    "euler": "pose is (yaw, pitch, roll) in degrees with R = Rx(-pitch) @ Ry(yaw) @ Rz(roll); "
             "yaw > 0 turns the face to the image left",
}


class MetadataError(LPONetError, ValueError):
    """Stored metadata is not valid JSON or lacks a required field."""


class NewerMetadataError(MetadataError):
    """Metadata of a newer schema than this lponet-tf reads (not a damaged file)."""


def _check_schema(version, writer) -> None:
    # A newer schema may have changed what a field means: reading it with today's
    # meaning would give wrong faces, silently.
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise MetadataError(f"schema_version must be a whole number, got {version!r}")
    if version > SCHEMA_VERSION:
        raise NewerMetadataError(
            f"written by lponet-tf {writer} with metadata schema {version}; this lponet-tf "
            f"({__version__}) reads schema {SCHEMA_VERSION} and earlier: upgrade lponet-tf "
            f"to use this model")


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """Everything a runner needs to feed a model and read its outputs.

    Attributes:
        input_size: side S of the square RGB input crop.
        num_landmarks: K heatmap channels (68, iBUG order).
        pose: ``"6d"`` (output ``(N, 3, 3)`` rotation) or ``"euler"`` (``(N, 3)`` degrees,
            yaw, pitch, roll).
        pixel_range: input value range; the model normalises inside the graph, so raw
            RGB pixels ``(0, 255)`` go in.
        color: channel order of the input (``"RGB"``).
        heatmap_size: side of the heatmap / occlusion grid (S / 4).
        outputs: output names, fixed by ``docs/CONVENTIONS.md``.
        library_version: ``lponet_tf.__version__`` of the exporter.
        preset: preset name (e.g. ``"lponet_lite"``) or None for a custom model.
        config: the full :class:`~lponet_tf.config.LPONetConfig` as a dict.
        format: ``"keras"``, ``"tflite"`` or ``"onnx"``.
        quantization: one of :data:`QUANTIZATIONS`.
        io_dtype: input/output tensor type of the file (:data:`IO_DTYPES`).
        output_dtype: the outputs' type when it differs from ``io_dtype`` (an int8 file
            with an integer input and float outputs, ``lponet export --float-outputs``);
            None: ``io_dtype``. :attr:`outputs_dtype` is the type to expect.
        schema_version: :data:`SCHEMA_VERSION` of the writer.
        crop: :data:`CROP_RULE` (how the input crop is cut, with its margin ``enlarge``).
        decode: :data:`DECODE_RULE` (heatmaps -> landmark pixels, with its parameters).
        landmark_order: :data:`LANDMARK_ORDER`.
        occlusion_channels: :data:`OCCLUSION_CHANNELS`, in channel order.
        pose_convention: :data:`POSE_CONVENTION` (both representations described).
        output_indices: ``{name: position}`` of each output among the file's output
            tensors (``.tflite`` subgraph outputs, ``.onnx`` graph outputs), as written by
            the exporter; empty when unknown (Keras, older files).
    """

    input_size: int
    num_landmarks: int
    pose: str
    pixel_range: Tuple[float, float] = (0.0, 255.0)
    color: str = "RGB"
    heatmap_size: int = 0
    outputs: Tuple[str, ...] = OUTPUT_NAMES
    library_version: str = __version__
    preset: Optional[str] = None
    config: Dict[str, Any] = dataclasses.field(default_factory=dict)
    format: str = "keras"
    quantization: str = "none"
    io_dtype: str = "float32"
    output_dtype: Optional[str] = None
    schema_version: int = SCHEMA_VERSION
    crop: Dict[str, Any] = dataclasses.field(default_factory=lambda: dict(CROP_RULE))
    decode: Dict[str, Any] = dataclasses.field(default_factory=lambda: dict(DECODE_RULE))
    landmark_order: Dict[str, Any] = dataclasses.field(
        default_factory=lambda: dict(LANDMARK_ORDER))
    occlusion_channels: Tuple[str, ...] = OCCLUSION_CHANNELS
    pose_convention: Dict[str, Any] = dataclasses.field(
        default_factory=lambda: dict(POSE_CONVENTION))
    output_indices: Dict[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "occlusion_channels", tuple(self.occlusion_channels))
        # Tuples, not lists, so that equality after a JSON round trip holds.
        object.__setattr__(self, "pixel_range", tuple(float(v) for v in self.pixel_range))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        if not self.heatmap_size:
            object.__setattr__(self, "heatmap_size", int(self.input_size) // 4)
        if self.quantization not in QUANTIZATIONS:
            raise MetadataError(f"quantization must be one of {QUANTIZATIONS}")
        if self.io_dtype not in IO_DTYPES:
            raise MetadataError(f"io_dtype must be one of {IO_DTYPES}")
        if self.output_dtype is not None and self.output_dtype not in IO_DTYPES:
            raise MetadataError(f"output_dtype must be None or one of {IO_DTYPES}")
        _check_schema(self.schema_version, self.library_version)
        # Every model of this library is trained on crops of this margin, and the runtime
        # cuts them so: a file that claims another would be fed crops it was not made for.
        enlarge = self.crop.get("enlarge") if isinstance(self.crop, dict) else None
        if enlarge is not None and enlarge != DEFAULT_ENLARGE:
            raise MetadataError(f"crop.enlarge {enlarge!r}: this lponet-tf crops faces with a "
                                f"margin of {DEFAULT_ENLARGE} per side only")
        decoder = self.decode.get("decoder") if isinstance(self.decode, dict) else None
        if decoder not in (None, *DECODERS, LEGACY_DECODER):
            raise MetadataError(f"decode.decoder {decoder!r} is not a rule this lponet-tf knows "
                                f"({', '.join(DECODERS)})")

    @property
    def outputs_dtype(self) -> str:
        """Element type of the output tensors (``output_dtype``, else ``io_dtype``)."""
        return self.output_dtype or self.io_dtype

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_config(cls, config: LPONetConfig, preset: Optional[str] = None,
                    **fields: Any) -> "ModelMetadata":
        """Metadata of a model built from ``config``.

        Args:
            config: the model's architecture.
            preset: preset name, or None.
            **fields: other attributes, e.g. ``format="tflite", quantization="int8"``.
        """
        return cls(
            input_size=config.input_size,
            num_landmarks=config.num_landmarks,
            pose=config.pose,
            heatmap_size=config.heatmap_size,
            preset=preset,
            config=config.to_dict(),
            **fields,
        )

    @classmethod
    def from_model(cls, model, preset: Optional[str] = None, **fields: Any) -> "ModelMetadata":
        """Metadata of a Keras :class:`~lponet_tf.model.LPONet` (reads ``lponet_config``).

        ``preset`` defaults to the model's config name when that names a preset. The
        heatmap scale comes from the model's compiled heatmap loss (the training
        ``loss.omega``) when it has one, else 60 (:func:`decode_rule`).
        """
        config = getattr(model, "lponet_config", None)
        if not isinstance(config, LPONetConfig):
            raise MetadataError(f"model {getattr(model, 'name', model)!r} is not an LPONet")
        omega = training_heatmap_scale(model)
        if omega is not None and "decode" not in fields:
            fields["decode"] = decode_rule(heatmap_scale=omega)
        return cls.from_config(config, preset=preset or guess_preset(config), **fields)

    def replace(self, **changes: Any) -> "ModelMetadata":
        return dataclasses.replace(self, **changes)

    def lponet_config(self) -> Optional[LPONetConfig]:
        """The stored :class:`LPONetConfig`, or None when the writer did not store one."""
        return LPONetConfig.from_dict(self.config) if self.config else None

    # -- the tensor contract ----------------------------------------------------------
    def tensor_shapes(self) -> Dict[str, Tuple[Optional[int], ...]]:
        """Shapes of the graph this record describes (``docs/CONVENTIONS.md``), batch None.

        Returns:
            ``{"image": (None, S, S, 3), "heatmaps": (None, G, G, K), "pose": (None, 3, 3)``
            (6D) or ``(None, 3)`` (Euler), ``"occlusion": (None, G, G, 2)}`` with
            ``G = heatmap_size``.

        Example:
            >>> meta = ModelMetadata(input_size=64, num_landmarks=68, pose="6d")
            >>> meta.tensor_shapes()["heatmaps"]
            (None, 16, 16, 68)
        """
        s, g, k = int(self.input_size), int(self.heatmap_size), int(self.num_landmarks)
        return {
            "image": (None, s, s, 3),
            "heatmaps": (None, g, g, k),
            "pose": (None, 3, 3) if self.pose == "6d" else (None, 3),
            "occlusion": (None, g, g, 2),
        }

    def problems(self) -> List[str]:
        """Where this record contradicts itself or what the runners feed (empty: none).

        The runners feed RGB crops of 0..255 pixels and read the three fixed outputs of an
        LPONet whose heatmap grid is S/4; a stored config must agree with the fields.
        """
        out = []
        if int(self.input_size) < 4 or int(self.num_landmarks) < 1:
            out.append(f"input_size={self.input_size}, num_landmarks={self.num_landmarks} "
                       "must be positive")
        if self.pose not in POSE_MODES:
            out.append(f"pose={self.pose!r} is not one of {POSE_MODES}")
        if int(self.heatmap_size) != int(self.input_size) // 4:
            out.append(f"heatmap_size={self.heatmap_size} is not input_size / 4 = "
                       f"{int(self.input_size) // 4}")
        if self.pixel_range != (0.0, 255.0) or self.color != "RGB":
            out.append(f"the input is {self.color} {self.pixel_range}; runners feed RGB "
                       "(0.0, 255.0)")
        if tuple(self.outputs) != OUTPUT_NAMES:
            out.append(f"outputs {list(self.outputs)} are not {list(OUTPUT_NAMES)}")
        if self.config:
            try:
                config = self.lponet_config()
            except (TypeError, ValueError) as exc:
                return out + [f"stored config is invalid: {exc}"]
            for field in ("input_size", "num_landmarks", "pose"):
                if getattr(config, field) != getattr(self, field):
                    out.append(f"config says {field}={getattr(config, field)!r} but the "
                               f"record says {getattr(self, field)!r}")
        return out

    # -- JSON -----------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["pixel_range"] = list(self.pixel_range)
        out["outputs"] = list(self.outputs)
        out["occlusion_channels"] = list(self.occlusion_channels)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "ModelMetadata":
        """Inverse of :meth:`to_dict`; fields a newer writer added are ignored."""
        if not isinstance(values, dict):
            raise MetadataError("metadata must be a JSON object")
        missing = [k for k in ("input_size", "num_landmarks", "pose") if k not in values]
        if missing:
            raise MetadataError(f"metadata lacks {missing}")
        _check_schema(values.get("schema_version", SCHEMA_VERSION), values.get("library_version"))
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in values.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise MetadataError(f"invalid metadata: {exc}") from exc

    @classmethod
    def from_json(cls, text) -> "ModelMetadata":
        try:
            values = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise MetadataError(f"metadata is not JSON: {exc}") from exc
        return cls.from_dict(values)


def guess_preset(config: LPONetConfig) -> Optional[str]:
    """The preset whose configuration equals ``config`` (name included), else None."""
    try:
        from lponet_tf.presets import PRESETS
    except ImportError:  # presets registry not installed: custom model
        return None
    for name, preset in PRESETS.items():
        if preset.config == config:
            return name
    return None


# -- TFLite ---------------------------------------------------------------------------
def embed_tflite(model_bytes: bytes, metadata: ModelMetadata) -> bytes:
    """Return ``model_bytes`` with ``metadata`` stored in the flatbuffer's metadata list.

    An existing ``lponet_metadata`` entry is replaced. The model is re-serialised with the
    flatbuffer schema shipped in ``ai_edge_litert``; tensors and ops are unchanged.

    Args:
        model_bytes: a ``.tflite`` flatbuffer.
        metadata: what to store.

    Returns:
        The new flatbuffer.

    Example:
        >>> data = embed_tflite(open("m.tflite", "rb").read(), meta)  # doctest: +SKIP
        >>> read_tflite(data) == meta                                  # doctest: +SKIP
        True
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes))
    entries = [m for m in (model.metadata or []) if _name(m.name) != METADATA_KEY]
    model.buffers = [_aligned(b) for b in model.buffers]
    model.buffers.append(_aligned(None, metadata.to_json().encode("utf-8")))
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = entries + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


#: Weight buffers start on 16-byte boundaries, as the converter writes them (SIMD
#: kernels and delegates may read weights in place from a memory-mapped file).
BUFFER_ALIGNMENT = 16


def _aligned(buffer, data: Optional[bytes] = None):
    """A copy of a ``BufferT`` (or a new one holding ``data``) that packs its bytes at a
    :data:`BUFFER_ALIGNMENT` boundary; the schema's own ``Pack`` aligns to 1 byte."""
    from ai_edge_litert import schema_py_generated as schema

    class AlignedBufferT(schema.BufferT):
        def Pack(self, builder):
            vector = None
            if self.data is not None:
                payload = bytes(memoryview(self.data).cast("B"))
                builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
                builder.head -= len(payload)
                builder.Bytes[builder.head : builder.head + len(payload)] = payload
                builder.vectorNumElems = len(payload)
                vector = builder.EndVector()
            schema.BufferStart(builder)
            if vector is not None:
                schema.BufferAddData(builder, vector)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    out = AlignedBufferT()
    if buffer is not None:
        out.data, out.offset, out.size = buffer.data, buffer.offset, buffer.size
    else:
        out.data = data
    return out


def tflite_metadata_entries(model_bytes) -> Dict[str, bytes]:
    """``{name: raw bytes}`` of every entry of a ``.tflite`` file's metadata list.

    Raises:
        MetadataError: the bytes are not a TFLite flatbuffer.
    """
    from ai_edge_litert import schema_py_generated as schema

    data = bytes(model_bytes)
    # "TFL3" is the schema's file identifier at bytes 4..8; checking it first turns a
    # random or text file into a clear error instead of a flatbuffer crash.
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise MetadataError("not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        model = schema.Model.GetRootAs(data, 0)
        out = {}
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            buf = model.Buffers(entry.Buffer())
            out[_name(entry.Name())] = bytes(buf.DataAsNumpy()) if buf.DataLength() else b""
        return out
    except Exception as exc:  # a truncated flatbuffer fails anywhere inside
        raise MetadataError(f"corrupt TFLite flatbuffer: {exc}") from exc


def read_tflite(model_bytes) -> Optional[ModelMetadata]:
    """The :class:`ModelMetadata` stored by :func:`embed_tflite`, or None when absent.

    Raises:
        MetadataError: the bytes are not a TFLite flatbuffer, or the stored record is
            corrupt (not UTF-8 text, not JSON, a required field missing or invalid).
    """
    raw = tflite_metadata_entries(model_bytes).get(METADATA_KEY)
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # a damaged file: the record's bytes, not its JSON
        raise MetadataError(f"corrupt LPONet metadata in the TFLite file: not UTF-8 text "
                            f"(byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from exc
    try:
        return ModelMetadata.from_json(text)
    except NewerMetadataError:
        raise
    except MetadataError as exc:
        raise MetadataError(f"corrupt LPONet metadata in the TFLite file: {exc}") from exc


def _name(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# -- ONNX -----------------------------------------------------------------------------
def onnx_props(metadata: ModelMetadata) -> Dict[str, str]:
    """``metadata_props`` entries: the JSON record plus flat ``lponet.<field>`` strings."""
    props = {METADATA_KEY: metadata.to_json()}
    for key, value in metadata.to_dict().items():
        if key != "config":
            props[f"lponet.{key}"] = value if isinstance(value, str) else json.dumps(value)
    return props


def embed_onnx(model_proto, metadata: ModelMetadata) -> None:
    """Store ``metadata`` in an ``onnx.ModelProto``'s ``metadata_props`` (in place)."""
    props = onnx_props(metadata)
    keep = [p for p in model_proto.metadata_props if p.key not in props]
    del model_proto.metadata_props[:]
    for p in keep:
        model_proto.metadata_props.add(key=p.key, value=p.value)
    for key, value in props.items():
        model_proto.metadata_props.add(key=key, value=value)


def read_onnx_props(props: Dict[str, str]) -> Optional[ModelMetadata]:
    """Metadata from ONNX ``metadata_props`` as a dict (e.g. onnxruntime's
    ``get_modelmeta().custom_metadata_map``), or None when absent."""
    raw = props.get(METADATA_KEY)
    return None if raw is None else ModelMetadata.from_json(raw)
