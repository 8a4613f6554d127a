"""The suite's scenarios: which route of the app, how wrk loads it, and through what front.

Rules:
- Every scenario loads one route of `bench/apps/mixed.py` with one wrk thread (`-t1`).
- Direct scenarios load the server itself over HTTP; the nginx scenario loads one nginx that
  speaks the uwsgi protocol to the server (`uwsgi_pass`), with keep-alive client connections.
- 64 connections where concurrency is the point (the sleep app: 2 processes x 32 in flight),
  50 elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

UPLOAD_SCRIPT = Path(__file__).resolve().parent / "upload.lua"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One way of loading a server."""

    name: str
    label: str
    path: str
    connections: int
    headers: tuple[str, ...] = ()
    script: Path | None = None
    nginx: bool = False


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("hello-keepalive", "hello, keep-alive", "/", 50),
        Scenario("hello-close", "hello, Connection: close", "/", 50, ("Connection: close",)),
        Scenario("64k", "64 KiB response", "/64k", 50),
        Scenario(
            "upload-1m", "1 MiB upload (POST, read by the app)", "/upload", 50, script=UPLOAD_SCRIPT
        ),
        Scenario("sleep-10ms", "app sleeps 10 ms, 64 connections", "/sleep", 64),
        Scenario("nginx-uwsgi", "hello through nginx, uwsgi protocol", "/", 50, nginx=True),
    )
}
