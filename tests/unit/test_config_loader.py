"""Merging the sources: defaults < config file < HERDER_* environment < command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from herder.config import (
    SETTINGS,
    Bind,
    BindKind,
    CommandLineExit,
    Config,
    Kind,
    Section,
    Setting,
    load_config,
)
from herder.config import validators as v
from herder.errors import ConfigError
from herder.protocol.limits import HeaderMap, Limits


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write_config(tmp_path: Path, text: str, name: str = "site.conf.py") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def config_error(argv: list[str], environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(argv, environ)
    return str(caught.value)


# -- precedence ----------------------------------------------------------------------------


def test_file_overrides_default(tmp_path: Path) -> None:
    path = write_config(tmp_path, "workers = 3\n")
    cfg = load_config(["-c", path], {})
    assert (cfg.workers, cfg.settings_source("workers")) == (3, path)


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "workers = 3\n")
    cfg = load_config(["-c", path], {"HERDER_WORKERS": "5"})
    assert (cfg.workers, cfg.settings_source("workers")) == (5, "HERDER_WORKERS")


def test_command_line_overrides_env_and_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "workers = 3\n")
    cfg = load_config(["-c", path, "-w", "7"], {"HERDER_WORKERS": "5"})
    assert (cfg.workers, cfg.settings_source("workers")) == (7, "--workers")


def test_web_concurrency_sets_the_workers_default() -> None:
    cfg = load_config([], {"WEB_CONCURRENCY": "6"})
    assert (cfg.workers, cfg.settings_source("workers")) == (6, "WEB_CONCURRENCY")


def test_web_concurrency_is_below_the_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "workers = 2\n")
    assert load_config(["-c", path], {"WEB_CONCURRENCY": "6"}).workers == 2


def test_bad_web_concurrency_is_named() -> None:
    message = config_error([], {"WEB_CONCURRENCY": "lots"})
    assert message == "WEB_CONCURRENCY: invalid int value 'lots'"


def test_script_name_default_comes_from_the_environment() -> None:
    assert load_config([], {"SCRIPT_NAME": "/mount"}).script_name == "/mount"
    assert "SCRIPT_NAME: must be empty" in config_error([], {"SCRIPT_NAME": "mount"})


def test_repeated_option_replaces_lower_layers_rather_than_extending(tmp_path: Path) -> None:
    path = write_config(tmp_path, "bind = ['127.0.0.1:1', '127.0.0.1:2']\n")
    cfg = load_config(["-c", path, "-b", "127.0.0.1:3"], {})
    assert cfg.bind == [Bind(BindKind.TCP, host="127.0.0.1", port=3)]


# -- the environment -----------------------------------------------------------------------


def test_env_names_every_setting_with_prefix() -> None:
    envs = {s.env_var for s in SETTINGS if s.kind is not Kind.HOOK}
    assert envs == {f"HERDER_{s.name.upper()}" for s in SETTINGS if s.kind is not Kind.HOOK}


def test_env_value_error_names_the_variable() -> None:
    assert (
        config_error([], {"HERDER_TIMEOUT": "-3"}) == "HERDER_TIMEOUT: must be at least 0, got -3"
    )


def test_env_lists_are_comma_separated() -> None:
    cfg = load_config([], {"HERDER_BIND": "127.0.0.1:1, unix:/tmp/s", "HERDER_RAW_ENV": "A=1,B=2"})
    assert [str(bind) for bind in cfg.bind] == ["127.0.0.1:1", "unix:/tmp/s"]
    assert cfg.raw_env == ["A=1", "B=2"]


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("Yes", True), ("off", False)]
)
def test_env_switches_take_booleans(raw: str, expected: bool) -> None:
    assert load_config([], {"HERDER_PRELOAD_APP": raw}).preload_app is expected


def test_env_can_turn_off_a_default_on_switch() -> None:
    assert load_config([], {"HERDER_SENDFILE": "false"}).sendfile is False


def test_env_bad_boolean_is_named() -> None:
    assert (
        config_error([], {"HERDER_DAEMON": "maybe"})
        == "HERDER_DAEMON: invalid boolean value 'maybe'"
    )


def test_env_sets_the_application() -> None:
    assert load_config([], {"HERDER_WSGI_APP": "pkg.wsgi:app"}).wsgi_app == "pkg.wsgi:app"


def test_unrelated_environment_is_ignored() -> None:
    cfg = load_config([], {"HERDER": "x", "HERDER_NOT_A_SETTING": "x", "WORKERS": "9"})
    assert cfg.workers == 1


# -- the config file -----------------------------------------------------------------------


def test_config_file_takes_native_values_and_ignores_other_names(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "import os\n"
        "helper = os.path.join('a', 'b')\n"
        "bind = '0.0.0.0:9000'\n"
        "workers = 2 * 2\n"
        "preload_app = True\n"
        "header_timeout = 4\n"
        "raw_env = ['A=1']\n"
        "header_map = 'refuse'\n"
        "def unrelated():\n    return 1\n",
    )
    cfg = load_config(["-c", path], {})
    assert cfg.bind == [Bind(BindKind.TCP, host="0.0.0.0", port=9000)]
    assert (cfg.workers, cfg.preload_app, cfg.header_timeout) == (4, True, 4.0)
    assert (cfg.raw_env, cfg.header_map) == (["A=1"], HeaderMap.REFUSE)
    assert "helper" not in cfg.as_dict()


def test_config_file_sees_its_own_path(tmp_path: Path) -> None:
    path = write_config(tmp_path, "import os\nproc_name = os.path.basename(__file__)\n")
    assert load_config(["-c", path], {}).proc_name == "site.conf.py"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("workers = 'x'", "workers: invalid int value 'x'"),
        ("workers = True", "workers: invalid int value True"),
        ("workers = 2.5", "workers: invalid int value 2.5"),
        ("loglevel = 10", "loglevel: expected a string, got int 10"),
        ("bind = 8000", "bind: expected an address or a list of addresses, got 8000"),
        ("bind = []", "bind: at least one address is required"),
        ("preload_app = 'perhaps'", "preload_app: invalid boolean value 'perhaps'"),
        ("raw_env = 'A'", "raw_env: expected KEY=VALUE, got 'A'"),
    ],
)
def test_config_file_bad_value_names_file_and_setting(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write_config(tmp_path, line + "\n")
    assert config_error(["-c", path], {}) == f"{path}: {message}"


def test_config_file_that_raises_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "workers = 2\nraise RuntimeError('boom')\n")
    message = config_error(["-c", path], {})
    assert message == f"config file {path!r} failed: RuntimeError: boom"
    assert "\n" not in message


def test_config_file_with_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "workers = = 2\n")
    assert config_error(["-c", path], {}).startswith(f"config file {path!r} failed: SyntaxError")


def test_config_file_cannot_set_config_itself(tmp_path: Path) -> None:
    path = write_config(tmp_path, "config = {'some': 'dict'}\n")
    cfg = load_config(["-c", path], {})
    assert (cfg.config, cfg.settings_source("config")) == (path, "--config")


def test_herder_config_env_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "workers = 8\n")
    cfg = load_config([], {"HERDER_CONFIG": path})
    assert (cfg.workers, cfg.config) == (8, path)


def test_default_config_file_in_current_directory(tmp_path: Path) -> None:
    write_config(tmp_path, "timeout = 99\n", name="herder.conf.py")
    cfg = load_config([], {})
    assert (cfg.timeout, cfg.config) == (99, str(tmp_path / "herder.conf.py"))


def test_command_line_config_wins_over_default_file(tmp_path: Path) -> None:
    write_config(tmp_path, "timeout = 99\n", name="herder.conf.py")
    path = write_config(tmp_path, "timeout = 7\n")
    assert load_config(["-c", path], {}).timeout == 7


def test_relative_config_path_is_made_absolute(tmp_path: Path) -> None:
    write_config(tmp_path, "workers = 2\n")
    assert load_config(["-c", "site.conf.py"], {}).config == str(tmp_path / "site.conf.py")


# -- help and version ------------------------------------------------------------------------


def test_version_prints_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CommandLineExit) as caught:
        load_config(["--version", "-w", "bad"], {})
    assert caught.value.status == 0
    assert capsys.readouterr().out.startswith("herder ")


def test_help_lists_sections_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CommandLineExit):
        load_config(["--help"], {})
    out = capsys.readouterr().out
    assert all(section.value in out for section in Section if section is not Section.SERVER_HOOKS)
    assert "--limit-request-field_size" in out
    assert "[1, or $WEB_CONCURRENCY when set]" in out


# -- the Config object -----------------------------------------------------------------------


def test_config_is_read_only() -> None:
    cfg = load_config([], {})
    with pytest.raises(AttributeError, match="read-only"):
        cfg.workers = 2


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no setting named 'wrokers'"):
        getattr(load_config([], {}), "wrokers")  # noqa: B009 -- the typo is the point


def test_values_are_not_shared_between_loads() -> None:
    first, second = load_config([], {}), load_config([], {})
    first.bind.append(Bind(BindKind.FD, fd=9))
    assert second.bind == [Bind(BindKind.TCP, host="127.0.0.1", port=8000)]


def test_config_annotations_match_the_declarations() -> None:
    annotated = {name for name in Config.__annotations__ if not name.startswith("_")}
    assert annotated == {setting.name for setting in SETTINGS}


def test_protocol_limits_is_the_parsers_slice() -> None:
    cfg = load_config(
        [
            "--limit-request-line=100",
            "--limit-request-fields=0",
            "--limit-request-field_size=200",
            "--limit-request-head=4096",
            "--header-map=dangerous",
            "--permit-obsolete-folding",
            "--casefold-http-method",
        ],
        {},
    )
    assert cfg.protocol_limits() == Limits(
        request_line=100,
        fields=32768,  # 0 means the maximum, as in Gunicorn
        field_size=200,
        head_size=4096,
        header_map=HeaderMap.DANGEROUS,
        permit_obsolete_folding=True,
        casefold_http_method=True,
    )


def test_default_protocol_limits_equal_the_parser_defaults() -> None:
    assert load_config([], {}).protocol_limits() == Limits()


@pytest.mark.parametrize(
    ("name", "uri"),
    [
        ("sync", "herder.workers.sync:SyncWorker"),
        ("event", "herder.workers.event:EventWorker"),
        ("pkg.mod:Custom", "pkg.mod:Custom"),
        ("pkg.mod.Custom", "pkg.mod:Custom"),
    ],
)
def test_worker_class_uri(name: str, uri: str) -> None:
    assert load_config(["-k", name], {}).worker_class_uri == uri


def test_settings_source_of_unknown_name() -> None:
    with pytest.raises(KeyError):
        load_config([], {}).settings_source("nope")


# -- room for hooks ----------------------------------------------------------------------------


def _noop(arbiter: Any) -> None:
    return None


ON_STARTING = Setting(
    "on_starting",
    Section.SERVER_HOOKS,
    Kind.HOOK,
    (),
    v.hook(1),
    _noop,
    "Called just before the master process is initialized.",
)


def test_hook_setting_is_taken_from_the_config_file_only(tmp_path: Path) -> None:
    path = write_config(tmp_path, "def on_starting(server):\n    return 'started'\n")
    cfg = load_config(["-c", path], {"HERDER_ON_STARTING": "ignored"}, (*SETTINGS, ON_STARTING))
    assert cfg.as_dict()["on_starting"](None) == "started"
    assert ON_STARTING.env_var is None


def test_hook_with_wrong_arity_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, "def on_starting():\n    pass\n")
    with pytest.raises(ConfigError, match="on_starting: must accept 1 positional argument"):
        load_config(["-c", path], {}, (*SETTINGS, ON_STARTING))


def test_hook_must_be_callable(tmp_path: Path) -> None:
    path = write_config(tmp_path, "on_starting = 'print'\n")
    with pytest.raises(ConfigError, match="on_starting: expected a callable, got str"):
        load_config(["-c", path], {}, (*SETTINGS, ON_STARTING))
