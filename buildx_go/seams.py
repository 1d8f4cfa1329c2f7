"""What the pure core is given to look at the world through: the Files it reads a project
with (and the local implementation), and the Runner signature of the programs it asks (git,
a --version-from command). cli/effects.py assembles the real ones; tests give fakes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from buildx_go.errors import InputError

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
