"""An app for the master-lifecycle tests: slow and stuck requests, its own version marker."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any

VERSION = "v1"  # tests rewrite this line to see which code a worker runs


def sleeping_beauty(seconds: float) -> None:
    time.sleep(seconds)


def stuck_in_c(seconds: float) -> None:
    # SIGALRM blocked: the worker's own deadline cannot fire, only the master can end this.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    seconds = float(environ.get("QUERY_STRING", "").partition("=")[2] or "0.2")
    if path == "/sleep":
        sleeping_beauty(seconds)
    elif path == "/stuck":
        stuck_in_c(seconds)
    elif path == "/grow":
        environ["herder.test.ballast"] = bytearray(8 << 20)
    body = f"{VERSION} {os.getpid()} {os.getppid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
