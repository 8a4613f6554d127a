"""Head parsers side by side, in process: herder's `parse_head` against the httptools accelerator.

Usage (from the repository root, with the project's venv, which has the `test` extra):

    .venv/bin/python bench/parsers.py [--quick] [--number N] [--repeat R]

For a few realistic heads (wrk's 3-line GET, a browser-like GET with 10 fields, a POST with
a JSON body) it times, per request:
- the head alone: `parse_head(block, limits)` and `parse_head_httptools(block, limits)`, and
  the part of the latter spent in llhttp itself (`accel.split_fields`, callbacks included);
- the whole parser cycle of a keep-alive connection: `feed` the request, `next_event` until
  `PAUSED` (head, body data, end of message), `start_next_cycle`, with `HTTP11Parser` given
  each head parser.
Each figure is the best of `--repeat` runs of `--number` calls (timeit's rule: the least
disturbed run on a busy machine), in microseconds; the ratio is python / httptools (above 1:
the accelerator is faster). Before timing, it checks that the accelerator takes its fast
path for every head and gives the same `RequestHead`, so it never measures the fallback.
It prints a Markdown table. No sockets, no processes: seconds, not minutes.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from herder.protocol.events import PAUSED
from herder.protocol.http11.accel import parse_fast, parse_head_httptools, split_fields
from herder.protocol.http11.head import parse_head
from herder.protocol.http11.head_parsers import HeadParser
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.limits import Limits

LIMITS = Limits()
BODY = b'{"name": "widget", "qty": 3}'


@dataclass(frozen=True)
class Case:
    name: str
    block: bytes  # the head before its CRLFCRLF
    body: bytes = b""

    @property
    def request(self) -> bytes:
        return self.block + b"\r\n\r\n" + self.body


CASES = (
    Case(
        "wrk GET (3 lines)",
        b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive",
    ),
    Case(
        "browser GET (10 fields)",
        b"GET /articles/42?ref=home HTTP/1.1\r\nHost: example.com\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
        b"Connection: keep-alive\r\nCookie: session=abc123; theme=dark\r\n"
        b"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n"
        b"Sec-Fetch-Mode: navigate",
    ),
    Case(
        "POST with a body (6 fields)",
        b"POST /api/items HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: curl/8.5.0\r\n"
        b"Accept: */*\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: keep-alive" % len(BODY),
        BODY,
    ),
)


@dataclass(frozen=True)
class Row:
    case: Case
    head_python: float  # microseconds per head
    head_httptools: float
    llhttp_only: float
    cycle_python: float  # microseconds per request, whole parser cycle
    cycle_httptools: float


def best_us(call: Callable[[], object], number: int, repeat: int) -> float:
    """The best of `repeat` runs of `number` calls, in microseconds per call."""
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def cycle(request: bytes, head_parser: HeadParser) -> Callable[[], object]:
    """One keep-alive request through a long-lived `HTTP11Parser`, as a server drives it."""
    parser = HTTP11Parser(LIMITS, head_parser)

    def one_request() -> object:
        parser.feed(request)
        event = parser.next_event()
        while event is not PAUSED:
            event = parser.next_event()
        parser.start_next_cycle()
        return event

    return one_request


def check(case: Case) -> None:
    """The accelerator answers this head itself, with the reference's head."""
    fast = parse_fast(case.block, LIMITS)
    if fast is None or fast != parse_head(case.block, LIMITS):
        raise SystemExit(f"{case.name}: the accelerator did not take its fast path")


def measure(case: Case, number: int, repeat: int) -> Row:
    check(case)
    block = case.block
    return Row(
        case,
        best_us(lambda: parse_head(block, LIMITS), number, repeat),
        best_us(lambda: parse_head_httptools(block, LIMITS), number, repeat),
        best_us(lambda: split_fields(block), number, repeat),
        best_us(cycle(case.request, parse_head), number, repeat),
        best_us(cycle(case.request, parse_head_httptools), number, repeat),
    )


def table(rows: Sequence[Row]) -> str:
    """The figures as a Markdown table (µs per request; ratio = python / httptools)."""
    lines = [
        "| head | parse_head | httptools | of which llhttp | ratio | cycle python "
        "| cycle httptools | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row.case.name} | {row.head_python:.2f} | {row.head_httptools:.2f} "
            f"| {row.llhttp_only:.2f} | {row.head_python / row.head_httptools:.2f} "
            f"| {row.cycle_python:.2f} | {row.cycle_httptools:.2f} "
            f"| {row.cycle_python / row.cycle_httptools:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (under a second)")
    parser.add_argument("--number", type=int, help="calls per run (default 20000)")
    parser.add_argument("--repeat", type=int, help="runs per figure (default 7)")
    args = parser.parse_args(argv)
    number = args.number or (2000 if args.quick else 20000)
    repeat = args.repeat or (3 if args.quick else 7)
    rows = [measure(case, number, repeat) for case in CASES]
    print(f"Python {sys.version.split()[0]}, best of {repeat} x {number} calls, µs per request\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
