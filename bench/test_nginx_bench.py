"""Unit tests for bench/nginx.py's pure parts: site rendering, command lines, arguments.

Nothing is started: the full comparison is `make bench-nginx`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nginx


@pytest.mark.parametrize("name", sorted(nginx.UPSTREAMS))
def test_site_points_nginx_at_the_contender(name: str) -> None:
    upstream = nginx.UPSTREAMS[name]
    site = nginx.site_config(upstream, 41000, 42000)
    assert "server 127.0.0.1:41000;" in site
    assert "listen 127.0.0.1:42000 backlog=4096;" in site
    assert ("uwsgi_pass" in site) == (name != "herder-proxy")


@pytest.mark.parametrize("name", sorted(nginx.UPSTREAMS))
def test_commands_bind_the_port_with_the_workers_asked(name: str) -> None:
    command = nginx.UPSTREAMS[name].build(Path("/b"), Path("/h/herder"), 41000, 3)
    joined = " ".join(command)
    assert "127.0.0.1:41000" in joined and " 3 " in f"{joined} "
    if name == "herder-uwsgi":
        assert "uwsgi://127.0.0.1:41000" in joined
    if name == "gunicorn-uwsgi":
        assert "--protocol uwsgi" in joined


def test_quick_plan_and_unknown_servers() -> None:
    plan = nginx.parse_args(["--quick", "--servers", "herder-uwsgi,uwsgi"])
    assert (plan.rounds, plan.duration_s, plan.servers) == (1, 2.0, ("herder-uwsgi", "uwsgi"))
    with pytest.raises(SystemExit):
        nginx.parse_args(["--servers", "nope"])
