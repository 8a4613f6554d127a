"""The head parsers `HTTP11Parser` can use, by the name the `http_parser` setting gives.

A head parser takes the octets of a request head before its CRLFCRLF and the limits, and
returns the `RequestHead` or raises the `ProtocolError` of `head.parse_head`.

Rules:
- `python` (`head.parse_head`) is the reference and the default; every other head parser gives
  exactly its answers, for every head (the conformance corpus and a differential test run
  both);
- an accelerator replaces only the head: buffering, finding the head's end, limits on a head
  still arriving, bodies, chunking, pipelining and EOF stay `HTTP11Parser`'s;
- the accelerator's module (and its C package) is imported only when it is asked for, after
  the configuration chose it: a server left at `python` never loads it.
"""

from __future__ import annotations

from collections.abc import Callable

from herder.protocol.events import RequestHead
from herder.protocol.http11.head import parse_head
from herder.protocol.limits import Limits

HeadParser = Callable[[bytes | bytearray, Limits], RequestHead]

PYTHON = "python"
HTTPTOOLS = "httptools"  # llhttp through the `httptools` package (the `speedups` extra)
NAMES = (PYTHON, HTTPTOOLS)


def head_parser(name: str) -> HeadParser:
    """The head parser called `name` (one of `NAMES`)."""
    if name == PYTHON:
        return parse_head
    if name == HTTPTOOLS:
        from herder.protocol.http11.accel import parse_head_httptools

        return parse_head_httptools
    raise ValueError(f"unknown head parser {name!r} (choose from {', '.join(NAMES)})")
