"""The `herder` command: load the configuration, prepare the process, run the master.

Exit statuses (`ExitCode`): 0 after `--help`, `--version`, `--print-config` or a passing
`--check-config`; 2 for a usage error (an unknown option, a bad setting value from any
source, a failing config file, no APP_MODULE), printed as one line `herder: error: ...` on
standard error; 4 when `--check-config` cannot load the application (the traceback is
printed). Otherwise the master's own status.

Order of work: the configuration is loaded and validated completely before anything changes
in the process; then `chdir`, `pythonpath` (both put first on `sys.path`, the pythonpath
entries before the directory, as in Gunicorn) and `raw_env` are applied, and only then is the
application or the master imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from herder.app import load_app
from herder.config import BUILTIN_WORKERS, SETTINGS_BY_NAME, CommandLineExit, Config, load_config
from herder.config.fields import Kind
from herder.errors import AppImportError, ConfigError, ExitCode
from herder.logs import Logs

PROG = "herder"


def main(argv: Sequence[str] | None = None) -> int:
    """Run herder with `argv` (default: the process's arguments); returns the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    start_cwd, start_env = os.getcwd(), dict(os.environ)  # for HUP and USR2 to start alike
    try:
        cfg = load_config(args, os.environ)
        if cfg.print_config:
            print_config(cfg)
        if cfg.print_config and not cfg.check_config:
            return ExitCode.OK
        prepare_process(cfg)
    except CommandLineExit as done:
        return done.status
    except ConfigError as exc:
        return usage_error(str(exc))
    if cfg.wsgi_app is None and cfg.worker_class in BUILTIN_WORKERS:
        # A custom worker class may serve something other than WSGI (docs/workers.md); it
        # says so with `loads_app = False`, and fails to boot if it needs an app after all.
        return usage_error("no application given (APP_MODULE, e.g. myproject.wsgi:application)")
    if cfg.check_config and cfg.wsgi_app is not None:
        return check_app(cfg.wsgi_app)
    return run_master(cfg, args, start_cwd, start_env)


def usage_error(message: str) -> int:
    """Print one `herder: error: ...` line on standard error; returns the usage status."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return ExitCode.USAGE


def print_config(cfg: Config) -> None:
    """Every setting as `name = value`, sorted, in config-file syntax (hooks left out)."""
    for name, value in sorted(cfg.as_dict().items()):
        if SETTINGS_BY_NAME[name].kind is Kind.HOOK:
            continue  # a callable has no config-file literal
        print(f"{name} = {SETTINGS_BY_NAME[name].plain(value)!r}")


def prepare_process(cfg: Config) -> None:
    """Apply `chdir`, `pythonpath` and `raw_env`; raises ConfigError when chdir fails."""
    try:
        os.chdir(cfg.chdir)
    except OSError as exc:
        raise ConfigError(f"--chdir: cannot change to {cfg.chdir!r}: {exc.strerror}") from exc
    extra = [os.path.abspath(path) for path in cfg.pythonpath or ()]
    for path in reversed([*extra, cfg.chdir]):  # pythonpath first, in order, then chdir
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    for item in cfg.raw_env:
        key, _, value = item.partition("=")
        os.environ[key.strip()] = value


def check_app(spec: str) -> int:
    """Load the application once: 0 when it loads, APP_LOAD_ERROR (traceback printed) if not."""
    try:
        load_app(spec)
    except AppImportError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return ExitCode.APP_LOAD_ERROR
    return ExitCode.OK


def run_master(cfg: Config, args: Sequence[str], cwd: str, environ: dict[str, str]) -> int:
    """Hand over to the master (imported here: the CLI's other paths never load it)."""
    from herder.master.arbiter import Arbiter
    from herder.master.reexec import Launch

    logs = Logs(cfg)
    launch = Launch(tuple(sys.orig_argv), tuple(args), cwd, environ)
    try:
        return Arbiter(cfg, logs, launch).run()
    finally:
        logs.close()
