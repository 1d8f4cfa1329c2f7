"""How buildx-go starts its commands, each in its own process group and tracked for
interrupts (interrupt.py): ``run_program`` (git, --version-from: output captured, bounded)
and ``spawn`` (a streamed command, a build: stderr on a pipe or on a terminal of its own);
and buildx run as its plugin's own binary."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time

from buildx_go.engine import interrupt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path
    from typing import Any

OUTPUT_LIMIT = 1 << 20  # bytes kept of a program's stdout and of its stderr
PLUGIN_ENV = ("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND", "DOCKER_CLI_PLUGIN_SOCKET", "DOCKER_CLI_PLUGIN_USE_DIAL_STDIO")


def direct(argv: Sequence[str], buildx_path: str | None) -> list[str]:
    """ARGV, a `docker buildx ...` command run as the buildx plugin's own binary (the
    docker CLI reports its path; buildx runs standalone): the docker CLI's start and its
    plugin discovery, ~40 ms a call, are left out."""
    if buildx_path and list(argv[:2]) == ["docker", "buildx"]:
        return [buildx_path, *argv[2:]]
    return list(argv)


# where the docker CLI looks for plugins after its config folder's cli-plugins and the
# config's cliPluginsExtraDirs (docker/cli, cli-plugins/manager: defaultSystemPluginDirs)
SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def plugin_dirs(config_dir: str, config: Mapping[str, Any]) -> list[str]:
    """The folders the docker CLI searches for plugins, in its order: CONFIG_DIR/cli-plugins,
    the config file's cliPluginsExtraDirs, then the system folders."""
    extra = config.get("cliPluginsExtraDirs")
    extra_dirs = [str(d) for d in extra if isinstance(d, str) and d] if isinstance(extra, list) else []
    return [os.path.join(config_dir, "cli-plugins"), *extra_dirs, *SYSTEM_PLUGIN_DIRS]


def find_buildx(env: Mapping[str, str]) -> str | None:
    """The buildx plugin's binary as the docker CLI would find it (the first executable
    docker-buildx in plugin_dirs), before `docker info` says so; None if there is none."""
    import json

    from buildx_go.engine.stamps import docker_config

    folder = docker_config(env)
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8-sig") as f:
            config = json.load(f)
    except (OSError, ValueError):
        config = {}
    for d in plugin_dirs(folder, config if isinstance(config, dict) else {}):
        path = os.path.join(d, "docker-buildx")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def child_env(env: Mapping[str, str], argv: Sequence[str]) -> dict[str, str]:
    """ENV for ARGV: a buildx binary run directly must not think a docker CLI started it."""
    if argv and os.path.basename(argv[0]) == "docker-buildx":
        return {k: v for k, v in env.items() if k not in PLUGIN_ENV}
    return dict(env)


class Started:
    """A streamed command running: its process and (with a terminal) the terminal's master end."""

    def __init__(self, proc: subprocess.Popen[Any], master: int | None, key: tuple[Any, ...]) -> None:
        self.proc, self.master, self.key, self.at = proc, master, key, time.monotonic()


def spawn(argv: Sequence[str], env: Mapping[str, str], cwd: str | None, tty: bool, size_from: Any = None) -> Started:
    """Start ARGV (tracked for interrupts) with stdout on a pipe and stderr on a pipe, or on
    a terminal of its own the size of SIZE_FROM's, else of our stderr's (TTY: BuildKit
    draws its live display)."""
    key = (list(argv), dict(env), cwd, tty)
    if not tty:
        kw: dict[str, Any] = {"stderr": subprocess.PIPE, "text": True, "errors": "replace"}
        return Started(interrupt.popen(argv, stdout=subprocess.PIPE, env=dict(env), cwd=cwd, **kw), None, key)
    import pty

    master, slave = pty.openpty()
    _copy_window_size(size_from or sys.stderr, slave)
    try:
        proc = interrupt.popen(argv, stdout=subprocess.PIPE, stderr=slave, env=dict(env), cwd=cwd)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return Started(proc, master, key)


def _copy_window_size(stream: Any, fd: int) -> None:
    """FD (a terminal) gets STREAM's window size (80x24 when STREAM is no terminal)."""
    import fcntl
    import struct
    import termios

    size = struct.pack("HHHH", 24, 80, 0, 0)
    with contextlib.suppress(OSError, AttributeError, ValueError):
        size = fcntl.ioctl(stream.fileno(), termios.TIOCGWINSZ, size)
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)


def run_program(argv: Sequence[str], cwd: Path | str | None, timeout: float) -> tuple[int, str, str] | None:
    """Run ARGV (never through a shell, in its own process group: an interrupt stops it);
    None if it cannot start, does not finish in TIMEOUT or prints more than OUTPUT_LIMIT
    bytes on either stream (it is killed then: a runaway command cannot fill memory)."""
    try:
        with interrupt.tracked(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            got: list[bytes] = [b"", b""]

            def read(i: int, stream: Any) -> None:
                got[i] = stream.read(OUTPUT_LIMIT + 1)
                if len(got[i]) > OUTPUT_LIMIT:
                    interrupt.kill_group(proc)

            readers = [threading.Thread(target=read, args=(i, s), daemon=True) for i, s in enumerate(_pipes(proc))]
            for reader in readers:
                reader.start()
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
            for reader in readers:
                reader.join(timeout=5)
    except OSError:
        return None
    if any(len(g) > OUTPUT_LIMIT for g in got):
        return None
    return code, got[0].decode(errors="replace"), got[1].decode(errors="replace")


def _pipes(proc: subprocess.Popen[Any]) -> tuple[Any, Any]:
    return proc.stdout, proc.stderr
