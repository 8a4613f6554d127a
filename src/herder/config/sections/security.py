"""Settings of the section "Security (limits)": the request parser's sizes and leniency.

These become the parser's `Limits` (see `Config.protocol_limits`). Names, options and
defaults are Gunicorn's, including the odd `--limit-request-field_size` spelling, so a head
that fits one server fits the other; `limit_request_head` and `header_timeout` are herder's
own. The leniency switches exist to diagnose old clients; each weakens the parser.
"""

from __future__ import annotations

from typing import Any

from herder.config import validators as v
from herder.config.fields import Kind, Section, Setting
from herder.protocol.limits import HeaderMap

SECURITY = Section.SECURITY

MAX_REQUEST_LINE = 8190
MAX_HEADER_FIELDS = 32768

SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "limit_request_line",
        SECURITY,
        Kind.VALUE,
        ("--limit-request-line",),
        v.integer(minimum=0, maximum=MAX_REQUEST_LINE),
        4094,
        "The maximum size of the HTTP request line in bytes. Guards against denial of service "
        f"through huge URIs; a number from 0 (unlimited) to {MAX_REQUEST_LINE}. A longer line "
        "is answered 414.",
        meta="INT",
    ),
    Setting(
        "limit_request_fields",
        SECURITY,
        Kind.VALUE,
        ("--limit-request-fields",),
        v.integer(minimum=0, maximum=MAX_HEADER_FIELDS),
        100,
        "The maximum number of header fields in a request. Guards against denial of service; "
        f"a number up to {MAX_HEADER_FIELDS}, 0 meaning that maximum. More fields are "
        "answered 431.",
        meta="INT",
    ),
    Setting(
        "limit_request_field_size",
        SECURITY,
        Kind.VALUE,
        ("--limit-request-field_size",),
        v.integer(minimum=0),
        8190,
        "The maximum size of one HTTP request header field line in bytes. 0 means the "
        "default, 8190. A longer field is answered 431.",
        meta="INT",
    ),
    Setting(
        "limit_request_head",
        SECURITY,
        Kind.VALUE,
        ("--limit-request-head",),
        v.integer(minimum=1024),
        65536,
        "The maximum size of the whole request head in bytes (request line and header "
        "fields). At least 1024; a larger head is answered 431. Herder's own setting.",
        meta="INT",
    ),
    Setting(
        "header_timeout",
        SECURITY,
        Kind.VALUE,
        ("--header-timeout",),
        v.positive_float,
        10.0,
        "Seconds a client has to send a complete request head. When it is not complete in "
        "time the request is answered 408 and the connection closed (slow-client defence). "
        "Herder's own setting.",
        meta="FLOAT",
    ),
    Setting(
        "permit_obsolete_folding",
        SECURITY,
        Kind.SWITCH_ON,
        ("--permit-obsolete-folding",),
        v.boolean,
        False,
        "Permit requests employing the obsolete HTTP line folding mechanism. Folding was "
        "deprecated by RFC 9112 section 5.2; a folded line is unfolded instead of rejected.",
    ),
    Setting(
        "strip_header_spaces",
        SECURITY,
        Kind.SWITCH_ON,
        ("--strip-header-spaces",),
        v.boolean,
        False,
        "Strip spaces present between the header name and the `:`. Such requests are "
        "rejected by default (RFC 9112 section 5.1); accepting them is dangerous behind "
        "proxies that read them differently.",
    ),
    Setting(
        "permit_unconventional_http_method",
        SECURITY,
        Kind.SWITCH_ON,
        ("--permit-unconventional-http-method",),
        v.boolean,
        False,
        "Permit HTTP methods not matching conventions, such as IANA registration guidelines. "
        "Allows lower case, `#` and unusual lengths in the method token.",
    ),
    Setting(
        "casefold_http_method",
        SECURITY,
        Kind.SWITCH_ON,
        ("--casefold-http-method",),
        v.boolean,
        False,
        "Transform received HTTP methods to upper case. Only meaningful together with "
        "`permit_unconventional_http_method`.",
    ),
    Setting(
        "header_map",
        SECURITY,
        Kind.VALUE,
        ("--header-map",),
        v.enum_choice(HeaderMap),
        HeaderMap.DROP,
        "How to handle header names containing `_` (they map to the same WSGI key as `-`). "
        "`drop` silently drops them, `refuse` answers 400, `dangerous` keeps them (unsafe "
        "behind proxies that treat `_` and `-` differently).",
        meta="STRING",
        render=lambda mode: mode.value,
    ),
)
