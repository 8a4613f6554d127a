"""The setting choosing the HTTP/1.1 head parser: herder's own, or the optional C accelerator.

`http_parser` is herder's own (Gunicorn has no such setting). `python` is the default and
needs nothing; `httptools` needs the `speedups` extra, and asking for it without the package
is a configuration error at startup, not a failure in every worker. Only the package's
presence is checked here: it is imported by the workers, never by the master.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from herder.config import validators as v
from herder.config.fields import Kind, Section, Setting
from herder.protocol.http11.head_parsers import HTTPTOOLS, NAMES

MECHANICS = Section.SERVER_MECHANICS

_choose = v.choice(NAMES)


def http_parser(raw: object, find_spec: Callable[[str], object] = importlib.util.find_spec) -> str:
    """One of `NAMES`; `httptools` only when that package can be imported."""
    name = _choose(raw)
    if name == HTTPTOOLS and find_spec(HTTPTOOLS) is None:
        raise ValueError(
            "the httptools head parser needs the httptools package: "
            "pip install 'herder[speedups]' (or choose --http-parser python)"
        )
    return name


SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "http_parser",
        MECHANICS,
        Kind.VALUE,
        ("--http-parser",),
        http_parser,
        "python",
        "How HTTP/1.1 request heads are parsed: `python` (herder's own parser) or `httptools` "
        "(llhttp, a C parser; install the `speedups` extra). Both give the same answer to "
        "every request: the accelerator splits the field lines and herder still applies all "
        "its rules, falling back to `python` for anything llhttp refuses or it cannot prove "
        "equal. Bodies, chunking, limits and pipelining are herder's in both cases. See "
        "docs/performance.md for what it gains.",
        meta="NAME",
    ),
)
