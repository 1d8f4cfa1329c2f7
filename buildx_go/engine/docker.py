"""The only module that runs docker.

``Executor`` is the seam: the runner hands it argv lists (never shell strings) and gets
text back or a BuildxGoError; tests replace it. Builders are created by a planned command
too (``docker buildx create``), so plan and --dry-run show it and run nothing.
"""

from __future__ import annotations

import collections
import contextlib
import io
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

from buildx_go.engine import interrupt, spawn
from buildx_go.engine.builder import Builder, Engine, Preflight, parse_builders, parse_inspect
from buildx_go.engine.stamps import FACTS_TTL, facts_file, facts_stamp, host_emulators
from buildx_go.errors import BuildxGoError, EngineError
from buildx_go.tty import isatty

TAIL_LINES = 80  # enough for BuildKit's summary of the failing step and its excerpt
TAIL_BYTES = 16384
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def plain_text(data: bytes) -> str:
    """What a terminal display said, without its escape codes and carriage returns."""
    return _TERMINAL_CODES.sub("", data.decode(errors="replace"))


def lines_of(stream: Any) -> Iterator[str]:
    """STREAM's lines (a text pipe), ended by a newline only: a carriage return a step
    printed stays inside its line (BuildKit prefixes each line of a step's output)."""
    with io.TextIOWrapper(stream.buffer, encoding="utf-8", errors="replace", newline="\n") as source:
        yield from source


def _drain(proc: Any, each: Callable[[str], None]) -> tuple[int, str, str]:
    """PROC (text pipes) read to its end: stdout whole, in a thread; stderr line by line, each
    given to EACH. (exit code, stdout, stderr's last TAIL_LINES lines)."""
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else ""), daemon=True)
    reader.start()
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    for line in lines_of(proc.stderr):
        tail.append(line)
        each(line)
    code = proc.wait()
    reader.join()
    return code, "".join(out), "".join(tail)


def error_block(progress: str) -> str:
    """What `--progress quiet` would have shown of PROGRESS (plain, a failed build's tail):
    BuildKit's excerpt of the failed step and buildx's ERROR line (its last lines else)."""
    lines = progress.split("\n")  # as lines_of reads them: a step's carriage return stays inside its line
    start = next((i for i, line in enumerate(lines) if line.startswith(("------", "ERROR"))), None)
    return "\n".join(lines[start:] if start is not None else lines[-11:])


def _classify(argv: Sequence[str], code: int, stderr: str, purpose: str) -> BuildxGoError:
    """engine.failures.classify, imported only once a command has failed."""
    from buildx_go.engine.failures import classify

    return classify(argv, code, stderr, purpose)


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
        on_output: Callable[[str], None] | None = None,
    ) -> str:
        """Run ARGV (with ENV added); return its stdout or raise a BuildxGoError.
        STREAM: show its stderr to the user as it comes, each line prefixed with LABEL.
        ON_START is called once the process runs (to use the wait). TERMINAL (never | auto |
        always): give its stderr a terminal of its own (auto: when ours is one). ON_OUTPUT
        is given its stderr's text as it comes (a terminal's without its escape codes)."""
        ...

    def probe(self, argv: Sequence[str], *, purpose: str = "docker") -> tuple[int, str, str]:
        """Run ARGV; return (exit code, stdout, stderr) whatever the exit code."""
        ...


