"""The parser's slice of the configuration: sizes and leniency switches.

Defaults are Gunicorn's where Gunicorn has the setting, so a request that fits one fits the
other. Every threshold here is a setting (see `herder.config`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class HeaderMap(enum.Enum):
    """What to do with field names containing `_` (they collide with `-` in WSGI keys)."""

    DROP = "drop"  # silently drop the field (default)
    REFUSE = "refuse"  # reject the request with 400
    DANGEROUS = "dangerous"  # keep it; `_` and `-` map to the same HTTP_* key


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits and policy switches for one HTTP/1.1 parser."""

    request_line: int = 4094  # octets in the request line, without CRLF; 0 means unlimited
    fields: int = 100  # header fields in the head (and trailer fields in the trailer); 0: no cap
    # octets in one field line, its CRLF (and any obs-fold lines) included, as Gunicorn counts;
    # 0 means the default 8190
    field_size: int = 8190
    head_size: int = 65536  # octets in the whole head, request line and final CRLFCRLF included
    chunk_ext_size: int = 4096  # octets of chunk extensions on one chunk-size line
    header_map: HeaderMap = HeaderMap.DROP
    permit_obsolete_folding: bool = False  # unfold obs-fold to SP instead of rejecting
    permit_unconventional_http_method: bool = False  # lower case, `#`, length outside 3..20
    casefold_http_method: bool = False  # upper-case the method (with the permit above)
    strip_header_spaces: bool = False  # accept whitespace before the colon (unsafe)
    require_host: bool = True  # HTTP/1.1 without Host is a 400 (RFC 9112 §3.2)
