"""Strict reading of settings: a mapping of names to values checked against a dataclass.

The dataclass is the one source of truth: its fields are the known names, its annotations
the types. Checking is strict on purpose, because a lenient reader turns a typo into a silent
default: an unknown name is an error that suggests the nearest known one; ``int`` means an
integer and not a boolean; ``float`` a finite number (an integer is fine); ``bool`` ``true`` or
``false`` and not the string ``"false"``; ``tuple[T, ...]`` a list of ``T``. Ranges belong to
the dataclass's own ``__post_init__``, which raises :class:`SettingError` too.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Mapping
from typing import Any


class SettingError(ValueError):
    """A setting with a wrong name, type or value. ``key`` names it, ``detail`` says what is
    wrong starting with a verb (``"must be an integer, got 1.5"``), so that a caller can put the
    file and line in front: ``f"{file}, line {n}: key {key!r} {detail}"``."""

    def __init__(self, owner: str, key: str, detail: str, message: str | None = None):
        self.owner, self.key, self.detail = owner, key, detail
        super().__init__(message or f"{owner}.{key} {detail}")


def _describe(value: Any) -> str:
    """``value`` as a user wrote it, with a hint where YAML read something unexpected."""
    if isinstance(value, bool):
        return f"{value!r} (a boolean)"
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, (list, tuple)):
        return f"the list {list(value)!r}"
    if isinstance(value, dict):
        return f"a mapping {value!r}"
    if isinstance(value, (int, float)):
        return repr(value)
    return f"{value!r} (a {type(value).__name__})"


def _unquote_hint(value: Any, expected: str) -> str:
    """Advice for a string that holds what was expected (``"false"``, ``"3"``)."""
    if not isinstance(value, str):
        return ""
    text = value.strip().lower()
    if expected == "bool" and text in ("true", "false", "yes", "no", "on", "off", "0", "1"):
        return f"; write {'true' if text in ('true', 'yes', 'on', '1') else 'false'} without quotes"
    if expected in ("int", "float"):
        try:
            float(text)
        except ValueError:
            return ""
        return "; write the number without quotes"
    return ""


def check_value(owner: str, key: str, value: Any, hint: Any, example: Any = None) -> Any:
    """``value`` checked against the type ``hint``; returns it (lists as tuples)."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item_hint, *_rest) = typing.get_args(hint)
        kind = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}[item_hint]
        if not isinstance(value, (list, tuple)):
            shown = f" such as {list(example)!r}" if example else ""
            raise SettingError(owner, key, f"must be a list of {kind}{shown}, got {_describe(value)}")
        out = []
        for i, item in enumerate(value):
            try:
                out.append(check_value(owner, key, item, item_hint))
            except SettingError as exc:
                raise SettingError(owner, key, f"item {i + 1} {exc.detail}") from None
        return tuple(out)
    if hint is bool:
        if not isinstance(value, bool):
            raise SettingError(owner, key, f"must be true or false, got {_describe(value)}{_unquote_hint(value, 'bool')}")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise SettingError(owner, key, f"must be an integer, got {_describe(value)}{_unquote_hint(value, 'int')}")
        return value
    if hint is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SettingError(owner, key, f"must be a number, got {_describe(value)}{_unquote_hint(value, 'float')}")
        if not math.isfinite(value):
            raise SettingError(owner, key, f"must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SettingError(owner, key, f"must be a string, got {_describe(value)}")
        return value
    raise TypeError(f"{owner}.{key}: no check for the type {hint!r}")  # a programming error


def type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's fields (``from __future__ import annotations`` safe)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def check_fields(instance: Any) -> dict[str, Any]:
    """Every field of a dataclass instance checked against its annotation; returns the checked
    values (lists as tuples), for ``__post_init__`` to store."""
    cls = type(instance)
    out = {}
    for f in dataclasses.fields(cls):
        example = f.default if f.default is not dataclasses.MISSING else None
        out[f.name] = check_value(cls.__name__, f.name, getattr(instance, f.name), type_hints(cls)[f.name], example)
    return out


def nearest(key: str, known) -> str | None:
    """The known name closest to a misspelt ``key``, if one is close."""
    match = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    return match[0] if match else None


def unknown_key(owner: str, key: Any, known) -> SettingError:
    """The error for a name that is not a setting, with the nearest known name."""
    known = sorted(known)
    if not isinstance(key, str) or not key.strip():
        return SettingError(owner, repr(key), f"is not a setting name; the settings are {known}")
    close = nearest(key, known)
    advice = f"; did you mean {close!r}?" if close else ""
    return SettingError(owner, key, f"is not a setting{advice or '.'} The settings are {known}")


def from_mapping(cls: type, mapping: Mapping, known: set[str] | None = None) -> Any:
    """An instance of the dataclass ``cls`` from ``mapping``, strictly: every key must be one of
    ``known`` (default: every field); the instance's ``__post_init__`` checks types and ranges."""
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{cls.__name__} settings must be a mapping of names to values, got {_describe(mapping)}")
    fields = {f.name for f in dataclasses.fields(cls)}
    known = set(known) if known is not None else fields
    for key in mapping:
        if key in fields and key not in known:
            raise SettingError(cls.__name__, key, "cannot be set here: no chapter's parameters cell reads it (set it in code)")
        if key not in known:
            raise unknown_key(cls.__name__, key, known)
    return cls(**mapping)
