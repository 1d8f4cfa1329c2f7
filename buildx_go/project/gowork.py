"""go.work as go reads it, and as the build will see it (pure but for the files it reads).

A go.work at the module root goes into the build context with everything else, and go
uses it in the Go stage (GOWORK unset means "look for one"). What go would refuse there is
refused before the engine is asked: its syntax (modfile.ParseWork: go, toolchain, godebug,
use and replace only), a `use` folder without go.mod, or outside the build context (the
build sees only the project), the module itself not used, a module used twice, and a go
line older than a used module's (go asks for `go work use` then).
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import attrs
from packaging.version import Version

from buildx_go.errors import InputError
from buildx_go.project.gomod import BLOCKS, GoModule, _comparable, _directives, check_shared
from buildx_go.seams import Files

HINT = "fix go.work (`go work use` helps), or leave it out of the build context in .dockerignore"


@attrs.frozen
class GoWork:
    """What go.work says: its go version and the folders it uses (line, path as written)."""

    go: Version | None
    uses: tuple[tuple[int, str], ...]

    @classmethod
    def from_text(cls, text: str, filename: str = "go.work") -> GoWork:
        """Parse go.work TEXT as modfile.ParseWork does; InputError naming FILENAME:LINE."""
        go = None
        seen: set[str] = set()
        uses: list[tuple[int, str]] = []
        for lineno, verb, args, line in _directives(text, filename, (*BLOCKS, "use")):

            def bad(why: str, line: str = line, lineno: int = lineno) -> InputError:
                return InputError(f"{filename}:{lineno}: {why}: {line!r}", HINT)

            if verb in ("go", "toolchain"):
                if verb in seen:
                    raise bad(f"repeated {verb} statement")
                seen.add(verb)
            if check_shared(verb, args, bad):
                go = _comparable(args[0]) if verb == "go" else go
            elif verb == "use":
                if len(args) != 1:
                    raise bad("usage: use local/dir")
                uses.append((lineno, args[0]))
            else:
                raise bad(f"unknown directive {verb!r}")
        return cls(go, tuple(uses))


def check_work(root: Path, fs: Files, module: GoModule) -> GoWork | None:
    """ROOT's go.work (ROOT: the build context, whose go.mod is MODULE) checked as go will
    use it in the build; None when there is none. InputError for what go would refuse."""
    path = root / "go.work"
    if not fs.is_file(path):
        return None
    work = GoWork.from_text(fs.read_text(path), str(path))
    used: dict[str, str] = {}
    for lineno, written in work.uses:
        where = f"{path}:{lineno}: use {written}"
        rel = posixpath.normpath(written)
        if posixpath.isabs(rel) or rel == ".." or rel.startswith("../"):
            raise InputError(
                f"{where}: outside the build context {root} (the build sees only that folder)",
                "keep the modules it uses inside the project, or leave go.work out in .dockerignore",
            )
        gomod = root / rel / "go.mod"
        if not fs.is_file(gomod):
            raise InputError(f"{where}: no go.mod in {root / rel}", HINT)
        mod = module if rel == "." else GoModule.from_text(fs.read_text(gomod), str(gomod))
        if mod.path in used:
            raise InputError(f"{where}: module {mod.path} is used twice (also {used[mod.path]})", HINT)
        used[mod.path] = written
        if mod.go and (work.go is None or work.go < mod.go):
            said = f"go {work.go}" if work.go else "no go line"
            raise InputError(f"{where}: the module needs go >= {mod.go}, but go.work has {said}", HINT)
    if module.path not in used:
        raise InputError(
            f"{path}: does not use the module {module.path} ({root}) it builds", "add `use .` (go work use .)"
        )
    return work
