"""The WSGI environ (PEP 3333 "environ Variables") built from a parsed request head.

Everything that does not change between requests on one listener (server name and port,
scheme, `wsgi.*` flags, SERVER_SOFTWARE) is computed once in `EnvironBuilder.__init__`; a
request costs one dict copy, a few assignments and one pass over its header fields.

Rules:
- Every key without a dot holds a native `str` (latin-1 code points, one per octet).
- PATH_INFO is the percent-decoded path as octets shown as latin-1 (PEP 3333 "URL
  Reconstruction"); SCRIPT_NAME is the configured mount point, removed from the front of
  PATH_INFO when the path lies under it (whole segments only).
- Content-Type and Content-Length become CONTENT_TYPE / CONTENT_LENGTH, never HTTP_*; other
  fields become HTTP_<NAME with - as _>. Repeated fields are joined with "," (RFC 9110 §5.3),
  Cookie fields with "; " (RFC 6265 §5.4).
- An absolute-form target's authority replaces Host (RFC 9112 §3.2.2).
- A listener with no port (a Unix socket: `ServerInfo.server_port == ""`) takes SERVER_NAME
  and SERVER_PORT from the request's Host, the port defaulting by scheme (RFC 9110 §4.2).
- A head carrying `cgi` vars (a uwsgi packet, which the front proxy built as CGI variables)
  becomes the environ as it is: the vars are copied over the listener's base, `HTTPS=on` or
  `REQUEST_SCHEME=https` sets `wsgi.url_scheme`, empty CONTENT_* vars are dropped. Nothing
  is parsed again and the HTTP/1.1 path pays one `is None` test for it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from herder import SERVER_SOFTWARE
from herder.protocol.events import RequestHead
from herder.wsgi.file_wrapper import FileWrapper
from herder.wsgi.input import Input

DEFAULT_PORTS = {"http": "80", "https": "443"}
KEY_CACHE_SIZE = 512  # distinct header names remembered; beyond that keys are computed each time
PROTOCOLS = {(1, 1): "HTTP/1.1", (1, 0): "HTTP/1.0"}
SPECIAL_KEYS = {"CONTENT-TYPE": "CONTENT_TYPE", "CONTENT-LENGTH": "CONTENT_LENGTH"}


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the environ says about the server side of one listener.

    `server_port` is "" for a Unix socket: SERVER_NAME/SERVER_PORT then come from each
    request's Host, with `server_name` as the fallback name when there is no Host.
    """

    server_name: str
    server_port: str
    url_scheme: str  # "http" or "https"
    script_name: str  # the mount point, "" for the root; a trailing "/" is ignored
    multithread: bool
    multiprocess: bool
    run_once: bool
    errors: typing.TextIO  # wsgi.errors


