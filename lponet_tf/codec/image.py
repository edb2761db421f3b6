"""Loading and normalising an image, the first step of the face codec: anything image-like
-> RGB uint8.

Everything the library works on (training samples, evaluation, export calibration, the
analyzer, the detector and :func:`lponet_tf.draw`) is one ``(H, W, 3)`` uint8 RGB array,
read here and nowhere else. :func:`to_rgb_uint8` builds it from what users have:

* numpy arrays (or anything ``np.asarray`` takes, e.g. a PIL image; one in a mode whose
  pixels are not RGB or gray values, such as a palette, CMYK, YCbCr or HSV, is converted to
  RGB by PIL first; its EXIF orientation is the caller's to apply, ``ImageOps.exif_transpose``):
    - shape ``(H, W)`` / ``(H, W, 1)`` gray, ``(H, W, 3)`` colour, ``(H, W, 4)`` with alpha
      (alpha is dropped: the network never saw transparency, and compositing onto a colour
      would invent a background);
    - channel order RGB, or BGR / BGRA (OpenCV) with ``rgb=False``;
    - values: see "Value ranges" below; bool is refused, NaN or inf is an error (not a
      silent black pixel).
* a file path (``str`` / ``os.PathLike``): decoded by OpenCV, 16-bit, gray and alpha
  files included, turned upright by their EXIF orientation;
* encoded bytes (``bytes``, ``bytearray``, ``memoryview``) of a PNG / JPEG / ...

Problems raise :class:`~lponet_tf.errors.ImageError` with a message that names the file
(or says "array"), never an OpenCV exception.

Value ranges (arrays). The range ``lo..hi`` that maps onto 0..255 depends only on the dtype,
never on the values, unless ``value_range=(lo, hi)`` says otherwise:

* uint8 ``0..255``; uint16 ``0..65535`` (``/ 257``); other integers ``0..255``;
* float ``0..1`` (the float-image convention of skimage, OpenCV and
  ``tf.image.convert_image_dtype``). A float image in 0..255, 0..65535 or -1..1 needs
  ``value_range=(0, 255)``, ``(0, 65535)`` or ``(-1, 1)``.

Integers must lie inside the range (integer resizes saturate, so a value outside is a
mistake). Floats may pass either end by up to :data:`FLOAT_OVERSHOOT` of the range's span,
as cubic or Lanczos resampling does (about 0.12 on a photo, 0.19 on black-on-white text for
0..1); those values are clipped. A value further out is an ``ImageError`` that gives the
values seen and suggests a ``value_range``: the rule never switches to another range on its
own.

Example:
    >>> to_rgb_uint8(np.zeros((4, 5), np.uint16)).shape
    (4, 5, 3)
    >>> to_rgb_uint8(np.full((2, 2, 3), 1.0))[0, 0].tolist()
    [255, 255, 255]
    >>> to_rgb_uint8(np.zeros((2, 2)), value_range=(-1, 1))[0, 0].tolist()
    [128, 128, 128]
"""
from __future__ import annotations

import io
import math
import os
import re
import sys
import warnings
from typing import Optional, Tuple, Union

import cv2
import numpy as np

from lponet_tf.errors import ImageError

__all__ = ["to_rgb_uint8", "load_image", "decode_image", "image_size", "exif_orientation",
           "describe", "check_value_range", "check_header_size", "FLOAT_OVERSHOOT", "MAX_PIXELS", "ImageLike"]

ImageLike = Union[np.ndarray, str, os.PathLike, bytes, bytearray, memoryview]

# Rows converted per step for float inputs: the float temporaries of an 8000 x 8000 image
# would otherwise take several GB at once.
_ROWS_PER_CHUNK = 512
# OpenCV's own decoder limit (2**30 pixels) is far above what fits in memory next to a
# model; refuse earlier with a clear message instead of an allocation failure.
MAX_PIXELS = 20000 * 20000
#: Float values may pass the ends of their range by this fraction of its span (resampling
#: overshoot, clipped); further out is an error. Measured with OpenCV's cubic / Lanczos
#: resize of 0..1 images: 0.12 on the bundled photo, 0.19 on black-on-white text; a
#: -1..1 image (min -1) or a 0..255 one read as 0..1 (max 255) is far outside.
FLOAT_OVERSHOOT = 0.25


