"""The lifecycle settings: defaults, good and bad values, hooks from the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from herder.config import load_config
from herder.config.sections import lifecycle
from herder.errors import ConfigError
from herder.workers.hooks import is_default_hook, run_hook


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


HOOKS = {
    "on_starting": 1,
    "on_reload": 1,
    "when_ready": 1,
    "pre_fork": 2,
    "post_fork": 2,
    "post_worker_init": 1,
    "worker_int": 1,
    "worker_abort": 1,
    "pre_exec": 1,
    "pre_request": 2,
    "post_request": 4,
    "child_exit": 2,
    "worker_exit": 2,
    "nworkers_changed": 3,
    "on_exit": 1,
}


def test_defaults() -> None:
    cfg = load_config([], {})
    assert (cfg.harakiri, cfg.max_worker_memory, cfg.max_worker_lifetime) == (0.0, 0, 0)
    assert (cfg.boot_timeout, cfg.gc_freeze, cfg.reload) == (30.0, False, False)
    assert cfg.reload_extra_files == []
    assert all(is_default_hook(getattr(cfg, name)) for name in HOOKS)


def test_every_gunicorn_hook_is_declared_with_its_arity() -> None:
    declared = {s.name for s in lifecycle.SETTINGS if s.kind.value == "hook"}
    assert declared == set(HOOKS)


@pytest.mark.parametrize(
    ("argv", "name", "expected"),
    [
        (["--harakiri", "2.5"], "harakiri", 2.5),
        (["--harakiri", "0"], "harakiri", 0.0),
        (["--max-worker-memory", "256"], "max_worker_memory", 256),
        (["--max-worker-lifetime", "3600"], "max_worker_lifetime", 3600),
        (["--boot-timeout", "5"], "boot_timeout", 5.0),
        (["--gc-freeze"], "gc_freeze", True),
        (["--reload"], "reload", True),
        (
            ["--reload-extra-file", "a.html", "--reload-extra-file", "b"],
            "reload_extra_files",
            ["a.html", "b"],
        ),
    ],
)
def test_good_values(argv: list[str], name: str, expected: object) -> None:
    assert load_config(argv, {}).as_dict()[name] == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--harakiri", "-1"], "--harakiri: must be greater than 0"),
        (["--harakiri", "soon"], "--harakiri: invalid float value"),
        (["--max-worker-memory", "-5"], "--max-worker-memory: must be at least 0"),
        (["--max-worker-lifetime", "x"], "--max-worker-lifetime: invalid int value"),
        (["--boot-timeout", "0"], "--boot-timeout: must be greater than 0"),
    ],
)
def test_bad_values(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(argv, {})
    assert message in str(caught.value)


@pytest.mark.parametrize(("name", "arity"), sorted(HOOKS.items()))
def test_hook_from_config_file_with_wrong_arity_is_refused(
    tmp_path: Path, name: str, arity: int
) -> None:
    args = ", ".join(f"a{i}" for i in range(arity + 1))
    path = tmp_path / "h.conf.py"
    path.write_text(f"def {name}({args}):\n    pass\n")
    with pytest.raises(ConfigError, match=f"{name}: must accept {arity} positional"):
        load_config(["-c", str(path)], {})


def test_hook_that_raises_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "h.conf.py"
    path.write_text("def on_starting(server):\n    raise ValueError('hook broke')\n")
    cfg = load_config(["-c", str(path)], {})
    import logging

    log = logging.getLogger("test.hooks")
    with caplog.at_level(logging.ERROR, logger="test.hooks"):
        run_hook(cfg, log, "on_starting", object())
    assert "Exception in hook on_starting" in caplog.text
    assert "hook broke" in caplog.text
