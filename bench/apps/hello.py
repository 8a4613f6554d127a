"""The benchmark's hello-world WSGI application, the same for every server.

Rules: the smallest well-formed response a real app sends -- a status, a Content-Type and a
Content-Length, and the body as a list of one bytes object -- so every server can write it in
one go and none has to guess the length or chunk the body.
"""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answer every request with 200 and `BODY`."""
    start_response("200 OK", HEADERS)
    return [BODY]