def describe(image) -> str:
    """Short name of an input for error messages: the path, or ``array (H, W, C) dtype``."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return f"<{len(image)} bytes>"
    shape = getattr(image, "shape", None)
    dtype = getattr(image, "dtype", None)
    return f"array {tuple(shape) if shape is not None else '?'} {dtype or type(image).__name__}"


def check_header_size(data, name: str = "<bytes>") -> None:
    """Refuse encoded image bytes whose header declares more than :data:`MAX_PIXELS`
    pixels, before any pixel is decoded (OpenCV would first decode up to 2**30 of them:
    gigabytes for a 600 KB file).

    The size is read by Pillow's lazy ``Image.open``, which parses the header only. Data
    Pillow does not read (or no Pillow) passes: the size is checked again after decoding.

    Raises:
        ImageError: ``"{name}: image too large (W x H pixels)"``.

    Example:
        >>> ok, png = cv2.imencode(".png", np.zeros((3, 4), np.uint8))
        >>> check_header_size(png.tobytes())   # small: passes
    """
    try:
        from PIL import Image
    except ImportError:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(memoryview(data))) as im:
                width, height = im.size
    except Image.DecompressionBombError as exc:
        # Pillow's own limit (about 179 Mpx by default) is below ours: refuse only what
        # is above MAX_PIXELS, from the pixel count its message gives. A message that
        # gives none (another Pillow) still proves more than Pillow's limit: refused as
        # that, rather than decoded (gigabytes) to find out.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        if found is None:
            limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
            raise ImageError(f"{name}: image too large (more than {limit} pixels, "
                             f"Pillow's decompression-bomb limit)") from None
        if int(found.group(1)) > MAX_PIXELS:
            raise ImageError(f"{name}: image too large ({int(found.group(1))} pixels)") from None
        return
    except Exception:  # noqa: BLE001  (not an image Pillow reads: the decoder reports it)
        return
    if width * height > MAX_PIXELS:
        raise ImageError(f"{name}: image too large ({width} x {height} pixels)")


def decode_image(data, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to ``(H, W, 3)`` uint8 RGB.

    Args:
        data: bytes of a PNG, JPEG, BMP, TIFF, WebP ... file.
        name: what to call the data in error messages (the file path).

    Returns:
        ``(H, W, 3)`` uint8 RGB array.

    Raises:
        ImageError: empty, truncated, corrupt, not an image, or too large (more than
            :data:`MAX_PIXELS`; refused from the header, before decoding, when Pillow
            reads it).

    Example:
        >>> ok, png = cv2.imencode(".png", np.zeros((3, 4), np.uint8))
        >>> decode_image(png.tobytes()).shape
        (3, 4, 3)
    """
    buf = np.frombuffer(memoryview(data), np.uint8)
    if buf.size == 0:
        raise ImageError(f"{name}: empty file (0 bytes)")
    check_header_size(buf, name)  # before OpenCV allocates the pixels
    try:
        # ANYDEPTH keeps 16 bits and ANYCOLOR gray (to_rgb_uint8 converts both), while the
        # EXIF orientation of phone photos is still applied (IMREAD_UNCHANGED would ignore
        # it and hand the detector a face lying on its side). Alpha is dropped.
        img = cv2.imdecode(buf, cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    except cv2.error as exc:  # e.g. a header announcing more pixels than OpenCV allows
        raise ImageError(f"{name}: cannot decode image: {exc.err or exc}") from exc
    if img is None or img.size == 0:
        raise ImageError(f"{name}: cannot decode image (truncated, corrupt or not an image)")
    return to_rgb_uint8(img, rgb=False, name=name)


def load_image(path, name: Optional[str] = None) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB.

    Args:
        path: file path.
        name: what to call it in errors (default: the path).

    Returns:
        ``(H, W, 3)`` uint8 RGB array.

    Raises:
        ImageError: missing, a folder, unreadable or undecodable; the message names it.

    Example:
        >>> load_image("lponet_tf/assets/astronaut.png").shape      # doctest: +SKIP
        (512, 512, 3)
    """
    path = os.fspath(path)
    name = name or path
    _check_file(path, name)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ImageError(f"{name}: cannot read file: {exc.strerror or exc}") from exc
    return decode_image(data, name)


def _check_file(path: str, name: str) -> None:
    if not os.path.exists(path):
        raise ImageError(f"{name}: file not found")
    if not os.path.isfile(path):
        raise ImageError(f"{name}: not a file")


#: Formats whose size Pillow reads from the header and whose EXIF orientation OpenCV's
#: decoder applies as Pillow's tag says (tests/test_codec_image.py checks all 8 orientations
#: against a decode). Other files are decoded to learn their size.
_HEADER_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")


def _read_header(source) -> Optional[Tuple[str, Tuple[int, int], Optional[int]]]:
    """``(format, (width, height) as stored, EXIF orientation or None)`` by Pillow's lazy
    open (the header only), or None: no Pillow, or a file Pillow does not read (the
    decoder reports that)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview))
                            else source) as im:
                value = im.getexif().get(0x0112)
                return im.format, im.size, int(value) if isinstance(value, int) else None
    except Exception:  # noqa: BLE001  (includes Pillow's bomb error: the decoder decides)
        return None