class DockerExecutor:
    """Runs docker: argv lists only, ENV added to this process's environment.

    A plain subprocess runner in python-on-whales' manner (its ``utils.run``); buildx-go
    does not use python-on-whales itself (DEVELOPMENT.md: "Why not python-on-whales").
    """

    def __init__(self, env: Mapping[str, str] | None = None, echo: TextIO | None = None) -> None:
        from buildx_go.ci import detect

        self.env = dict(env or {})
        self.echo = echo or sys.stderr
        self.ci = detect(self.env)
        self.buildx_path = spawn.find_buildx(self._env(None))  # the buildx plugin's binary (docker info confirms)

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
        on_output: Callable[[str], None] | None = None,
    ) -> str:
        try:
            if not stream:
                if on_start:
                    on_start()
                code, out, err = self._capture(argv, env, cwd, on_output)
                if code != 0 and on_output:  # BuildKit's progress was read, not shown: what quiet shows
                    err = error_block(err)
                    self.echo.write(err)
                    self.echo.flush()
                if code != 0:
                    raise _classify(argv, code, err, purpose)
                return out
            with self._group(purpose, argv, grouped=label is None):
                if terminal == "always" or (terminal == "auto" and isatty(self.echo)):
                    return self._stream_tty(argv, purpose, env, on_start, cwd, on_output)
                prefix = f"[{label}] " if label else ""
                return self._stream(argv, purpose, env, prefix, on_start, cwd, on_output)
        except FileNotFoundError:
            raise EngineError(
                f"{argv[0]}: command not found", "install the Docker CLI (docker-ce-cli, or Debian's docker.io)"
            ) from None

    @contextlib.contextmanager
    def _group(self, purpose: str, argv: Sequence[str], grouped: bool) -> Iterator[None]:
        """In CI, one command's streamed output folds into a collapsible group (side-by-side
        builds interleave, so they stay as they are)."""
        if self.ci is None or not grouped:
            yield
            return
        key = "buildx_go_" + re.sub(r"\W+", "_", purpose)
        from buildx_go.log import activate

        activate()  # the events so far are printed before the group, not folded into it
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
        on_output: Callable[[str], None] | None = None,
    ) -> str:
        """Show stderr (BuildKit's progress) as it comes; keep stdout and stderr's tail."""
        started = self._start(argv, env, cwd, tty=False)
        with interrupt.owned(started.proc) as proc:
            if on_start:
                on_start()

            def show(line: str) -> None:
                self.echo.write(prefix + line)
                self.echo.flush()
                if on_output:
                    on_output(line)

            code, out, tail = _drain(proc, show)
        if code != 0:
            raise _classify(argv, code, tail, purpose)
        return out

    def _stream_tty(
        self,
        argv: Sequence[str],
        purpose: str,
        env: Mapping[str, str] | None,
        on_start: Callable[[], None] | None,
        cwd: str | None,
        on_output: Callable[[str], None] | None = None,
    ) -> str:
        """Give the command's stderr a pseudo-terminal of its own (the size of ours), so that
        BuildKit draws its live display, and pass what it draws on byte for byte; keep the
        tail (without terminal codes) to say what went wrong."""
        started = self._start(argv, env, cwd, tty=True)
        assert started.master is not None
        try:
            with interrupt.owned(started.proc) as proc:
                if on_start:
                    on_start()
                out: list[bytes] = []
                reader = threading.Thread(
                    target=lambda: out.append(proc.stdout.read() if proc.stdout else b""), daemon=True
                )
                reader.start()
                tail = self._pass_through(started.master, on_output)
                code = proc.wait()
                reader.join()
        finally:
            os.close(started.master)
        if code != 0:
            raise _classify(argv, code, plain_text(bytes(tail)), purpose)
        return b"".join(out).decode(errors="replace")

    def _start(self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None, tty: bool) -> spawn.Started:
        """ARGV started (buildx as its plugin binary, when known)."""
        exec_argv = spawn.direct(argv, self.buildx_path)
        return spawn.spawn(exec_argv, spawn.child_env(self._env(env), exec_argv), cwd, tty, size_from=self.echo)

    def _pass_through(self, master: int, on_output: Callable[[str], None] | None = None) -> bytearray:
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
            if on_output:
                on_output(plain_text(chunk))
        return tail

    def probe(self, argv: Sequence[str], *, purpose: str = "docker") -> tuple[int, str, str]:
        try:
            return self._capture(argv, None, None)
        except FileNotFoundError:
            return 127, "", "docker: command not found"

    def _capture(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
        on_output: Callable[[str], None] | None = None,
    ) -> tuple[int, str, str]:
        """Exit code, stdout and stderr; ON_OUTPUT given each line of stderr as it comes."""
        argv = spawn.direct(argv, self.buildx_path)
        with interrupt.tracked(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=spawn.child_env(self._env(env), argv),
            cwd=cwd,
        ) as proc:
            if on_output is None:
                out, err = proc.communicate()
                return proc.returncode, out, err
            return _drain(proc, on_output)


