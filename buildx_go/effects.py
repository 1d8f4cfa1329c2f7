"""The world outside the pure core, one seam each, passed in from ``cli.main``.

docker (an Executor per environment), the registry (a RegistryClient per environment),
git, the host's Go toolchain, commands a project names (``--version-from``) and the
filesystem. ``Effects()`` is the real world; tests give fakes for any of them. The decision
and plan modules import none of this: the shell (facts.py, run.py) uses them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs

from buildx_go import early
from buildx_go.early import cache_dir as cache_dir  # where it always was, for the shell
from buildx_go.errors import InputError
from buildx_go.spawn import run_program
from buildx_go.stamps import FILE_LIMIT

T = TypeVar("T")

if TYPE_CHECKING:
    from buildx_go.docker import Executor
    from buildx_go.hostgo import HostGo
    from buildx_go.registry import RegistryClient


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


def _docker(env: Mapping[str, str]) -> Executor:
    from buildx_go.docker import DockerExecutor

    return DockerExecutor(env)


def _registry(env: Mapping[str, str]) -> RegistryClient:
    from buildx_go.registry import RegistryClient

    return RegistryClient(env)


def _host_go(env: Mapping[str, str], cache: str | None) -> HostGo | None:
    from buildx_go.facts import find_host_go

    return find_host_go(env, cache)


@attrs.frozen
class Effects:
    docker: Callable[[Mapping[str, str]], Executor] = _docker
    registry: Callable[[Mapping[str, str]], RegistryClient] = _registry
    git: Runner = run_program
    program: Runner = run_program  # commands the user names (--version-from)
    host_go: Callable[[Mapping[str, str], str | None], HostGo | None] = _host_go
    files: Files = attrs.field(factory=LocalFiles)


def work_dir(env: Mapping[str, str], root: Path) -> str:
    """BUILDX_GO_WORKDIR, else a new directory in $TMPDIR; never inside the project (the
    generated files would overwrite its own, and be sent in its build context)."""
    given = env.get("BUILDX_GO_WORKDIR")
    if not given:
        return early.workdir() or early.default_workdir()  # the early build's, if one started
    resolved, project = Path(given).resolve(), root.resolve()
    if resolved == project or project in resolved.parents:
        raise InputError(
            f"BUILDX_GO_WORKDIR: {given!r} is inside the project {str(project)!r}", "choose a directory outside it"
        )
    return given


class RecordedFiles:
    """FILES, each question seen by REC first (early.py: what a plan depended on)."""

    def __init__(self, files: Files, rec: early.Recorder) -> None:
        self.files, self.rec = files, rec

    def read_text(self, path: Path, *, head: bool = False) -> str:
        self.rec.see("text", path)
        return self.files.read_text(path, head=head)

    def read_bytes(self, path: Path, limit: int) -> bytes:
        self.rec.see("text", path)
        return self.files.read_bytes(path, limit)

    def is_file(self, path: Path) -> bool:
        self.rec.see("kind", path)
        return self.files.is_file(path)

    def is_dir(self, path: Path) -> bool:
        self.rec.see("kind", path)
        return self.files.is_dir(path)

    def is_link(self, path: Path) -> bool:
        self.rec.see("kind", path)
        return self.files.is_link(path)

    def exists(self, path: Path) -> bool:
        self.rec.see("kind", path)
        return self.files.exists(path)

    def iterdir(self, path: Path) -> Iterator[Path]:
        self.rec.see("list", path)
        return self.files.iterdir(path)


def recorded(effects: Effects, rec: early.Recorder) -> Effects:
    """EFFECTS with what the plan asks of them recorded in REC; a run that asks the user's
    commands or the host's Go before its build is not repeated early. (The registry's tags,
    read for --latest, only decide the moving tags, which every run decides afresh.)"""

    def refusing(why: str, inner: Callable[..., T]) -> Callable[..., T]:
        def call(*args: Any) -> T:
            if not rec.spawned:
                rec.refuse(why)
            return inner(*args)

        return call

    return attrs.evolve(
        effects,
        files=RecordedFiles(effects.files, rec),
        git=rec.runner(effects.git),
        program=refusing("a --version-from command ran", effects.program),
        host_go=refusing("the host's Go was asked", effects.host_go),
    )
