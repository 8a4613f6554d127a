"""Unit tests for the suite's other parts: command lines, the plan, the bench venv, nginx's
site, the chart's data and the `Connection: close` probe.

Nothing is benchmarked: the probe talks to a one-shot server on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import benchenv
import chart
import front
import runner
import suite
from scenarios import SCENARIOS
from servers import SERVERS, Launch, labels


@contextmanager
def _one_shot_server(close: bool) -> Iterator[str]:
    """A loopback server that answers one request, then closes or keeps the connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                if not close:
                    conn.recv(4096)  # until the client goes

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{port}/"
        thread.join(timeout=5)


@pytest.mark.parametrize("close", [True, False])
def test_close_probe_tells_a_closing_server_from_one_that_keeps_the_connection(
    close: bool,
) -> None:
    with _one_shot_server(close) as url:
        assert runner.closes_when_asked(url, timeout_s=0.5) is close


# --- bench venv: Granian is a recorded skip --------------------------------------------


def test_a_failed_granian_install_is_recorded_with_its_reason(tmp_path: Path) -> None:
    failing_pip = [sys.executable, "-c", "import sys; sys.exit('no wheel for this platform')"]
    benchenv.install_granian(failing_pip, tmp_path)
    reason = benchenv.granian_skip_reason(tmp_path)
    assert reason is not None
    assert reason.startswith("pip install granian==") and "no wheel for this platform" in reason


def test_granian_skip_reason_without_a_record(tmp_path: Path) -> None:
    assert benchenv.granian_skip_reason(tmp_path) == "granian is not installed in bench/.venv"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "granian").write_text("")
    assert benchenv.granian_skip_reason(tmp_path) is None
    benchenv.install_granian([sys.executable, "-c", "pass"], tmp_path)  # pip succeeded
    assert benchenv.granian_skip_reason(tmp_path) is None


# --- servers, scenarios, the plan ---------------------------------------------------------


def test_every_server_binds_loopback_with_the_same_processes_and_threads() -> None:
    launch = Launch(Path("/v/bin"), Path("/apps"), 8123, workers=3, threads=16)
    for server in SERVERS.values():
        command = server.command(launch)
        joined = " ".join(command)
        assert "127.0.0.1:8123" in joined or "--port 8123" in joined, server.name
        assert "3" in command, server.name
    threads = {
        name: SERVERS[name].command(launch)
        for name in ("herder-threaded", "gunicorn-gthread", "uwsgi-http-threads")
    }
    for name, command in threads.items():
        assert command[command.index("--threads") + 1] == "16", name


def test_uwsgi_protocol_commands_for_the_nginx_scenario() -> None:
    launch = Launch(Path("/v/bin"), Path("/apps"), 8123, 2, 4, uwsgi_protocol=True)
    behind = {name for name, s in SERVERS.items() if s.behind_nginx}
    assert behind == {"herder-sync", "herder-event", "gunicorn-sync", "uwsgi-socket"}
    for name in ("herder-event", "gunicorn-sync"):
        command = SERVERS[name].command(launch)
        assert command[command.index("--protocol") + 1] == "uwsgi", name
    assert SERVERS["uwsgi-socket"].command(launch)[1:3] == ["--socket", "127.0.0.1:8123"]
    assert not SERVERS["uwsgi-socket"].direct


def test_quick_plan_and_rejections() -> None:
    plan = suite.parse_args(["--quick", "--servers", "herder-event,uwsgi-http"])
    assert (plan.rounds, plan.duration_s, plan.warmup_s) == (1, 1, 0)
    assert plan.servers == ("herder-event", "uwsgi-http")
    assert plan.scenarios == tuple(SCENARIOS)
    full = suite.parse_args([])
    assert (full.rounds, full.duration_s, full.warmup_s, full.quick) == (3, 8, 1, False)
    for argv in (["--servers", "nginx"], ["--scenarios", "pipelined"], ["--rounds", "0"]):
        with pytest.raises(SystemExit):
            suite.parse_args(argv)


def test_rounds_rotate_the_server_order() -> None:
    names = ("a", "b", "c")
    assert [suite.rotated(names, n) for n in (1, 2, 3, 4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]
    assert suite.rotated((), 2) == []


def test_only_a_full_run_of_everything_is_published() -> None:
    assert suite.publishes(suite.parse_args([]), skipped=())
    everything_but_granian = ",".join(name for name in SERVERS if name != "granian")
    less = suite.parse_args(["--servers", everything_but_granian])
    assert suite.publishes(less, skipped=("granian",))
    assert not suite.publishes(less, skipped=())
    assert not suite.publishes(suite.parse_args(["--scenarios", "64k"]), skipped=())
    assert not suite.publishes(suite.parse_args(["--quick"]), skipped=())
    assert not suite.publishes(suite.parse_args(["--out", "/tmp/x"]), skipped=())


def test_settings_record_commands_with_placeholders() -> None:
    plan = suite.parse_args(["--quick", "--servers", "herder-sync,granian"])
    sizes = runner.Sizes(benchenv.BENCH_BIN, 2, 32, 1, 0, 0.1)
    recorded = suite.settings(plan, sizes, {"granian": "install failed"})
    herder = recorded["commands"]["herder-sync"]
    assert herder["direct"] == (
        "bench/.venv/bin/herder -w 2 -b 127.0.0.1:PORT -k sync --chdir bench/apps mixed:app"
    )
    assert herder["nginx"].endswith("-k sync --protocol uwsgi --chdir bench/apps mixed:app")
    assert "--port PORT" in recorded["commands"]["granian"]["direct"]
    assert recorded["wrk"]["upload-1m"].endswith("-s bench/upload.lua http://127.0.0.1:PORT/upload")
    assert recorded["skipped"] == {"granian": "install failed"}


def test_nginx_site_points_at_the_server() -> None:
    site = front.site_config(front.SITE.read_text(), 41000, 42000)
    assert "server 127.0.0.1:41000;" in site
    assert "listen 127.0.0.1:42000 backlog=4096;" in site
    assert "uwsgi_pass" in site
    with pytest.raises(ValueError, match="no longer contains"):
        front.site_config("server 10.0.0.1:1;", 1, 2)


def test_chart_panels_follow_the_record() -> None:
    record = {
        "settings": {
            "scenarios": ["hello-keepalive", "64k"],
            "labels": labels(),
            "families": {name: s.family for name, s in SERVERS.items()},
            "scenario_labels": {"hello-keepalive": "hello", "64k": "big"},
        },
        "summary": [
            {"server": "herder-event", "scenario": "hello-keepalive", "requests_per_sec": 2.0},
            {"server": "uwsgi-http", "scenario": "hello-keepalive", "requests_per_sec": 3.0},
        ],
    }
    assert chart.panels(record) == [
        ("hello", [("herder event", 2.0, "herder"), ("uWSGI http-socket", 3.0, "uwsgi")])
    ]