def gather_preflight(
    executor: Executor,
    env: Mapping[str, str],
    builder: str | None,
    *,
    emulators: set[str] | None = None,
    cache_dir: str | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> Preflight:
    """Facts about the engine, buildx and its builders: `docker info`, `buildx ls` and `buildx
    inspect` (the builder's name and its nodes' declared platforms), run side by side. With CACHE_DIR, the
    answers are reused while nothing they depend on has changed (see ``facts_stamp``).
    MEANWHILE runs while docker answers (what the run will need next is imported then)."""
    stamp = facts_stamp(env, builder)
    cache = Path(facts_file(cache_dir, stamp)) if cache_dir and stamp else None
    raw = _read_cache(cache, stamp) if cache and stamp else None
    if raw is None:
        from concurrent.futures import ThreadPoolExecutor  # answers reused: not imported

        which = [builder] if builder else ([env["BUILDX_BUILDER"]] if env.get("BUILDX_BUILDER") else [])
        buildx = {
            "ls": (["docker", "buildx", "ls", "--format", "json"], "builder list"),
            "inspect": (["docker", "buildx", "inspect", *which], "builder nodes"),
        }
        with ThreadPoolExecutor(4) as pool:
            info = pool.submit(executor.probe, ["docker", "info", "--format", "json"], purpose="engine info")
            asked = {k: pool.submit(executor.probe, argv, purpose=why) for k, (argv, why) in buildx.items()}
            nets = pool.submit(executor.probe, ["docker", "network", "ls", "--format", "{{.Name}}"], purpose="networks")
            if meanwhile:
                meanwhile()
            raw = {"info": list(info.result()), "networks": list(nets.result())}
            raw.update({k: list(f.result()) for k, f in asked.items()})
        guessed = getattr(executor, "buildx_path", None)  # the real executor finds it first (spawn.find_buildx)
        reported = preflight_from(raw, env, builder, ()).buildx_path
        if guessed and reported and reported != guessed:  # the docker CLI found another one: ask it
            executor.buildx_path = reported  # type: ignore[attr-defined]
            raw.update({k: list(executor.probe(argv, purpose=why)) for k, (argv, why) in buildx.items()})
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
    context = env.get("DOCKER_CONTEXT")  # docker --context X buildxgo passes it so
    host = env.get("DOCKER_HOST", "") or (f"context {context}" if context else "")
    if info_code == 127:
        return Preflight(Engine(host or "?", "docker CLI missing"), None, None, (), builder, emus, info_err.strip())
    try:
        engine, buildx, buildx_path = Engine.from_info(host, info_out, _last_line(info_err) if info_code else None)
    except ValueError:
        engine = Engine(host or "?", _last_line(info_err) or "unreadable `docker info`")
        buildx = buildx_path = None
    nets_code, nets_out, _ = raw.get("networks") or (1, "", "")
    if nets_code == 0 and engine.reachable:  # `bridge: none` in daemon.json: no bridge network at all
        engine = attrs.evolve(engine, bridge="bridge" in nets_out.split())
    buildx_error = None
    builders: tuple[Builder, ...] = ()
    if buildx is None and '"ClientInfo"' not in info_out:  # e.g. "Failed to initialize": a context not found
        buildx_error = "not checked: the docker CLI did not start (see the engine's line)"
    elif buildx is None:
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
    path = buildx_path if buildx is not None else None
    return Preflight(engine, buildx, buildx_error, builders, builder, emus, buildx_path=path)


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
