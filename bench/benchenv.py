"""The benchmark's own environment: its virtualenv, and the facts about the machine it ran on.

Rules:
- `bench/.venv` (gitignored) holds the servers under test: pinned gunicorn and uWSGI (pip
  builds uWSGI with the machine's gcc and Python headers), matplotlib for the chart, and
  herder from this checkout (`pip install -e .`), so a result names exact versions.
- Granian is pinned too but installed on its own: when its install fails, the reason is
  kept in `bench/.venv/.granian-skipped` and the suite goes on without it (a recorded skip).
- It is (re)installed when missing, when the pins change, or when pyproject.toml is newer than
  its stamp; otherwise it is reused as is.
- Machine facts are read, never guessed: what cannot be read is recorded as "unknown".
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import wrkload

REPO = Path(__file__).resolve().parent.parent
BENCH_VENV = REPO / "bench" / ".venv"
BENCH_BIN = BENCH_VENV / "bin"
# Pinned so runs on different days compare the same competitors.
# gevent and eventlet: Gunicorn's coroutine workers (bench/herd.py's I/O-bound comparison);
# Gunicorn's gevent worker also imports `packaging`.
PINS = (
    "gunicorn==27.0.1",
    "uwsgi==2.0.31",
    "gevent==26.9.0",
    "eventlet==0.41.3",
    "packaging==26.4",
    "matplotlib==3.11.2",
)
# Installed apart from PINS: a failure is a recorded skip, not a broken environment.
GRANIAN_PIN = "granian==2.8.7"
_STAMP = BENCH_VENV / ".bench-installed"
GRANIAN_SKIPPED = BENCH_VENV / ".granian-skipped"
_INSTALL_TIMEOUT_S = 1200


def ensure_bench_venv() -> Path:
    """Create or refresh `bench/.venv`; return its `bin` directory."""
    if _is_current():
        return BENCH_BIN
    if not (BENCH_BIN / "python").exists():
        _run([sys.executable, "-m", "venv", str(BENCH_VENV)])
    pip = [str(BENCH_BIN / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, *PINS])
    _run([*pip, "-e", f"{REPO}[speedups]"])  # with the optional httptools head parser
    install_granian(pip)
    _STAMP.write_text("\n".join(_stamped()) + "\n")
    return BENCH_BIN


def _stamped() -> list[str]:
    return [*PINS, GRANIAN_PIN, "herder[speedups]"]


def install_granian(pip: list[str], venv: Path = BENCH_VENV) -> None:
    """Install Granian with `pip`; on failure record why in the venv (the suite goes on)."""
    skipped = venv / GRANIAN_SKIPPED.name
    skipped.unlink(missing_ok=True)
    print("+", " ".join([*pip, GRANIAN_PIN]), flush=True)
    try:
        done = subprocess.run(
            [*pip, GRANIAN_PIN], capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        skipped.write_text(f"pip install {GRANIAN_PIN}: {exc}\n")
        return
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        skipped.write_text(f"pip install {GRANIAN_PIN} failed: " + " / ".join(tail) + "\n")


def granian_skip_reason(venv: Path = BENCH_VENV) -> str | None:
    """Why Granian is not in the bench venv, or None when it is there."""
    skipped = venv / GRANIAN_SKIPPED.name
    if skipped.exists():
        return skipped.read_text().strip() or "install failed"
    if not (venv / "bin" / "granian").exists():
        return "granian is not installed in bench/.venv"
    return None


def _is_current() -> bool:
    if not _STAMP.exists() or _STAMP.read_text().split() != _stamped():
        return False
    return _STAMP.stat().st_mtime >= (REPO / "pyproject.toml").stat().st_mtime


def _run(command: list[str]) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, timeout=_INSTALL_TIMEOUT_S)


def machine_facts(bin_dir: Path) -> dict[str, Any]:
    """What a reader needs to judge the numbers: CPU, kernel, versions, date.

    A version that cannot be read (e.g. Granian skipped) is "unknown".
    """
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "loadavg_1_5_15": [round(load, 2) for load in os.getloadavg()],  # other load skews results
        "python": _python_says(bin_dir, "sys.version", "sys"),
        "herder": _python_says(bin_dir, "herder.__version__", "herder"),
        "gunicorn": _output([str(bin_dir / "gunicorn"), "--version"]),
        "uwsgi": _output([str(bin_dir / "uwsgi"), "--version"]),
        "granian": _output([str(bin_dir / "granian"), "--version"]),
        "matplotlib": _python_says(bin_dir, "matplotlib.__version__", "matplotlib"),
        "nginx": _output([shutil.which("nginx") or "/usr/sbin/nginx", "-v"]),
        "wrk": wrkload.wrk_version(),
    }


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The first `model name` in /proc/cpuinfo, or "unknown"."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return "unknown"
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return "unknown"


def _python_says(bin_dir: Path, expression: str, module: str) -> str:
    """What `expression` evaluates to in the bench venv's Python (after importing `module`)."""
    return _output([str(bin_dir / "python"), "-c", f"import {module}; print({expression})"])


def _output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "unknown"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if done.returncode == 0 and text else "unknown"
