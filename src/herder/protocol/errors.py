"""Protocol errors: each carries the HTTP status the server answers with.

A `ProtocolError` raised while parsing a request means: answer `status` (when not None) with
`Connection: close`, never call the application, close the connection. The boundary that does
this lives in the workers; the parser only raises.
"""

from __future__ import annotations

from herder.errors import HerderError


class ProtocolError(HerderError):
    """The peer broke the protocol. `status` is the response to send, None to just close."""

    status: int | None = 400
    notice = False  # worth an operator's attention: logged as a warning, not at debug level
    reply: bytes | None = None  # bytes that answer it instead of an error response (a ping)

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class BadRequest(ProtocolError):
    """Malformed syntax (RFC 9110 §15.5.1)."""

    status = 400


class ContentTooLarge(ProtocolError):
    """The body or a chunk is larger than allowed (RFC 9110 §15.5.14)."""

    status = 413


class URITooLong(ProtocolError):
    """The request line is over `limit_request_line` (RFC 9110 §15.5.15)."""

    status = 414


class HeaderFieldsTooLarge(ProtocolError):
    """Too many header fields, one too long, or the whole head too big (RFC 6585 §5)."""

    status = 431


class NotImplementedFeature(ProtocolError):
    """A transfer coding or method the server does not implement (RFC 9110 §15.6.2)."""

    status = 501


class VersionNotSupported(ProtocolError):
    """A well-formed HTTP version with a major other than 1 (RFC 9110 §15.6.6)."""

    status = 505


class IncompleteMessage(ProtocolError):
    """The peer closed the connection in the middle of a message (RFC 9112 §8): just close."""

    status = None


class ResponseError(HerderError):
    """The application produced a response that must not go on the wire (status, headers)."""
