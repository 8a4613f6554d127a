"""An I/O-bound WSGI app: every request waits 10 ms (a stand-in for a database or an API).

Rules: `time.sleep` is what a coroutine server's monkey-patching makes cooperative, and what a
threaded server runs on one of its threads; the response is as small as hello's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

WAIT_S = 0.010
BODY = b"slept 10 ms"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Wait `WAIT_S`, then answer 200."""
    time.sleep(WAIT_S)
    start_response("200 OK", HEADERS)
    return [BODY]