class EnvironBuilder:
    """Builds the environ of each request received on one listener."""

    __slots__ = ("_base", "_default_port", "_fallback_name", "_keys", "_script_name")

    def __init__(self, server: ServerInfo) -> None:
        self._script_name = server.script_name.rstrip("/")
        self._keys: dict[str, str] = dict(SPECIAL_KEYS)
        self._default_port = DEFAULT_PORTS.get(server.url_scheme, "80")
        self._fallback_name = server.server_name or "localhost"
        self._base: dict[str, Any] = {
            "SERVER_SOFTWARE": SERVER_SOFTWARE,
            "SCRIPT_NAME": self._script_name,
            "SERVER_NAME": server.server_name,
            "SERVER_PORT": server.server_port,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": server.url_scheme,
            "wsgi.errors": server.errors,
            "wsgi.multithread": server.multithread,
            "wsgi.multiprocess": server.multiprocess,
            "wsgi.run_once": server.run_once,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }

    def build(
        self, head: RequestHead, peer: tuple[str, int] | None, wsgi_input: Input
    ) -> dict[str, Any]:
        """The environ for `head`, received from `peer` (None when unknown, e.g. Unix)."""
        if head.cgi is not None:
            return self._build_from_vars(head.cgi, wsgi_input)
        env = self._base.copy()
        env["REQUEST_METHOD"] = head.method
        env["PATH_INFO"] = self._path_info(head.path)
        env["QUERY_STRING"] = head.query
        env["RAW_URI"] = env["REQUEST_URI"] = head.target
        env["SERVER_PROTOCOL"] = self._protocol(head.version)
        env["REMOTE_ADDR"], env["REMOTE_PORT"] = (peer[0], str(peer[1])) if peer else ("", "")
        env["wsgi.input"] = wsgi_input
        self._add_headers(env, head.headers)
        if head.content_length is not None:  # the parsed value: repeats collapse to one
            env["CONTENT_LENGTH"] = str(head.content_length)
        else:
            env.pop("CONTENT_LENGTH", None)  # a chunked body's stray field says nothing
        if head.scheme and head.authority:
            env["HTTP_HOST"] = head.authority  # RFC 9112 §3.2.2: the target's authority wins
        if not env["SERVER_PORT"]:
            self._server_from_host(env)
        return env

    def _build_from_vars(self, cgi: dict[str, str], wsgi_input: Input) -> dict[str, Any]:
        env = self._base.copy()
        env.update(cgi)
        env["wsgi.input"] = wsgi_input
        if cgi.get("HTTPS", "").lower() in ("on", "1") or cgi.get("REQUEST_SCHEME") == "https":
            env["wsgi.url_scheme"] = "https"
        for key in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            if not env.get(key, "x"):
                del env[key]
        env.setdefault("QUERY_STRING", "")
        env.setdefault("SERVER_PROTOCOL", "HTTP/1.1")
        env.setdefault("REMOTE_ADDR", "")
        env.setdefault("REMOTE_PORT", "")
        env["RAW_URI"] = env.setdefault("REQUEST_URI", env["PATH_INFO"])
        script_name = self._script_name
        if script_name and "SCRIPT_NAME" not in cgi:
            env["PATH_INFO"] = self._strip_script_name(env["PATH_INFO"])
        if not env["SERVER_NAME"] or not env["SERVER_PORT"]:
            self._server_from_host(env)
        return env

    @staticmethod
    def _protocol(version: tuple[int, int]) -> str:
        return PROTOCOLS.get(version) or f"HTTP/{version[0]}.{version[1]}"

    def _path_info(self, path: str) -> str:
        if "%" in path:
            # the path is latin-1 octets: encode back before decoding %XX to octets
            path = unquote_to_bytes(path.encode("latin-1")).decode("latin-1")
        return self._strip_script_name(path)

    def _strip_script_name(self, path: str) -> str:
        script_name = self._script_name
        if script_name and path.startswith(script_name):
            rest = path[len(script_name) :]
            if not rest or rest[0] == "/":
                return rest
        return path

    def _add_headers(self, env: dict[str, Any], headers: tuple[tuple[str, str], ...]) -> None:
        keys = self._keys
        for name, value in headers:
            key = keys.get(name) or self._key_for(name)
            if key not in env:
                env[key] = value
            elif key == "HTTP_COOKIE":
                env[key] += "; " + value
            else:
                env[key] += "," + value

    def _key_for(self, name: str) -> str:
        key = "HTTP_" + name.replace("-", "_")
        if len(self._keys) < KEY_CACHE_SIZE:
            self._keys[name] = key
        return key

    def _server_from_host(self, env: dict[str, Any]) -> None:
        host: str = env.get("HTTP_HOST", "")
        name, port = host, ""
        bracket = host.rfind("]")  # an IPv6 literal: "[::1]:8080"
        colon = host.rfind(":")
        if colon > bracket:
            name, port = host[:colon], host[colon + 1 :]
        env["SERVER_NAME"] = name or self._fallback_name
        env["SERVER_PORT"] = port or self._default_port
