"""Read and write the iBUG ``.pts`` landmark format (300W, Menpo, 300VW, Masked 300W).

The format is plain text::

    version: 1
    n_points:  68
    {
    611.284152 272.773913
    ...
    }

Coordinates are kept exactly as stored; no offset is added or removed. 300W's files are
1-based by iBUG's convention while the project's frame is 0-based pixel centres: the 300W
readers subtract the origin only when asked (``pts_origin=1``; docs/CONVENTIONS.md,
"Coordinates").
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from lponet_tf.data.readers import _common
from lponet_tf.errors import DataError
from lponet_tf.fileio import read_text_lines


def read_pts(path, expected_points: Optional[int] = None) -> np.ndarray:
    """Parse one ``.pts`` file.

    Args:
        path: the ``.pts`` file.
        expected_points: when given, a file with a different ``n_points`` raises.

    Returns:
        ``(n_points, 2)`` float64 array of ``x, y`` pixel coordinates.

    Raises:
        DataError: the file is missing or unreadable, the header lacks ``n_points``,
            a point line is not two numbers, the braces are missing, or the number of
            points differs from ``n_points`` / ``expected_points``. The error names
            the file and the 1-based line.

    Example:
        >>> pts = read_pts("image_0010.pts", expected_points=68)  # doctest: +SKIP
        >>> pts.shape  # doctest: +SKIP
        (68, 2)
    """
    lines = read_text_lines(path, ".pts file")

    n_points = None
    open_line = None
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        if text == "{":
            open_line = number
            break
        key, sep, value = text.partition(":")
        if not sep:
            raise DataError(path, f"expected 'key: value' header or '{{', got {text!r}", number)
        if key.strip().lower() == "n_points":
            if n_points is not None:
                raise DataError(path, "a second 'n_points:' line", number)
            if not value.strip().isascii() or not value.strip().isdigit():
                raise DataError(path, f"n_points is not an integer: {value.strip()!r}", number)
            n_points = int(value.strip())
    if n_points is None:
        raise DataError(path, "header has no 'n_points:' line")
    if open_line is None:
        raise DataError(path, "no '{' opening the point list")

    points = []
    close_line = None
    for number in range(open_line + 1, len(lines) + 1):
        text = lines[number - 1].strip()
        if not text:
            continue
        if text == "}":
            close_line = number
            break
        fields = text.split()
        if len(fields) != 2:
            raise DataError(path, f"expected 'x y', got {text!r}", number)
        if not all(_common.is_number(f) for f in fields):  # float() also takes "1_0", "１"
            raise DataError(path, f"not a number in {text!r}", number)
        x, y = float(fields[0]), float(fields[1])
        if not (np.isfinite(x) and np.isfinite(y)):
            raise DataError(path, f"non-finite coordinate in {text!r}", number)
        points.append((x, y))
    if close_line is None:
        raise DataError(path, "no '}' closing the point list", len(lines))
    trailing = next((n for n in range(close_line + 1, len(lines) + 1) if lines[n - 1].strip()), None)
    if trailing is not None:
        raise DataError(path, f"text after the closing '}}': {lines[trailing - 1].strip()!r}", trailing)
    if len(points) != n_points:
        raise DataError(path, f"n_points is {n_points} but {len(points)} points are listed", close_line)
    if expected_points is not None and n_points != expected_points:
        raise DataError(path, f"expected {expected_points} points, found {n_points}")
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def write_pts(path, points, version: int = 1) -> None:
    """Write landmarks as a ``.pts`` file that :func:`read_pts` (and the iBUG tools) read.

    Args:
        path: output file (its folder must exist).
        points: ``(N, 2)`` array-like of ``x, y`` pixel coordinates.
        version: the ``version:`` header value.

    Example:
        >>> write_pts("/tmp/face.pts", [[1.5, 2.0], [3.0, 4.25]])  # doctest: +SKIP
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {points.shape}")
    # Six decimals, like the original 300W files: exact for their values and sub-micro-pixel
    # for anything computed.
    body = "\n".join(f"{x:.6f} {y:.6f}" for x, y in points)
    text = f"version: {version}\nn_points: {len(points)}\n{{\n{body}\n}}\n"
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(text)
