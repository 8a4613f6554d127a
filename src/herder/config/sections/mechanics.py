"""Settings of the sections "Server mechanics", "Process naming" and "Debugging".

Names, options and meanings are Gunicorn's. `config` is read before the config file and so
cannot be set from it; `user`, `group` and `chdir` default to the process's own identity and
directory, computed when the configuration is loaded.
"""

from __future__ import annotations

import os
from typing import Any

from herder.config import validators as v
from herder.config.fields import DynamicDefault, Kind, Section, Setting

MECHANICS = Section.SERVER_MECHANICS
NAMING = Section.PROCESS_NAMING
DEBUGGING = Section.DEBUGGING

DEFAULT_CONFIG_FILE = "herder.conf.py"  # looked up in the current directory when no -c

SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "wsgi_app",
        MECHANICS,
        Kind.POSITIONAL,
        (),
        v.optional(v.app_spec),
        None,
        "The WSGI application to serve, as `MODULE:NAME`. `NAME` may be an attribute path "
        "(`obj.attr`) or a factory call with literal arguments (`create_app('prod')`); "
        "`MODULE` alone means `MODULE:application`.",
        meta="APP_MODULE",
    ),
    Setting(
        "config",
        MECHANICS,
        Kind.VALUE,
        ("-c", "--config"),
        v.optional(v.existing_file),
        None,
        "The Python configuration file to read. It is executed in a fresh namespace; "
        "top-level names that are settings are taken, other names are ignored. Without this "
        f"option, `./{DEFAULT_CONFIG_FILE}` is read if it exists.",
        meta="CONFIG",
        in_file=False,
    ),
    Setting(
        "preload_app",
        MECHANICS,
        Kind.SWITCH_ON,
        ("--preload",),
        v.boolean,
        False,
        "Load application code before the worker processes are forked. Saves memory and "
        "speeds up boot, but the code cannot be reloaded by restarting workers.",
    ),
    Setting(
        "sendfile",
        MECHANICS,
        Kind.SWITCH_OFF,
        ("--no-sendfile",),
        v.boolean,
        True,
        "Use `sendfile()` for file responses (`wsgi.file_wrapper`). `--no-sendfile` copies "
        "through user space instead.",
    ),
    Setting(
        "chdir",
        MECHANICS,
        Kind.VALUE,
        ("--chdir",),
        v.existing_dir,
        DynamicDefault(os.getcwd, "the current directory"),
        "Change directory to the specified directory before loading apps. The directory is "
        "also put first on `sys.path`.",
        meta="DIR",
    ),
    Setting(
        "daemon",
        MECHANICS,
        Kind.SWITCH_ON,
        ("-D", "--daemon"),
        v.boolean,
        False,
        "Daemonize the herder process. Detaches the server from the controlling terminal and "
        "enters the background.",
    ),
    Setting(
        "raw_env",
        MECHANICS,
        Kind.REPEATED,
        ("-e", "--env"),
        v.key_value_list,
        [],
        "Set an environment variable in the execution environment, as `KEY=VALUE`. Repeat "
        "the option for several variables.",
        meta="ENV",
    ),
    Setting(
        "pidfile",
        MECHANICS,
        Kind.VALUE,
        ("--pid",),
        v.optional(v.non_empty_text),
        None,
        "A filename to use for the PID file. If not set, no PID file is written.",
        meta="FILE",
    ),
    Setting(
        "user",
        MECHANICS,
        Kind.VALUE,
        ("-u", "--user"),
        v.user_id,
        DynamicDefault(os.geteuid, "the current effective user id"),
        "Switch worker processes to run as this user. A user name or a numeric uid.",
        meta="USER",
    ),
    Setting(
        "group",
        MECHANICS,
        Kind.VALUE,
        ("-g", "--group"),
        v.group_id,
        DynamicDefault(os.getegid, "the current effective group id"),
        "Switch worker processes to run as this group. A group name or a numeric gid.",
        meta="GROUP",
    ),
    Setting(
        "umask",
        MECHANICS,
        Kind.VALUE,
        ("--umask",),
        v.umask,
        0,
        "A bit mask for the file mode on files written by herder. Accepts decimal (`18`), "
        "`0o22` or `022` (a leading zero means octal) and `0x12`.",
        meta="INT",
    ),
    Setting(
        "pythonpath",
        MECHANICS,
        Kind.VALUE,
        ("--pythonpath",),
        v.optional(v.comma_list),
        None,
        "A comma-separated list of directories to add to the Python path. They are put "
        "first on `sys.path`, in the order given.",
        meta="STRING",
    ),
    Setting(
        "script_name",
        MECHANICS,
        Kind.VALUE,
        ("--script-name",),
        v.script_name,
        "",
        "The mount point of the application (WSGI `SCRIPT_NAME`). Empty, or a path that "
        "starts with `/` and does not end with `/`.",
        meta="PATH",
        default_env="SCRIPT_NAME",
    ),
    Setting(
        "proc_name",
        NAMING,
        Kind.VALUE,
        ("-n", "--name"),
        v.optional(v.non_empty_text),
        None,
        "A base to use with setproctitle for process naming. Affects what tools like `ps` "
        "and `top` show; without it the application module is used.",
        meta="STRING",
    ),
    Setting(
        "check_config",
        DEBUGGING,
        Kind.SWITCH_ON,
        ("--check-config",),
        v.boolean,
        False,
        "Check the configuration and exit. Loads the application too; the exit status is 0 "
        "when both load, non-zero otherwise.",
    ),
    Setting(
        "print_config",
        DEBUGGING,
        Kind.SWITCH_ON,
        ("--print-config",),
        v.boolean,
        False,
        "Print the configuration settings as fully resolved and exit. One `name = value` "
        "line per setting, in config-file syntax.",
    ),
)
