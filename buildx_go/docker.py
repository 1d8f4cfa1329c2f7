"""The only module that runs docker.

``Executor`` is the seam: the runner hands it argv lists (never shell strings) and gets
text back or a BuildxGoError; tests replace it. Builders are created by a planned command
too (``docker buildx create``), so plan and --dry-run show it and run nothing.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import attrs

from buildx_go import interrupt
from buildx_go.builder import Builder, Engine, Preflight, parse_builders, parse_inspect
from buildx_go.errors import EngineError
from buildx_go.failures import classify

TAIL_LINES = 80  # enough for BuildKit's summary of the failing step and its excerpt
TAIL_BYTES = 16384
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def plain_text(data: bytes) -> str:
    """What a terminal display said, without its escape codes and carriage returns."""
    return _TERMINAL_CODES.sub("", data.decode(errors="replace"))


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _copy_window_size(stream: TextIO, fd: int) -> None:
    """The pseudo-terminal FD gets STREAM's window size (80x24 when STREAM is no terminal)."""
    import fcntl
    import struct
    import termios

    size = struct.pack("HHHH", 24, 80, 0, 0)
    with contextlib.suppress(OSError, AttributeError, ValueError):
        size = fcntl.ioctl(stream.fileno(), termios.TIOCGWINSZ, size)
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)


class Executor(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        stream: bool = False,
        purpose: str = "docker",
        env: Mapping[str, str] | None = None,
        label: str | None = None,
        on_start: Callable[[], None] | None = None,
        cwd: str | None = None,
        terminal: str = "never",
    ) -> str:
        """Run ARGV (with ENV added); return its stdout or raise a BuildxGoError.
        STREAM: show its stderr to the user as it comes, each line prefixed with LABEL.
        ON_START is called once the process runs (to use the wait). TERMINAL (never | auto |
        always): give its stderr a terminal of its own (auto: when ours is one)."""
        ...

    def probe(self, argv: Sequence[str], *, purpose: str = "docker") -> tuple[int, str, str]:
        """Run ARGV; return (exit code, stdout, stderr) whatever the exit code."""
        ...


