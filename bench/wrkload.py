"""Drive wrk, the load generator, and read its report into numbers.

Rules:
- One wrk thread (`-t1`) and `--latency`, so the report carries the latency distribution.
- Every run is bounded: wrk stops itself after `-d`, and the subprocess gets a hard timeout
  a little past that in case wrk hangs.
- The text report is parsed strictly: a report without `Requests/sec` or the 50% and 99%
  latency lines raises `WrkOutputError` rather than yielding zeros that look like results.
- Latencies are normalised to milliseconds; wrk prints them as `us`, `ms`, `s`, `m` or `h`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

WRK = "wrk"
# wrk's time units (its `units_time` table) as multiples of one millisecond.
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_REQUESTS_PER_SEC = re.compile(r"^Requests/sec:\s+([0-9.]+)\s*$", re.MULTILINE)
_PERCENTILE = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
    re.MULTILINE,
)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)", re.MULTILINE)
_MEAN_LATENCY = re.compile(r"^\s+Latency\s+([0-9.]+)(us|ms|s|m|h)\s", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in ([0-9.]+)(us|ms|s|m|h)", re.MULTILINE)
# Extra time granted past `-d` before the wrk process is killed.
_WRK_GRACE_S = 30.0


class WrkOutputError(RuntimeError):
    """wrk printed a report this module cannot read (or failed before printing one)."""


@dataclass(frozen=True, slots=True)
class WrkErrors:
    """wrk's error counters for one run."""

    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0
    non_2xx_3xx: int = 0

    @property
    def total(self) -> int:
        """All errors of every kind, added up."""
        return self.connect + self.read + self.write + self.timeout + self.non_2xx_3xx

    def describe(self) -> str:
        """`0`, or the non-zero kinds, e.g. `120 (read 100, timeout 20)`."""
        kinds = [(name, getattr(self, name)) for name in self.__dataclass_fields__]
        parts = [f"{name.replace('_', ' ')} {count}" for name, count in kinds if count]
        return f"{self.total} ({', '.join(parts)})" if parts else "0"


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one wrk run measured."""

    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    requests: int
    errors: WrkErrors = field(default_factory=WrkErrors)

    @property
    def busy_connections(self) -> float:
        """Connections busy on average (Little's law: rate x mean latency).

        Well under wrk's `-c` means most connections waited unserved, e.g. a server that
        stays with one keep-alive connection per process; wrk counts no error for that.
        Connect time is not in wrk's latency, so servers that close each connection read
        somewhat low.
        """
        return self.requests_per_sec * self.mean_ms / 1000.0


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def parse_wrk_output(text: str) -> WrkResult:
    """Read wrk's `--latency` text report; raise `WrkOutputError` when a figure is missing."""
    rate = _REQUESTS_PER_SEC.search(text)
    percentiles = {m.group(1): _to_ms(m.group(2), m.group(3)) for m in _PERCENTILE.finditer(text)}
    total = _TOTAL.search(text)
    mean = _MEAN_LATENCY.search(text)
    if rate is None or total is None or mean is None or set(percentiles) != {"50", "99"}:
        raise WrkOutputError(f"unreadable wrk report:\n{text}")
    return WrkResult(
        requests_per_sec=float(rate.group(1)),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        mean_ms=_to_ms(mean.group(1), mean.group(2)),
        requests=int(total.group(1)),
        errors=_parse_errors(text),
    )


def _parse_errors(text: str) -> WrkErrors:
    sockets = _SOCKET_ERRORS.search(text)
    non_2xx = _NON_2XX.search(text)
    connect, read, write, timeout = (int(n) for n in sockets.groups()) if sockets else (0,) * 4
    return WrkErrors(connect, read, write, timeout, int(non_2xx.group(1)) if non_2xx else 0)


def wrk_command(
    url: str,
    *,
    connections: int,
    duration_s: float,
    headers: tuple[str, ...] = (),
    script: Path | None = None,
) -> list[str]:
    """The wrk command line for one run: one thread, `connections` sockets, `--latency`.

    `script` is a wrk Lua script (`-s`), e.g. one that makes every request a POST.
    """
    command = [WRK, "-t1", f"-c{connections}", f"-d{duration_s:g}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    return [*command, url]


def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: float,
    headers: tuple[str, ...] = (),
    script: Path | None = None,
) -> WrkResult:
    """Run wrk once against `url` and return its parsed report."""
    command = wrk_command(
        url, connections=connections, duration_s=duration_s, headers=headers, script=script
    )
    limit = duration_s + _WRK_GRACE_S
    done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    if done.returncode != 0:
        raise WrkOutputError(f"{' '.join(command)} exited {done.returncode}: {done.stderr}")
    return parse_wrk_output(done.stdout)


def wrk_version() -> str:
    """wrk's version line, e.g. `wrk debian/4.1.0-3+b2 [epoll]` (wrk exits 1 on -v)."""
    done = subprocess.run([WRK, "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "unknown"


def ensure_wrk() -> None:
    """Install wrk from Debian's packages when it is missing.

    `apt-get update` runs only when the first install fails: the package lists are usually
    fresh enough, and updating them costs more than the install.
    """
    if shutil.which(WRK):
        return
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, check=False, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
        subprocess.run(install, check=True, timeout=600)
    if not shutil.which(WRK):
        raise WrkOutputError("wrk is still missing after apt-get install")