def exif_orientation(source) -> Optional[int]:
    """The EXIF orientation tag (1-8) of an image file (path) or its bytes, or None (no
    tag, no Pillow, or not an image Pillow reads). Reads the header only.

    Example:
        >>> exif_orientation("lponet_tf/assets/astronaut.png") is None   # doctest: +SKIP
        True
    """
    header = _read_header(source)
    return header[2] if header else None


def image_size(path, name: Optional[str] = None) -> Tuple[int, int]:
    """``(height, width)`` of the image :func:`load_image` returns for ``path``: upright,
    as its EXIF orientation turns it. Read from the header, without decoding a pixel, for
    JPEG, PNG, WebP and BMP files; other files are decoded. A dataset's pre-flight checks
    (every label against its image, before a training starts) read thousands of these.

    Raises:
        ImageError: missing, a folder, not an image, or more than :data:`MAX_PIXELS`
            pixels; the message names it.

    Example:
        >>> image_size("lponet_tf/assets/astronaut.png")                 # doctest: +SKIP
        (512, 512)
    """
    path = os.fspath(path)
    name = name or path
    _check_file(path, name)
    header = _read_header(path)
    if header is None or header[0] not in _HEADER_FORMATS:
        return tuple(load_image(path, name).shape[:2])
    _, (width, height), orientation = header
    if width * height > MAX_PIXELS:
        raise ImageError(f"{name}: image too large ({width} x {height} pixels)")
    # Orientations 5-8 turn the picture by 90 degrees (EXIF 2.3, tag 0x0112).
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def check_value_range(value_range) -> Optional[Tuple[float, float]]:
    """Validate a ``value_range`` argument: None, or ``(lo, hi)`` finite numbers, lo < hi.

    Raises:
        ValueError: anything else (the message shows what was given).

    Example:
        >>> check_value_range([0, 255])
        (0.0, 255.0)
    """
    if value_range is None:
        return None
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be (low, high) numbers, got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range must be finite with low < high, got {value_range!r}")
    return lo, hi


def _suggest_range(lo: float, hi: float, overshoot: float) -> str:
    """The first common range that holds the values seen and that they fill more than a
    tenth of: a hint for the error message, never applied. (Values of 0..1.3, a float image
    brightened past 1, fit in 0..255 too; read as 8-bit they would be a black image.)"""
    signed = ((-1, 1),) if lo < 0 else ()
    for a, b in (*signed, (0, 255), (0, 4095), (0, 65535)):
        slack = overshoot * (b - a)
        if a - slack <= lo and hi <= b + slack and hi - lo > 0.1 * (b - a):
            return f"value_range=({a}, {b})"
    return (f"value_range=(low, high) with the range your images are made in "
            f"(these span {lo:g}..{hi:g})")


def _value_span(arr: np.ndarray, name: str) -> Tuple[float, float]:
    """``(min, max)`` of the values, refusing NaN / inf; in row chunks, as the comparison
    temporaries of a huge image would otherwise take GBs."""
    lo, hi = math.inf, -math.inf
    for r in range(0, arr.shape[0], _ROWS_PER_CHUNK):
        block = arr[r:r + _ROWS_PER_CHUNK]
        if block.dtype.kind == "f" and not np.all(np.isfinite(block)):
            raise ImageError(f"{name}: image contains NaN or infinite values")
        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    return lo, hi


def _to_uint8(arr: np.ndarray, name: str, value_range=None) -> np.ndarray:
    """Any supported dtype -> uint8 with the value ranges of the module docstring."""
    if arr.dtype == np.bool_:
        raise ImageError(f"{name}: boolean arrays are masks, not images")
    is_float = np.issubdtype(arr.dtype, np.floating)
    if not (is_float or np.issubdtype(arr.dtype, np.integer)):
        raise ImageError(f"{name}: unsupported dtype {arr.dtype}")
    if value_range is None:
        if arr.dtype == np.uint8:
            return arr
        if arr.dtype == np.uint16:
            # Rounded division by 257 maps 0..65535 exactly onto 0..255; in row chunks, as
            # _rescale does, so a huge image's uint32 temporaries stay small.
            out = np.empty(arr.shape, np.uint8)
            for r in range(0, arr.shape[0], _ROWS_PER_CHUNK):
                block = arr[r:r + _ROWS_PER_CHUNK].astype(np.uint32)
                block += 128
                block //= 257
                out[r:r + _ROWS_PER_CHUNK] = block
            return out
    lo, hi = value_range or ((0.0, 1.0) if is_float else (0.0, 255.0))
    seen_lo, seen_hi = _value_span(arr, name)
    overshoot = FLOAT_OVERSHOOT if is_float else 0.0
    slack = overshoot * (hi - lo)
    if seen_lo < lo - slack or seen_hi > hi + slack:
        given = "value_range" if value_range else f"the {arr.dtype} default"
        allowed = (f"{lo:g}..{hi:g}, overshoot up to {slack:g} clipped" if slack
                   else f"{lo:g}..{hi:g}")
        hint = _suggest_range(seen_lo, seen_hi, overshoot)
        raise ImageError(
            f"{name}: {arr.dtype} values span {seen_lo:g}..{seen_hi:g}, outside {given} "
            f"({allowed}); pass {hint}"
            + ("" if hint.startswith("value_range=(low") else " (the range your images use)")
        )
    if value_range is None and not is_float:
        return arr.astype(np.uint8)  # integers in 0..255 already
    return _rescale(arr, lo, hi)


