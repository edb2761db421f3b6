"""Small typed schema for nested config mappings: fields with types and ranges, unknown
keys refused with a "did you mean", values normalised (``"1e-4"`` -> ``1e-4``).

A schema is a tree of checkers; each checker takes ``(value, path)`` and returns the
normalised value or raises :class:`Invalid` naming the key path and the reason. The
training config's schema (:mod:`lponet_tf.training.config`) is built from these pieces;
the sections that mirror a dataclass (``LPONetConfig``, ``AugmentConfig``,
``OcclusionConfig``) are derived from its fields and annotations, and the dataclass itself
checks the ranges, so there is one source of truth per section.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

Path = Tuple[Any, ...]
Checker = Callable[[Any, Path], Any]


class Invalid(Exception):
    """A value breaks the schema.

    Args:
        paths: key paths at fault (the first one is where the error is reported).
        reason: what is wrong, for a person.
    """

    def __init__(self, paths: Sequence[Path], reason: str):
        self.paths = [tuple(p) for p in paths]
        self.reason = reason
        super().__init__(f"{dotted(self.paths[0])}: {reason}")


def dotted(path: Iterable[Any]) -> str:
    """``("data", "train", 0, "root")`` -> ``"data.train.0.root"``."""
    return ".".join(str(p) for p in path)


def did_you_mean(word: str, options: Iterable[Any]) -> str:
    """``"; did you mean 'batch_size'?"`` when a close option exists, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _kind(value) -> str:
    return "null" if value is None else type(value).__name__


def integer(low: Optional[int] = None, high: Optional[int] = None) -> Checker:
    """An int (not a bool) in ``[low, high]``."""

    def check(value, path):
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid([path], f"expected an integer, got {value!r} ({_kind(value)})")
        if low is not None and value < low:
            raise Invalid([path], f"must be >= {low}, got {value}")
        if high is not None and value > high:
            raise Invalid([path], f"must be <= {high}, got {value}")
        return value

    return check


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def number(low: Optional[float] = None, high: Optional[float] = None,
           low_open: bool = False, high_open: bool = False) -> Checker:
    """A finite float in the range (ints and numeric strings are converted).

    Numeric strings are accepted because YAML 1.1 reads ``1e-4`` (no dot) as a string.
    """

    def check(value, path):
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid([path], f"expected a number, got {value!r} ({_kind(value)})")
        value = float(value)
        if not math.isfinite(value):
            raise Invalid([path], f"must be finite, got {value}")
        if low is not None and (value <= low if low_open else value < low):
            raise Invalid([path], f"must be {'>' if low_open else '>='} {low}, got {value}")
        if high is not None and (value >= high if high_open else value > high):
            raise Invalid([path], f"must be {'<' if high_open else '<='} {high}, got {value}")
        return value

    return check


def boolean() -> Checker:
    def check(value, path):
        if not isinstance(value, bool):
            raise Invalid([path], f"expected true or false, got {value!r} ({_kind(value)})")
        return value

    return check


def text(nonempty: bool = True) -> Checker:
    def check(value, path):
        if not isinstance(value, str):
            raise Invalid([path], f"expected a string, got {value!r} ({_kind(value)})")
        if nonempty and not value.strip():
            raise Invalid([path], "must not be empty")
        return value

    return check


def choice(*options, normalise: Optional[Callable[[Any], Any]] = None) -> Checker:
    """One of ``options`` (after ``normalise``, e.g. lower-casing)."""

    def check(value, path):
        key = normalise(value) if (normalise is not None and isinstance(value, str)) else value
        # `1 in (True, ...)` is True in Python: compare types too.
        if not any(key == o and type(key) is type(o) for o in options):
            raise Invalid([path], f"must be one of {list(options)}, got {value!r}"
                          f"{did_you_mean(value, options) if isinstance(value, str) else ''}")
        return key

    return check


def optional(inner: Checker) -> Checker:
    """``null`` or what ``inner`` accepts."""

    def check(value, path):
        return None if value is None else inner(value, path)

    return check


def list_of(item: Checker, length: Optional[int] = None, nonempty: bool = False) -> Checker:
    def check(value, path):
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise Invalid([path], f"expected a list, got {value!r} ({_kind(value)})")
        if length is not None and len(value) != length:
            raise Invalid([path], f"expected {length} items, got {len(value)}")
        if nonempty and not value:
            raise Invalid([path], "must not be empty")
        return [item(v, path + (i,)) for i, v in enumerate(value)]

    return check


def section(fields: Dict[str, Checker], required: Sequence[str] = (),
            finish: Optional[Callable[[dict, Path], dict]] = None) -> Checker:
    """A mapping with the given fields; unknown keys are refused (with a suggestion).

    Args:
        fields: key -> checker. Keys left out of the value stay out (defaults come from
            elsewhere).
        required: keys that must be present.
        finish: ``(normalised, path) -> normalised``, for checks across fields.
    """

    def check(value, path):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise Invalid([path], f"expected a mapping, got {value!r} ({_kind(value)})")
        for key in value:
            if key not in fields:
                raise Invalid([path + (key,)],
                              f"unknown key{did_you_mean(key, fields) or f' (known: {sorted(fields)})'}")
        for key in required:
            if key not in value:
                raise Invalid([path + (key,)], "missing (required)")
        out = {key: fields[key](v, path + (key,)) for key, v in value.items()}
        return finish(out, path) if finish is not None else out

    return check


def _from_hint(hint) -> Optional[Checker]:
    """A checker for a dataclass annotation; None when the dataclass alone decides."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return boolean()
    if hint is int:
        return integer()
    if hint is float:
        return number()
    if hint is str:
        return text()
    if origin is typing.Union and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        checker = _from_hint(inner[0]) if len(inner) == 1 else None
        return None if checker is None else optional(checker)
    if origin in (tuple, list) and args:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _from_hint(args[0])
            return None if item is None else list_of(item)
        items = [_from_hint(a) for a in args]
        return tuple_of(*items) if all(items) else None
    return None


def tuple_of(*items: Checker) -> Checker:
    """A list of exactly ``len(items)`` values, each checked by its own checker."""
    sized = list_of(lambda value, path: value, length=len(items))

    def check(value, path):
        return [c(v, path + (i,)) for i, (c, v) in enumerate(zip(items, sized(value, path)))]

    return check


def dataclass_section(cls, label: str) -> Checker:
    """The fields of dataclass ``cls`` as a section, typed from its annotations; the
    merged values are then passed to ``cls(**values)`` so its own range checks run.

    Args:
        cls: a dataclass whose ``__post_init__`` raises ``ValueError`` on bad values.
        label: its name in messages.
    """
    hints = typing.get_type_hints(cls)
    fields = {}
    for f in dataclasses.fields(cls):
        fields[f.name] = _from_hint(hints[f.name]) or (lambda value, path: value)

    def finish(values, path):
        try:
            cls(**values)
        except (ValueError, TypeError) as exc:
            message = str(exc)
            # Point at the field the error names, else at the fields its message mentions.
            field = getattr(exc, "field", None)
            named = ([path + (field,)] if field in fields else
                     [path + (k,) for k in fields if re.search(rf"\b{re.escape(k)}\b", message)])
            raise Invalid(named or [path], message if field in fields else f"invalid {label}: {message}") from exc
        return values

    return section(fields, finish=finish)


def disabled_or(inner: Checker) -> Checker:
    """``false`` (switched off) or what ``inner`` accepts (``null`` = all defaults)."""

    def check(value, path):
        return False if value is False else inner(value, path)

    return check
