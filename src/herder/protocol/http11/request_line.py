"""The request line: method, request-target and HTTP version (RFC 9112 §3).

Rules:
- exactly one SP between the three parts, no HTAB (RFC 9112 §3: the lenient whitespace
  parsing of §3 is not used; a stray SP or HTAB is a 400);
- method: a token (RFC 9110 §9.1). By default, Gunicorn's policy on top: upper case, no `#`,
  3 to 20 characters; `permit_unconventional_http_method` allows any token and
  `casefold_http_method` upper-cases it;
- version: `HTTP/1.0` or `HTTP/1.1`; `HTTP/1.x` with a higher minor is served as 1.1
  (RFC 9110 §2.5); a well-formed version with another major is 505; anything else 400;
- request-target (RFC 9112 §3.2): origin-form (starts with `/`); absolute-form for `http` and
  `https` only; authority-form only with CONNECT, and CONNECT only with it; asterisk-form only
  with OPTIONS. Anything else (a relative reference) is a 400.
- Our choice for characters RFC 3986 does not allow in a target but that cannot harm: `#...`,
  `"` and raw octets above 0x7F are accepted (as Gunicorn does). The fragment is kept in
  `target` and left out of `path` and `query`. Controls, SP and DEL are always rejected (the
  head check and the SP split take care of them).
- userinfo in an absolute-form target is a 400 (RFC 9110 §4.2.4).
"""

from __future__ import annotations

from herder.protocol.errors import BadRequest, VersionNotSupported
from herder.protocol.http11.grammar import (
    AUTHORITY,
    COMMON_METHODS,
    CONNECT_AUTHORITY,
    CONVENTIONAL_METHOD,
    HTTP_VERSION,
    TOKEN,
)
from herder.protocol.limits import Limits

_VERSIONS = {"HTTP/1.1": (1, 1), "HTTP/1.0": (1, 0)}
_SCHEMES = ("http", "https")


Target = tuple[str, str, str, str]
"""(path, query, scheme, authority) of a request-target: latin-1 strings, nothing decoded.

A plain tuple, not a record: it is built on every request and taken apart at once."""


def split_request_line(line: str, limits: Limits) -> tuple[str, str, tuple[int, int]]:
    """Return (method, target, version) of a request line, or raise the matching error."""
    parts = line.split(" ")
    if len(parts) != 3 or not parts[1] or "\t" in line:
        raise BadRequest(f"malformed request line {line[:80]!r}")
    method, target, version = parts
    if method not in COMMON_METHODS:
        method = check_method(method, limits)
    known = _VERSIONS.get(version)
    return method, target, known if known is not None else parse_version(version)


def check_method(method: str, limits: Limits) -> str:
    """Apply the method policy; return the method, upper-cased if `casefold_http_method`."""
    if limits.permit_unconventional_http_method:
        if not TOKEN.fullmatch(method):
            raise BadRequest(f"invalid method {method[:40]!r}")
    elif not CONVENTIONAL_METHOD.fullmatch(method):
        raise BadRequest(f"invalid or unconventional method {method[:40]!r}")
    return method.upper() if limits.casefold_http_method else method


def parse_version(version: str) -> tuple[int, int]:
    """Parse an HTTP-version other than the two common ones (RFC 9112 §2.3)."""
    match = HTTP_VERSION.fullmatch(version)
    if match is None:
        raise BadRequest(f"malformed HTTP version {version[:40]!r}")
    if match[1] != "1":
        raise VersionNotSupported(f"HTTP version {version} is not supported")
    return (1, 1)  # RFC 9110 §2.5: a higher minor of a known major is processed as ours


def split_origin(target: str) -> tuple[str, str]:
    """Split an origin-form target (or the path part of an absolute one) into path, query."""
    if "#" in target:
        target = target.partition("#")[0]
    path, _, query = target.partition("?")
    return path, query


def split_target(method: str, target: str) -> Target:
    """Classify and split any request-target (RFC 9112 §3.2)."""
    if method == "CONNECT":
        if not CONNECT_AUTHORITY.fullmatch(target):
            raise BadRequest("CONNECT needs an authority-form target (RFC 9112 §3.2.3)")
        return "", "", "", target
    if target[0] == "/":
        path, query = split_origin(target)
        return path, query, "", ""
    if target == "*":
        if method != "OPTIONS":
            raise BadRequest("asterisk-form target outside OPTIONS (RFC 9112 §3.2.4)")
        return "*", "", "", ""
    return _split_absolute(target)


def _split_absolute(target: str) -> Target:
    scheme, separator, rest = target.partition("://")
    scheme = scheme.lower()  # RFC 3986 §3.1: schemes are case-insensitive
    if not separator or scheme not in _SCHEMES:
        raise BadRequest(f"invalid request-target {target[:80]!r} (RFC 9112 §3.2)")
    end = len(rest)
    for stop in "/?#":
        index = rest.find(stop, 0, end)
        if index >= 0:
            end = index
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        raise BadRequest("userinfo in the request-target (RFC 9110 §4.2.4)")
    if not AUTHORITY.fullmatch(authority):
        raise BadRequest(f"invalid authority {authority[:80]!r} in the request-target")
    path, query = split_origin(tail)
    return path or "/", query, scheme, authority