class DockerExecutor:
    """Runs docker: argv lists only, ENV added to this process's environment.

    A plain subprocess runner in python-on-whales' manner (its ``utils.run``); buildx-go
    does not use python-on-whales itself (README: "Why not python-on-whales").
    """

    def __init__(self, env: Mapping[str, str] | None = None, echo: TextIO | None = None) -> None:
        from buildx_go.ci import detect

        self.env = dict(env or {})
        self.echo = echo or sys.stderr
        self.ci = detect(self.env)

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**os.environ, **self.env, **(extra or {})}

    def run(
        self,
        argv: Sequence[str],
        *,
        stream: bool = False,
        purpose: str = "docker",
        env: Mapping[str, str] | None = None,
        label: str | None = None,
        on_start: Callable[[], None] | None = None,
        cwd: str | None = None,
        terminal: str = "never",
    ) -> str:
        try:
            if not stream:
                if on_start:
                    on_start()
                code, out, err = self._capture(argv, env, cwd)
                if code != 0:
                    raise classify(argv, code, err, purpose)
                return out
            with self._group(purpose, argv, grouped=label is None):
                if terminal == "always" or (terminal == "auto" and _isatty(self.echo)):
                    return self._stream_tty(argv, purpose, env, on_start, cwd)
                return self._stream(argv, purpose, env, f"[{label}] " if label else "", on_start, cwd)
        except FileNotFoundError:
            raise EngineError(f"{argv[0]}: command not found", "install the Docker CLI (scripts/setup does)") from None

    @contextlib.contextmanager
    def _group(self, purpose: str, argv: Sequence[str], grouped: bool) -> Iterator[None]:
        """In CI, one command's streamed output folds into a collapsible group (side-by-side
        builds interleave, so they stay as they are)."""
        if self.ci is None or not grouped:
            yield
            return
        key = "buildx_go_" + re.sub(r"\W+", "_", purpose)
        self.echo.write(self.ci.group_start(f"{' '.join(argv[:3])} ({purpose})", key))
        self.echo.flush()
        try:
            yield
        finally:
            self.echo.write(self.ci.group_end(key))
            self.echo.flush()

    def _stream(
        self,
        argv: Sequence[str],
        purpose: str,
        env: Mapping[str, str] | None,
        prefix: str,
        on_start: Callable[[], None] | None,
        cwd: str | None = None,
    ) -> str:
        """Show stderr (BuildKit's progress) as it comes; keep stdout and stderr's tail."""
        with interrupt.tracked(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._env(env),
            text=True,
            errors="replace",
            cwd=cwd,
        ) as proc:
            if on_start:
                on_start()
            out: list[str] = []
            reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else ""), daemon=True)
            reader.start()
            tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
            assert proc.stderr is not None
            for line in proc.stderr:
                tail.append(line)
                self.echo.write(prefix + line)
                self.echo.flush()
            code = proc.wait()
            reader.join()
        if code != 0:
            raise classify(argv, code, "".join(tail), purpose)
        return "".join(out)

    def _stream_tty(
        self,
        argv: Sequence[str],
        purpose: str,
        env: Mapping[str, str] | None,
        on_start: Callable[[], None] | None,
        cwd: str | None,
    ) -> str:
        """Give the command's stderr a pseudo-terminal of its own (the size of ours), so that
        BuildKit draws its live display, and pass what it draws on byte for byte; keep the
        tail (without terminal codes) to say what went wrong."""
        import pty

        master, slave = pty.openpty()
        _copy_window_size(self.echo, slave)
        try:
            with interrupt.tracked(argv, stdout=subprocess.PIPE, stderr=slave, env=self._env(env), cwd=cwd) as proc:
                os.close(slave)
                slave = -1
                if on_start:
                    on_start()
                out: list[bytes] = []
                reader = threading.Thread(
                    target=lambda: out.append(proc.stdout.read() if proc.stdout else b""), daemon=True
                )
                reader.start()
                tail = self._pass_through(master)
                code = proc.wait()
                reader.join()
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)
        if code != 0:
            raise classify(argv, code, plain_text(bytes(tail)), purpose)
        return b"".join(out).decode(errors="replace")

    def _pass_through(self, master: int) -> bytearray:
        """Copy what the command draws on its terminal to ours, byte for byte; its tail."""
        tail = bytearray()
        sink = getattr(self.echo, "buffer", None)
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command closed its terminal
                break
            if not chunk:
                break
            tail = (tail + chunk)[-TAIL_BYTES:]
            if sink is not None:
                sink.write(chunk)
            else:
                self.echo.write(chunk.decode(errors="replace"))
            self.echo.flush()
        return tail

    def probe(self, argv: Sequence[str], *, purpose: str = "docker") -> tuple[int, str, str]:
        try:
            return self._capture(argv, None, None)
        except FileNotFoundError:
            return 127, "", "docker: command not found"

    def _capture(self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None) -> tuple[int, str, str]:
        with interrupt.tracked(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self._env(env), cwd=cwd
        ) as proc:
            out, err = proc.communicate()
            return proc.returncode, out, err


def gather_preflight(
    executor: Executor,
    env: Mapping[str, str],
    builder: str | None,
    *,
    emulators: set[str] | None = None,
    cache_dir: str | None = None,
) -> Preflight:
    """Facts about the engine, buildx and its builders: `docker info`, `buildx ls` and `buildx
    inspect` (the builder's name and its nodes' declared platforms), run side by side. With CACHE_DIR, the
    answers are reused while nothing they depend on has changed (see ``facts_stamp``)."""
    from concurrent.futures import ThreadPoolExecutor

    stamp = facts_stamp(env, builder)
    cache = None
    if cache_dir and stamp:
        # One file per engine and builder choice (the stamp's first fields): a restarted
        # engine or a changed buildx config overwrites it instead of adding another.
        key = "|".join(stamp.split("|")[:FACTS_KEY_FIELDS])
        cache = Path(cache_dir) / f"facts-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    raw = _read_cache(cache, stamp) if cache and stamp else None
    if raw is None:
        with ThreadPoolExecutor(4) as pool:
            info = pool.submit(executor.probe, ["docker", "info", "--format", "json"], purpose="engine info")
            ls = pool.submit(executor.probe, ["docker", "buildx", "ls", "--format", "json"], purpose="builder list")
            which = [builder] if builder else ([env["BUILDX_BUILDER"]] if env.get("BUILDX_BUILDER") else [])
            inspect = pool.submit(executor.probe, ["docker", "buildx", "inspect", *which], purpose="builder nodes")
            nets = pool.submit(executor.probe, ["docker", "network", "ls", "--format", "{{.Name}}"], purpose="networks")
            raw = {"info": list(info.result()), "ls": list(ls.result()), "inspect": list(inspect.result())}
            raw["networks"] = list(nets.result())
        if cache and stamp and raw["info"][0] == 0 and raw["ls"][0] == 0:
            _write_cache(cache, stamp, raw)
    pre = preflight_from(raw, env, builder, tuple(sorted(host_emulators() if emulators is None else emulators)))
    return attrs.evolve(pre, cached=raw.get("cached", False))


