"""The world outside the pure core, one seam each, passed in from ``cli.main``.

docker (an Executor per environment), the registry (a RegistryClient per environment),
git, the host's Go toolchain, commands a project names (``--version-from``) and the
filesystem. ``Effects()`` is the real world; tests give fakes for any of them. The decision
and plan modules import none of this: the shell (facts.py, run.py) uses them.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import attrs

from buildx_go.errors import InputError

if TYPE_CHECKING:
    from buildx_go.docker import Executor
    from buildx_go.hostgo import HostGo
    from buildx_go.registry import RegistryClient


FILE_LIMIT = 1 << 20  # bytes: a go.mod, Dockerfile, ignore or config file larger is refused


class Files(Protocol):
    """What is read from the project (and its config file)."""

    def read_text(self, path: Path, *, head: bool = False) -> str:
        """PATH's text: a regular file (symlinks followed) of at most FILE_LIMIT bytes, UTF-8
        (a BOM dropped; Latin-1 kept as such where UTF-8 fails); HEAD: only its first
        FILE_LIMIT bytes, however large it is (Go sources: what matters is at the top).
        Anything else is InputError naming the path."""
        ...

    def read_bytes(self, path: Path, limit: int) -> bytes:
        """The first LIMIT bytes of PATH, a regular file (symlinks followed), else InputError."""
        ...

    def is_file(self, path: Path) -> bool: ...

    def is_dir(self, path: Path) -> bool: ...

    def is_link(self, path: Path) -> bool: ...

    def exists(self, path: Path) -> bool:
        """Whether anything is at PATH (a dangling symlink counts: reading it says what is wrong)."""
        ...

    def iterdir(self, path: Path) -> Iterator[Path]: ...


class LocalFiles:
    def read_bytes(self, path: Path, limit: int) -> bytes:
        import stat

        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a directory, a FIFO, a device (/dev/zero behind a link)
            os.close(fd)
            raise InputError(f"{path}: not a regular file")
        with os.fdopen(fd, "rb") as f:
            return f.read(limit)

    def read_text(self, path: Path, *, head: bool = False) -> str:
        data = self.read_bytes(path, FILE_LIMIT + 1)
        if len(data) > FILE_LIMIT:
            if not head:
                raise InputError(f"{path}: larger than {FILE_LIMIT >> 20} MiB", "is it the file you meant?")
            data = data[:FILE_LIMIT]
        data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")

    def is_file(self, path: Path) -> bool:
        return path.is_file()

    def is_dir(self, path: Path) -> bool:
        return path.is_dir()

    def is_link(self, path: Path) -> bool:
        return path.is_symlink()

    def exists(self, path: Path) -> bool:
        return os.path.lexists(path)

    def iterdir(self, path: Path) -> Iterator[Path]:
        try:
            return iter(sorted(path.iterdir()))
        except OSError as exc:
            raise InputError(f"{path}: cannot be listed ({exc.strerror or exc})") from None


# argv -> (exit code, stdout, stderr); None when the program could not be started.
Runner = Callable[[Sequence[str], Path | None, float], tuple[int, str, str] | None]


OUTPUT_LIMIT = 1 << 20  # bytes kept of a program's stdout and of its stderr


def run_program(argv: Sequence[str], cwd: Path | None, timeout: float) -> tuple[int, str, str] | None:
    """Run ARGV (never through a shell, in its own process group: an interrupt stops it);
    None if it cannot start, does not finish in TIMEOUT or prints more than OUTPUT_LIMIT
    bytes on either stream (it is killed then: a runaway command cannot fill memory)."""
    from buildx_go import interrupt

    try:
        with interrupt.tracked(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            streams = [proc.stdout, proc.stderr]
            got: list[bytes] = [b"", b""]

            def read(i: int) -> None:
                stream = streams[i]
                assert stream is not None
                got[i] = stream.read(OUTPUT_LIMIT + 1)
                if len(got[i]) > OUTPUT_LIMIT:
                    interrupt.kill_group(proc)

            readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in (0, 1)]
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


def _docker(env: Mapping[str, str]) -> Executor:
    from buildx_go.docker import DockerExecutor

    return DockerExecutor(env)


def _registry(env: Mapping[str, str]) -> RegistryClient:
    from buildx_go.registry import RegistryClient

    return RegistryClient(env)


def _host_go(env: Mapping[str, str], cache_dir: str | None) -> HostGo | None:
    from buildx_go.facts import find_host_go

    return find_host_go(env, cache_dir)


@attrs.frozen
class Effects:
    docker: Callable[[Mapping[str, str]], Executor] = _docker
    registry: Callable[[Mapping[str, str]], RegistryClient] = _registry
    git: Runner = run_program
    program: Runner = run_program  # commands the user names (--version-from)
    host_go: Callable[[Mapping[str, str], str | None], HostGo | None] = _host_go
    files: Files = attrs.field(factory=LocalFiles)


def cache_dir(env: Mapping[str, str]) -> str:
    """buildx-go's cache directory: $XDG_CACHE_HOME/buildx-go, else ~/.cache/buildx-go."""
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "buildx-go")


def work_dir(env: Mapping[str, str], root: Path) -> str:
    """BUILDX_GO_WORKDIR, else a new directory in $TMPDIR; never inside the project (the
    generated files would overwrite its own, and be sent in its build context)."""
    given = env.get("BUILDX_GO_WORKDIR")
    if not given:
        return os.path.join(tempfile.gettempdir(), f"buildx-go-{os.getpid()}-{int(time.time())}")
    resolved, project = Path(given).resolve(), root.resolve()
    if resolved == project or project in resolved.parents:
        raise InputError(
            f"BUILDX_GO_WORKDIR: {given!r} is inside the project {str(project)!r}", "choose a directory outside it"
        )
    return given
