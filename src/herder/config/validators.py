"""Validators: raw setting values in, typed values out, `ValueError` on anything else.

A raw value is a string when it comes from the command line or the environment, and any
Python object when it comes from a config file, so every validator accepts both the string
spelling and the native type (`workers = 4` and `--workers 4`). Booleans are never taken for
integers (`True` is an `int` in Python, but `workers = True` is a mistake).

A value of the wrong type raises `TypeError`, a bad value of the right type `ValueError`.
Messages do not name the setting: the loader prefixes the source (`--workers: ...`).
"""

from __future__ import annotations

import contextlib
import grp
import inspect
import math
import os
import pwd
import re
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f", ""})
_DIGITS = re.compile(r"\s*[0-9]+\s*")  # ASCII only: int() would also take "٣"
_SIGNED_DIGITS = re.compile(r"\s*[+-]?[0-9]+\s*")
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_DOTTED_NAME = re.compile(_DOTTED)
_CLASS_PATH = re.compile(rf"{_DOTTED}(?::{_DOTTED})?")


def _is_int(raw: object) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


def parse_int(raw: object) -> int:
    """An int, or a string of decimal digits with an optional sign."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and _SIGNED_DIGITS.fullmatch(raw):
        return int(raw)
    raise ValueError(f"invalid int value {raw!r}")


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[Any], int]:
    """An int within [minimum, maximum] (either bound may be open)."""

    def validate(raw: object) -> int:
        value = parse_int(raw)
        _check_range(value, minimum, maximum)
        return value

    return validate


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise ValueError(f"must be between {minimum} and {maximum}, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"must be at most {maximum}, got {value}")


def positive_float(raw: object) -> float:
    """A finite number greater than zero (seconds, for timeouts)."""
    value = _parse_float(raw)
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {value}")
    return value


def _parse_float(raw: object) -> float:
    value = math.nan
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        with contextlib.suppress(ValueError):
            value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"invalid float value {raw!r}")
    return value


def boolean(raw: object) -> bool:
    """True/False, or a string such as `1`, `true`, `yes`, `on` (and their negatives)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE:
        return True
    if isinstance(raw, str) and raw.strip().lower() in _FALSE:
        return False
    raise ValueError(f"invalid boolean value {raw!r}")


def text(raw: object) -> str:
    """Any string."""
    if not isinstance(raw, str):
        raise TypeError(f"expected a string, got {type(raw).__name__} {raw!r}")
    return raw


def non_empty_text(raw: object) -> str:
    """A string that is not empty."""
    value = text(raw)
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def optional(validate: Callable[[Any], T]) -> Callable[[Any], T | None]:
    """`validate`, except that None (from a config file) stays None."""

    def validate_optional(raw: object) -> T | None:
        return None if raw is None else validate(raw)

    return validate_optional


def choice(options: Sequence[str]) -> Callable[[Any], str]:
    """One of `options`, case-insensitively; returns the lower-case spelling."""

    def validate(raw: object) -> str:
        value = text(raw).strip().lower()
        if value not in options:
            raise ValueError(f"invalid choice {raw!r} (choose from {', '.join(options)})")
        return value

    return validate


def enum_choice(enum_type: type[E]) -> Callable[[Any], E]:
    """A member of a string-valued Enum, by value (case-insensitive) or the member itself."""
    options = [str(member.value) for member in enum_type]
    by_value = choice(options)

    def validate(raw: object) -> E:
        return raw if isinstance(raw, enum_type) else enum_type(by_value(raw))

    return validate


