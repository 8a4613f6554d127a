"""PEP 3333 adaptation: environ, `wsgi.input`, `start_response` and response framing.

This layer sits between the workers and the protocol parsers and does no I/O of its own:
bytes reach it through a `Transport` the worker provides, and the response leaves it as the
pieces `Exchange.output()` yields. No sockets, clocks, threads or logging here; the worker
passes the current date and an error-logging callable in.

The type aliases below match `wsgiref.types`, so applications typed against the standard
library's protocols type-check against herder too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias
from wsgiref.types import StartResponse

Environ: TypeAlias = dict[str, Any]
WSGIApplication: TypeAlias = Callable[[Environ, StartResponse], Iterable[bytes]]

__all__ = ["Environ", "StartResponse", "WSGIApplication"]
