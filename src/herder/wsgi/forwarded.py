"""Trusted forwarded headers: what a front proxy says about the client, applied to the environ.

Gunicorn's semantics, per request and only when the peer is in `--forwarded-allow-ips`
(addresses and CIDR networks, `*` for any; a Unix socket peer is always trusted, since only
local processes reach it):
- scheme: each `secure_scheme_headers` entry present decides "https" when its value matches
  exactly, "http" otherwise; entries that disagree make the request ambiguous: 400. Without
  them, `X-Forwarded-Proto` / the `proto=` of `Forwarded` (RFC 7239 §5.4) sets the scheme;
- client address: `X-Forwarded-For` (else `for=` of `Forwarded`, RFC 7239 §5.2) read from the
  right, skipping trusted proxies, gives REMOTE_ADDR (the port becomes unknown);
- host: the last `X-Forwarded-Host` (else `host=` of `Forwarded`, RFC 7239 §5.3) sets HTTP_HOST.
An untrusted peer's forwarded headers stay in the environ as plain HTTP_* values.
Cost: a request with none of these headers pays a few dict lookups, nothing more.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from herder.protocol.errors import BadRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
TRUST_CACHE_SIZE = 1024
FORWARDED_KEYS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_FORWARDED")


class AddressSet:
    """Addresses and networks from a comma list; `*` matches everything."""

    __slots__ = ("_any", "_cache", "_networks")

    def __init__(self, spelled: Iterable[str]) -> None:
        items = [item.strip() for item in spelled if item.strip()]
        self._any = "*" in items
        self._networks: list[IPNetwork] = [
            ipaddress.ip_network(item, strict=False) for item in items if item != "*"
        ]
        self._cache: dict[str, bool] = {}

    def __contains__(self, address: object) -> bool:
        if self._any:
            return True
        if not isinstance(address, str):
            return False
        known = self._cache.get(address)
        if known is None:
            known = self._lookup(address)
            if len(self._cache) < TRUST_CACHE_SIZE:
                self._cache[address] = known
        return known

    def _lookup(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def allows_peer(self, peer: tuple[str, int] | None) -> bool:
        """Whether a connection from `peer` is trusted (None: a Unix socket, always)."""
        return peer is None or peer[0] in self


class ForwardedPolicy:
    """Applies trusted forwarded headers to environs (see the module rules)."""

    __slots__ = ("_keys", "_scheme_keys", "trusted")

    def __init__(self, trusted: AddressSet, secure_scheme_headers: Mapping[str, str]) -> None:
        self.trusted = trusted
        self._scheme_keys = [
            ("HTTP_" + name.upper().replace("-", "_"), value)
            for name, value in secure_scheme_headers.items()
        ]
        self._keys = (*FORWARDED_KEYS, *(key for key, _ in self._scheme_keys))

    def apply(self, env: dict[str, Any], peer: tuple[str, int] | None) -> None:
        """Rewrite `env` from its forwarded headers when `peer` is trusted; raises
        `BadRequest` when they conflict. Headers are looked for before trust is checked:
        most requests have none, and then this is a few dict lookups."""
        for key in self._keys:  # a plain loop: cheaper than any() over a generator
            if key in env:
                break
        else:
            return
        if not self.trusted.allows_peer(peer):
            return
        forwarded = _last_forwarded(env.get("HTTP_FORWARDED", ""))
        scheme = self._scheme(env) or forwarded.get("proto", "").lower()
        if scheme in ("http", "https"):
            env["wsgi.url_scheme"] = scheme
        client = self._client(env.get("HTTP_X_FORWARDED_FOR") or forwarded.get("for", ""))
        if client:
            env["REMOTE_ADDR"], env["REMOTE_PORT"] = client, ""
        host = env.get("HTTP_X_FORWARDED_HOST", "").rpartition(",")[2].strip()
        host = host or forwarded.get("host", "")
        if host:
            env["HTTP_HOST"] = host

    def _scheme(self, env: dict[str, Any]) -> str:
        verdicts = {env[key] == value for key, value in self._scheme_keys if key in env}
        if len(verdicts) > 1:
            raise BadRequest("conflicting secure scheme headers")
        return ("https" if verdicts.pop() else "http") if verdicts else ""

    def _client(self, chain: str) -> str:
        hops = [_bare_address(hop) for hop in chain.split(",")]
        hops = [hop for hop in hops if hop]
        for hop in reversed(hops):
            if hop not in self.trusted:
                return hop
        return hops[0] if hops else ""


def _bare_address(hop: str) -> str:
    """An address from an X-Forwarded-For entry or a `for=` value; "" when it is none."""
    hop = hop.strip().strip('"')
    if hop.startswith("["):
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]  # IPv4 with a port
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return ""


def _last_forwarded(value: str) -> dict[str, str]:
    """The parameters of the last element of a Forwarded field (RFC 7239 §4), lower-cased
    names, quotes removed; the last element is the one our trusted proxy added."""
    if not value:
        return {}
    params: dict[str, str] = {}
    for pair in value.rpartition(",")[2].split(";"):
        name, equals, token = pair.partition("=")
        if equals:
            params[name.strip().lower()] = token.strip().strip('"')
    return params