def _rescale(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``lo..hi`` -> 0..255, rounded and clipped, in row chunks (float temporaries)."""
    out = np.empty(arr.shape, np.uint8)
    scale = 255.0 / (hi - lo)
    for r in range(0, arr.shape[0], _ROWS_PER_CHUNK):
        block = (arr[r:r + _ROWS_PER_CHUNK].astype(np.float32) - lo) * scale
        np.clip(block + 0.5, 0, 255, out=block)
        out[r:r + _ROWS_PER_CHUNK] = block.astype(np.uint8)
    return out


#: PIL image modes whose array holds what the dtype rules above read: gray, RGB(A), 16- and
#: 32-bit integer and float gray. Any other mode's array holds no RGB values (palette
#: indices, CMYK, YCbCr, HSV, LAB...) and is converted by PIL first (:func:`_pil_as_rgb`).
_PIL_AS_IS = frozenset({"L", "RGB", "RGBA", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})


def _pil_as_rgb(image):
    """A PIL image in a mode of no RGB values -> the same picture as RGB, RGBA (a mode with
    alpha, or a palette with transparency) or L (bilevel); anything else as it is."""
    pil = sys.modules.get("PIL.Image")  # never imported here: only a PIL user has PIL images
    if pil is None or not isinstance(image, pil.Image) or image.mode in _PIL_AS_IS:
        return image
    if image.mode == "1":
        return image.convert("L")
    alpha = "A" in image.mode or "a" in image.mode or "transparency" in image.info
    return image.convert("RGBA" if alpha else "RGB")


def to_rgb_uint8(image: ImageLike, rgb: bool = True, name: Optional[str] = None,
                 value_range=None) -> np.ndarray:
    """Normalise an image input to a contiguous ``(H, W, 3)`` uint8 RGB array.

    Args:
        image: array, path or encoded bytes (see the module docstring).
        rgb: channel order of an array input: True for RGB(A), False for BGR(A) (OpenCV).
            Ignored for paths and bytes, whose decoder knows the order.
        name: what to call the input in error messages (default: :func:`describe`).
        value_range: ``(lo, hi)`` of an array's values, mapped onto 0..255; None: from
            the dtype (uint8 0..255, uint16 0..65535, other integers 0..255, float 0..1;
            see the module docstring). Ignored for paths and bytes, whose file format
            says it.

    Returns:
        ``(H, W, 3)`` uint8 RGB; the input itself when it already is one (no copy).

    Raises:
        ImageError: unsupported type, dtype or shape; empty; NaN; values outside the
            range; undecodable file.
        ValueError: a malformed ``value_range``.

    Example:
        >>> bgr = np.zeros((2, 2, 3), np.uint8); bgr[..., 0] = 255   # blue in OpenCV order
        >>> to_rgb_uint8(bgr, rgb=False)[0, 0].tolist()
        [0, 0, 255]
    """
    value_range = check_value_range(value_range)
    name = name or describe(image)
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, name)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(image, name)
    image = _pil_as_rgb(image)
    try:
        arr = np.asarray(image)
    except Exception as exc:  # arbitrary objects: report, don't crash
        raise ImageError(f"{name}: not an image ({type(image).__name__})") from exc
    if arr.dtype == object:
        raise ImageError(f"{name}: not an image ({type(image).__name__})")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(
            f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"{name}: image is empty (shape {arr.shape})")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise ImageError(f"{name}: image too large ({arr.shape[1]} x {arr.shape[0]} pixels)")
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]  # drop alpha (see the module docstring)
    arr = _to_uint8(arr, name, value_range)
    if arr.ndim == 2:
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_GRAY2RGB)
    elif not rgb:
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(arr)
