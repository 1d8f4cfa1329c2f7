"""The folders a run will write to, looked at (lstat only) before the engine is asked: a
folder that cannot be made or written is reported by name first, not after a build."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from buildx_go.errors import EngineError, InputError


def unusable_folder(path: Path) -> str | None:
    """Why PATH cannot be a folder buildx-go makes or writes in, or None: a component on the
    way that exists as something else than a directory, or a directory without write access."""
    here = path
    while True:
        try:
            st = os.stat(here)
        except (FileNotFoundError, NotADirectoryError):  # not there yet (or below a file: seen above)
            if here.parent == here:
                return None
            here = here.parent
            continue
        except OSError as exc:  # a symlink loop, a name too long, a component without access
            return f"{here}: {exc.strerror}"
        if not stat.S_ISDIR(st.st_mode):
            return f"{here}: exists and is not a directory"
        if not os.access(here, os.W_OK | os.X_OK):
            return f"{here}: cannot be written"
        return None


def check_cache_folder(cache: str) -> None:
    """buildx-go's cache folder (XDG_CACHE_HOME or ~/.cache): the machine's, so exit 3."""
    why = unusable_folder(Path(cache))
    if why:
        raise EngineError(f"cache folder: {why}", "set XDG_CACHE_HOME to a folder you can write")


def check_workdir(given: str | None) -> None:
    """BUILDX_GO_WORKDIR, when given: a folder buildx-go can make or write in."""
    why = unusable_folder(Path(given)) if given else None
    if why:
        raise InputError(f"BUILDX_GO_WORKDIR: {why}", "choose a folder you can write, or unset it")


def check_inside(root: Path, relatives: Iterable[Path]) -> None:
    """Each ROOT/RELATIVE can be written inside the project without following a link: every
    existing component on the way a real directory, an existing file a regular file (what
    cli.bake.write_inside enforces when it writes, looked at before anything runs)."""
    for relative in relatives:
        here = root
        for n, part in enumerate(relative.parts):
            here = here / part
            try:
                st = os.lstat(here)
            except FileNotFoundError:
                break
            except OSError as exc:
                raise InputError(f"{here}: {exc.strerror}", f"remove or fix {here}") from None
            last = n == len(relative.parts) - 1
            if stat.S_ISLNK(st.st_mode):
                raise InputError(f"{here}: is a symlink; buildx-go writes only inside the project", f"remove {here}")
            if not last and not stat.S_ISDIR(st.st_mode):
                raise InputError(f"{here}: exists and is not a directory", f"remove or rename {here}")
            if last and not stat.S_ISREG(st.st_mode):
                raise InputError(f"{here}: exists and is not a regular file", f"remove or rename {here}")
