"""Input normalisation for :class:`~lponet_tf.FaceAnalyzer`: anything image-like -> RGB uint8.

Everything the analyzer, the detector and :func:`lponet_tf.draw` work on is one
``(H, W, 3)`` uint8 RGB array. :func:`to_rgb_uint8` builds it from what users have:

* numpy arrays (or anything ``np.asarray`` takes, e.g. a PIL image):
    - shape ``(H, W)`` / ``(H, W, 1)`` gray, ``(H, W, 3)`` colour, ``(H, W, 4)`` with alpha
      (alpha is dropped: the network never saw transparency, and compositing onto a colour
      would invent a background);
    - channel order RGB, or BGR / BGRA (OpenCV) with ``rgb=False``;
    - dtype uint8 (as is), uint16 (``/ 257``: 65535 -> 255), other integers holding
      0..255, bool is refused, float: values in ``[0, 1]`` (the float-image convention of
      skimage / OpenCV), or ``[0, 255]`` when the maximum exceeds 1 (e.g. a uint8 image
      cast to float). NaN or inf is an error, not a silent black pixel.
* a file path (``str`` / ``os.PathLike``): decoded by OpenCV, 16-bit, gray and alpha
  files included, turned upright by their EXIF orientation;
* encoded bytes (``bytes``, ``bytearray``, ``memoryview``) of a PNG / JPEG / ...

Problems raise :class:`~lponet_tf.errors.ImageError` with a message that names the file
(or says "array"), never an OpenCV exception.

Example:
    >>> to_rgb_uint8(np.zeros((4, 5), np.uint16)).shape
    (4, 5, 3)
    >>> to_rgb_uint8(np.full((2, 2, 3), 1.0))[0, 0].tolist()
    [255, 255, 255]
"""
from __future__ import annotations

import os
from typing import Optional, Union

import cv2
import numpy as np

from lponet_tf.errors import ImageError

__all__ = ["to_rgb_uint8", "load_image", "decode_image", "describe"]

ImageLike = Union[np.ndarray, str, os.PathLike, bytes, bytearray, memoryview]

# Rows converted per step for float inputs: the float temporaries of an 8000 x 8000 image
# would otherwise take several GB at once.
_ROWS_PER_CHUNK = 512
# OpenCV's own decoder limit (2**30 pixels) is far above what fits in memory next to a
# model; refuse earlier with a clear message instead of an allocation failure.
MAX_PIXELS = 20000 * 20000


def describe(image) -> str:
    """Short name of an input for error messages: the path, or ``array (H, W, C) dtype``."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return f"<{len(image)} bytes>"
    shape = getattr(image, "shape", None)
    dtype = getattr(image, "dtype", None)
    return f"array {tuple(shape) if shape is not None else '?'} {dtype or type(image).__name__}"


def decode_image(data, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to ``(H, W, 3)`` uint8 RGB.

    Args:
        data: bytes of a PNG, JPEG, BMP, TIFF, WebP ... file.
        name: what to call the data in error messages (the file path).

    Returns:
        ``(H, W, 3)`` uint8 RGB array.

    Raises:
        ImageError: empty, truncated, corrupt, not an image, or too large.

    Example:
        >>> ok, png = cv2.imencode(".png", np.zeros((3, 4), np.uint8))
        >>> decode_image(png.tobytes()).shape
        (3, 4, 3)
    """
    buf = np.frombuffer(memoryview(data), np.uint8)
    if buf.size == 0:
        raise ImageError(f"{name}: empty file (0 bytes)")
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
    if not os.path.exists(path):
        raise ImageError(f"{name}: file not found")
    if not os.path.isfile(path):
        raise ImageError(f"{name}: not a file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ImageError(f"{name}: cannot read file: {exc.strerror or exc}") from exc
    return decode_image(data, name)


def _to_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    """Any supported dtype -> uint8 with the documented value ranges."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        raise ImageError(f"{name}: boolean arrays are masks, not images")
    if arr.dtype == np.uint16:
        # Rounded division by 257 maps 0..65535 exactly onto 0..255.
        return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ImageError(
                f"{name}: {arr.dtype} values must lie in 0..255 (got {lo}..{hi}); "
                "pass uint16 for 16-bit images"
            )
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        return _float_to_uint8(arr, name)
    raise ImageError(f"{name}: unsupported dtype {arr.dtype}")


def _float_to_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    out = np.empty(arr.shape, np.uint8)
    top = 0.0
    # Two passes in row chunks: first the range (and NaN check), then the conversion.
    for r in range(0, arr.shape[0], _ROWS_PER_CHUNK):
        block = arr[r:r + _ROWS_PER_CHUNK]
        if not np.all(np.isfinite(block)):
            raise ImageError(f"{name}: image contains NaN or infinite values")
        top = max(top, float(block.max()))
    scale = 255.0 if top <= 1.0 else 1.0
    for r in range(0, arr.shape[0], _ROWS_PER_CHUNK):
        block = arr[r:r + _ROWS_PER_CHUNK].astype(np.float32) * scale
        np.clip(block + 0.5, 0, 255, out=block)
        out[r:r + _ROWS_PER_CHUNK] = block.astype(np.uint8)
    return out


def to_rgb_uint8(image: ImageLike, rgb: bool = True, name: Optional[str] = None) -> np.ndarray:
    """Normalise an image input to a contiguous ``(H, W, 3)`` uint8 RGB array.

    Args:
        image: array, path or encoded bytes (see the module docstring).
        rgb: channel order of an array input: True for RGB(A), False for BGR(A) (OpenCV).
            Ignored for paths and bytes, whose decoder knows the order.
        name: what to call the input in error messages (default: :func:`describe`).

    Returns:
        ``(H, W, 3)`` uint8 RGB; the input itself when it already is one (no copy).

    Raises:
        ImageError: unsupported type, dtype or shape; empty; NaN; undecodable file.

    Example:
        >>> bgr = np.zeros((2, 2, 3), np.uint8); bgr[..., 0] = 255   # blue in OpenCV order
        >>> to_rgb_uint8(bgr, rgb=False)[0, 0].tolist()
        [0, 0, 255]
    """
    name = name or describe(image)
    if isinstance(image, (str, os.PathLike)):
        return load_image(image, name)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(image, name)
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
    arr = _to_uint8(arr, name)
    if arr.ndim == 2:
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_GRAY2RGB)
    elif not rgb:
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(arr)