def preflight_from(
    raw: dict[str, Any], env: Mapping[str, str], builder: str | None, emus: tuple[str, ...]
) -> Preflight:
    """Preflight from the probes' (exit code, stdout, stderr) answers."""
    info_code, info_out, info_err = raw["info"]
    ls_code, ls_out, ls_err = raw["ls"]
    host = env.get("DOCKER_HOST", "")
    if info_code == 127:
        return Preflight(Engine(host or "?", "docker CLI missing"), None, None, (), builder, emus, info_err.strip())
    try:
        engine, buildx = Engine.from_info(host, info_out, _last_line(info_err) if info_code else None)
    except ValueError:
        engine, buildx = Engine(host or "?", _last_line(info_err) or "unreadable `docker info`"), None
    nets_code, nets_out, _ = raw.get("networks") or (1, "", "")
    if nets_code == 0 and engine.reachable:  # `bridge: none` in daemon.json: no bridge network at all
        engine = attrs.evolve(engine, bridge="bridge" in nets_out.split())
    buildx_error = None
    builders: tuple[Builder, ...] = ()
    if buildx is None:
        buildx_error = "the docker buildx plugin is missing (the docker CLI lists no buildx plugin)"
    elif ls_code != 0:
        buildx, buildx_error = None, ls_err.strip().splitlines()[0] if ls_err.strip() else f"exit code {ls_code}"
    else:
        inspect_code, inspect_out, _ = raw.get("inspect") or (1, "", "")
        named, declared = parse_inspect(inspect_out) if inspect_code == 0 else (None, {})
        current = env.get("BUILDX_BUILDER") or raw.get("current") or (named if builder is None else None)
        builders = tuple(
            b.with_declared(declared) if b.name == (builder or current) else b for b in parse_builders(ls_out, current)
        )
    return Preflight(engine, buildx, buildx_error, builders, builder, emus)


FACTS_TTL = 3600.0


FACTS_KEY_FIELDS = 4  # host, builder, BUILDX_BUILDER, docker config dir: what a cache file is for


def facts_stamp(env: Mapping[str, str], builder: str | None) -> str | None:
    """What cached builder facts depend on, or None when that cannot be told cheaply.

    Only for a local engine socket: restarting the engine (the only way to change its image
    store) recreates the socket, and creating, removing or switching builders touches the
    buildx config. Remote engines, contexts and tcp hosts are always asked afresh."""
    host = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://") or env.get("DOCKER_CONTEXT"):
        return None
    config = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or Path.home()) / ".docker")
    parts = [host, str(builder), env.get("BUILDX_BUILDER", ""), str(config)]
    try:
        sock = os.stat(host.removeprefix("unix://"))
        parts.append(f"{sock.st_ino}:{sock.st_ctime_ns}")
        config_json = config / "config.json"
        if config_json.is_file() and '"currentContext"' in config_json.read_text():
            return None
        buildx_dir = config / "buildx"
        current = buildx_dir / "current"  # rewritten often: its content is what counts
        parts.append(current.read_text() if current.is_file() else "-")
        watched = [config_json, buildx_dir / "instances"]
        for path in watched + sorted(buildx_dir.glob("instances/*")):
            parts.append(f"{path.name}:{path.stat().st_mtime_ns}" if path.exists() else f"{path.name}:-")
    except OSError:
        return None
    return "|".join(parts)


def _read_cache(path: Path, stamp: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("stamp") != stamp or time.time() - float(data.get("time", 0)) > FACTS_TTL:
        return None
    raw: dict[str, Any] = data["raw"]
    raw["cached"] = True
    return raw


def _write_cache(path: Path, stamp: str, raw: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"stamp": stamp, "time": time.time(), "raw": raw}))
        tmp.replace(path)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def host_emulators(binfmt_dir: str = "/proc/sys/fs/binfmt_misc") -> set[str]:
    """QEMU emulators registered with this host's binfmt_misc (qemu-aarch64, qemu-arm, ...)."""
    from pathlib import Path

    try:
        return {p.name for p in Path(binfmt_dir).glob("qemu-*") if "enabled" in p.read_text()}
    except OSError:
        return set()
