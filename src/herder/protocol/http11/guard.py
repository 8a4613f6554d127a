"""Finding the end of a head (or trailer section) as it arrives, within the limits.

A client that sends a megabyte without CRLFCRLF must fail as soon as a limit is passed, not be
buffered forever. `SectionGuard.find_end` searches only the bytes that arrived since its last
call, and while the end is missing it checks, also on those new bytes only, in the order
`parse_head` checks the whole section:
- the request line, once complete, or its growing prefix against `request_line` (414);
- each field line completed since, and the one still arriving, against the field-line
  limit (431);
- the number of complete field lines against `fields` (431; skipped under obs-fold, where
  continuation lines are not fields);
- the octets so far against `head_size` (431).
Each check is a lower bound of the one `parse_head` makes on the whole section, so a request
gets the same answer whether it arrives at once or byte by byte. One exception, with limits
nobody should set: when `head_size` is below `request_line`, an endless request line can be
refused 431 in pieces and 414 whole. The whole-section checks in `fields.check_section` stay
authoritative.
"""

from __future__ import annotations

from herder.protocol.errors import HeaderFieldsTooLarge, URITooLong
from herder.protocol.http11.fields import field_line_limit
from herder.protocol.limits import Limits

CRLF = b"\r\n"
END = b"\r\n\r\n"


class SectionGuard:
    """Locates the CRLFCRLF of one section in a growing buffer; raises once a limit is passed."""

    __slots__ = ("_crlfs", "_limits", "_line_start", "_scanned", "_start", "_trailer")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self.reset(0, trailer=False)

    def reset(self, start: int, *, trailer: bool) -> None:
        """Start watching a section that begins at `start` (a head, or trailers)."""
        self._start = self._scanned = self._line_start = start
        self._crlfs = 0
        self._trailer = trailer

    def find_end(self, buf: bytearray) -> int:
        """The index of the section's CRLFCRLF, or -1 when it has not arrived yet."""
        end = buf.find(END, max(self._start, self._scanned - 3))
        if end < 0:
            self._check_partial(buf)
        return end

    def _check_partial(self, buf: bytearray) -> None:
        limits = self._limits
        size = len(buf)
        line_end = buf.find(CRLF, max(self._line_start, self._scanned - 1))
        self._scanned = size
        while line_end >= 0:  # each line completed since the last call
            self._check_line(line_end - self._line_start)
            self._crlfs += 1
            fields = self._crlfs - (0 if self._trailer else 1)
            if limits.fields and fields > limits.fields and not limits.permit_obsolete_folding:
                raise HeaderFieldsTooLarge(f"more than {limits.fields} fields")
            self._line_start = line_end + 2
            line_end = buf.find(CRLF, self._line_start)
        self._check_line(size - self._line_start - 1)  # the last octet may be the CR
        if size - self._start > limits.head_size:
            raise HeaderFieldsTooLarge(f"a head or trailer section over {limits.head_size} octets")

    def _check_line(self, length: int) -> None:
        """Check a line (or the lower bound of one still arriving) of the section."""
        if not self._crlfs and not self._trailer:
            limit = self._limits.request_line
            if limit and length > limit:
                raise URITooLong(f"request line over {limit} octets")
        elif length > field_line_limit(self._limits):
            limit = field_line_limit(self._limits) + 2
            raise HeaderFieldsTooLarge(f"a field line over {limit} octets")
