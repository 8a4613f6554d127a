"""HTTP/1.1 (RFC 9112, RFC 9110), sans I/O.

Modules, bottom up: `grammar` (character classes, the whole-head octet check), `request_line`
(method, target, version), `fields` (field lines and their limits), `head` (a request head,
framing and persistence), `body` (chunk-size lines, trailers), `guard` (limits while a head is
still arriving), `parser` (the connection state machine), `response` (serialization).
"""

from __future__ import annotations

from herder.protocol.http11.parser import HTTP11Parser, State

__all__ = ["HTTP11Parser", "State"]
