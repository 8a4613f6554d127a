"""`main()` in-process: version, help, print-config, check-config, usage errors, hand-over."""

from __future__ import annotations

import os
import runpy
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from herder import __version__
from herder.cli import main
from herder.config import Config
from herder.errors import ExitCode
from herder.logs import Logs

APP = "def application(environ, start_response):\n    return [b'ok']\n"


@pytest.fixture(autouse=True)
def _sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever main() changes in the process (cwd, sys.path, environ) is undone afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in list(os.environ):
        if name.startswith("HERDER_") or name in ("WEB_CONCURRENCY", "SCRIPT_NAME"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("HERDER_TEST_FLAVOUR", raising=False)


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"herder_cli_app_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(APP)
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"herder {__version__}\n"


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "usage: herder" in capsys.readouterr().out


def test_print_config_needs_no_app(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-config", "-w", "3", "-b", "[::1]:9000", "--header-map", "refuse"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == sorted(lines)
    assert "workers = 3" in lines
    assert "bind = ['[::1]:9000']" in lines
    assert "header_map = 'refuse'" in lines
    assert "wsgi_app = None" in lines


def test_print_config_output_is_a_valid_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--print-config", "-w", "5", "--umask", "022", "-e", "A=1"]) == 0
    printed = capsys.readouterr().out
    conf = tmp_path / "printed.conf.py"
    conf.write_text(printed.replace("print_config = True", "print_config = False"))
    assert main(["-c", str(conf), "--print-config"]) == 0
    reread = capsys.readouterr().out
    assert reread.replace(f"config = {str(conf)!r}", "config = None") == printed


def test_bad_value_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-w", "x", "app:app"]) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert captured.err == "herder: error: --workers: invalid int value 'x'\n"
    assert captured.out == ""


def test_bad_env_value_is_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERDER_BACKLOG", "none")
    assert main(["app:app"]) == 2
    assert capsys.readouterr().err == "herder: error: HERDER_BACKLOG: invalid int value 'none'\n"


def test_failing_config_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "bad.conf.py"
    conf.write_text("import no_such_module_for_herder\n")
    assert main(["-c", str(conf), "app:app"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"herder: error: config file {str(conf)!r} failed: ModuleNotFoundError")
    assert err.count("\n") == 1


def test_missing_app_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("herder: error: no application given")


def test_check_config_loads_the_app(app_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check-config", app_module]) == 0
    assert capsys.readouterr().err == ""


def test_check_config_reports_app_load_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "herder_cli_broken.py").write_text("raise ImportError('missing dependency')\n")
    monkeypatch.delitem(sys.modules, "herder_cli_broken", raising=False)
    assert main(["--check-config", "herder_cli_broken"]) == ExitCode.APP_LOAD_ERROR
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "ImportError: missing dependency" in err


def test_print_and_check_config_together(
    app_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--print-config", "--check-config", f"{app_module}:nope"]) == 4
    captured = capsys.readouterr()
    assert "check_config = True" in captured.out
    assert "failed to find attribute 'nope'" in captured.err


def test_chdir_pythonpath_and_env_are_applied_before_loading(tmp_path: Path) -> None:
    site = tmp_path / "site"
    libs = [tmp_path / "lib1", tmp_path / "lib2"]
    for directory in (site, *libs):
        directory.mkdir()
    (site / "herder_cli_site_app.py").write_text(
        "import os\nassert os.environ['HERDER_TEST_FLAVOUR'] == 'x=y'\n" + APP
    )
    argv = ["--chdir", "site", "--pythonpath", "lib1,lib2", "-e", "HERDER_TEST_FLAVOUR=x=y"]
    try:
        assert main([*argv, "--check-config", "herder_cli_site_app"]) == 0
    finally:
        sys.modules.pop("herder_cli_site_app", None)
    assert os.getcwd() == str(site)
    assert sys.path[:3] == [str(site / "lib1"), str(site / "lib2"), str(site)]
    assert os.environ["HERDER_TEST_FLAVOUR"] == "x=y"


def test_main_hands_over_to_the_arbiter(app_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class FakeArbiter:
        def __init__(self, cfg: Config, logs: Logs, launch: Any) -> None:
            seen.update(cfg=cfg, logs=logs, launch=launch)

        def run(self) -> int:
            return 17

    fake = types.ModuleType("herder.master.arbiter")
    fake.Arbiter = FakeArbiter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "herder.master.arbiter", fake)
    assert main(["-w", "2", app_module]) == 17
    assert seen["cfg"].workers == 2
    assert isinstance(seen["logs"], Logs)
    assert seen["launch"].args == ("-w", "2", app_module)  # kept for HUP and USR2


def test_main_reads_sys_argv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["herder", "--version"])
    assert main() == 0
    assert capsys.readouterr().out.startswith("herder ")


def test_python_dash_m_herder_exits_with_mains_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["herder", "--workers", "none"])
    with pytest.raises(SystemExit) as caught:
        runpy.run_module("herder", run_name="__main__")
    assert caught.value.code == 2
    assert "--workers: invalid int value 'none'" in capsys.readouterr().err