def umask(raw: object) -> int:
    """A file mode mask: `18`, `0o22`, `022` (a leading 0 means octal, as in shells), `0x12`."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str):
        value = _parse_auto_int(raw.strip())
    else:
        raise TypeError(f"invalid umask value {raw!r}")
    _check_range(value, 0, 0o777)
    return value


def _parse_auto_int(spelled: str) -> int:
    if re.fullmatch(r"0[0-9]+", spelled):
        spelled = "0o" + spelled[1:]
    try:
        return int(spelled, 0)
    except ValueError:
        raise ValueError(f"invalid umask value {spelled!r}") from None


def existing_dir(raw: object) -> str:
    """A directory that exists; returned as an absolute path."""
    path = os.path.abspath(non_empty_text(raw))
    if not os.path.isdir(path):
        raise ValueError(f"no such directory {raw!r}")
    return path


def existing_file(raw: object) -> str:
    """A regular file that exists; returned as an absolute path."""
    path = os.path.abspath(non_empty_text(raw))
    if not os.path.isfile(path):
        raise ValueError(f"no such file {raw!r}")
    return path


def string_list(raw: object) -> list[str]:
    """A list of strings; a single string is a list of one (config files say `bind = "x"`)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        return list(raw)
    raise ValueError(f"expected a string or a list of strings, got {raw!r}")


def comma_list(raw: object) -> list[str]:
    """`a,b,c` (blanks around items and empty items dropped), or a list of strings."""
    items = raw.split(",") if isinstance(raw, str) else string_list(raw)
    return [item.strip() for item in items if item.strip()]


def key_value_list(raw: object) -> list[str]:
    """A list of `KEY=VALUE` strings with a non-empty KEY."""
    items = string_list(raw)
    for item in items:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected KEY=VALUE, got {item!r}")
    return items


def user_id(raw: object) -> int:
    """A user name or a numeric uid; returns the uid."""
    return _account_id(raw, "user", lambda name: pwd.getpwnam(name).pw_uid)


def group_id(raw: object) -> int:
    """A group name or a numeric gid; returns the gid."""
    return _account_id(raw, "group", lambda name: grp.getgrnam(name).gr_gid)


def _account_id(raw: object, what: str, lookup: Callable[[str], int]) -> int:
    if _is_int(raw) or (isinstance(raw, str) and _DIGITS.fullmatch(raw)):
        return integer(minimum=0)(raw)
    name = non_empty_text(raw).strip()
    try:
        return lookup(name)
    except KeyError:
        raise ValueError(f"no such {what} {name!r}") from None


def worker_class(builtin: Sequence[str]) -> Callable[[Any], str]:
    """A builtin worker name, or `package.module:Class` / `package.module.Class`."""

    def validate(raw: object) -> str:
        value = non_empty_text(raw).strip()
        if value in builtin:
            return value
        if _CLASS_PATH.fullmatch(value) and ("." in value or ":" in value):
            return value
        raise ValueError(
            f"invalid worker class {raw!r} (use {', '.join(builtin)}, or package.module:Class)"
        )

    return validate


def app_spec(raw: object) -> str:
    """`module`, `module:name`, `module:obj.attr` or `module:factory(...)`.

    Only the module part is checked here; the expression is parsed when the app is loaded.
    """
    value = non_empty_text(raw).strip()
    module, sep, expression = value.partition(":")
    if not _DOTTED_NAME.fullmatch(module) or (sep and not expression.strip()):
        raise ValueError(f"invalid application {raw!r} (expected MODULE or MODULE:NAME)")
    return value


def script_name(raw: object) -> str:
    """A mount point: empty, or starting with `/` and not ending with `/`."""
    value = text(raw)
    if value and (not value.startswith("/") or value.endswith("/")):
        raise ValueError(f"must be empty or start with '/' and not end with '/', got {raw!r}")
    return value


def log_target(raw: object) -> str:
    """`-` (the standard stream) or a file path."""
    return non_empty_text(raw).strip()


def hook(arity: int) -> Callable[[Any], Callable[..., Any]]:
    """A callable that accepts `arity` positional arguments (for server hooks)."""

    def validate(raw: object) -> Callable[..., Any]:
        if not callable(raw):
            raise TypeError(f"expected a callable, got {type(raw).__name__}")
        _check_arity(raw, arity)
        return raw

    return validate


def _check_arity(function: Callable[..., object], arity: int) -> None:
    try:
        inspect.signature(function).bind(*([None] * arity))
    except TypeError:
        raise ValueError(f"must accept {arity} positional argument(s)") from None
    except ValueError:  # no signature (some builtins): trust the caller
        return
