"""Does a main package need cgo? Its import graph, per target platform (pure).

A main needs cgo when a package it imports, directly or not, has a file that imports "C"
and is compiled for the target with cgo on (build constraints and tags honoured). The graph
is what can be read here: the project's own packages, vendor/ and the module cache
(GOMODCACHE) for the versions go.mod requires. An import found in none leaves the answer
"unknown" unless cgo was already found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import attrs

from buildx_go.project.constraints import Expr, Target, included

Verdict = Literal["yes", "no", "unknown"]
_IMPORT_LINE = re.compile(r'^\s*import\s+(?:[\w.]+\s+)?"([^"]+)"', re.M)
_IMPORT_BLOCK = re.compile(r"^\s*import\s*\((.*?)\)", re.M | re.S)
_SPEC = re.compile(r'^\s*(?:[\w.]+\s+)?"([^"]+)"', re.M)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = re.compile(r"//[^\n]*")


def strip_comments(source: str) -> str:
    """Go source without its /* */ and // comments (good enough for clauses and imports)."""
    return _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", source))


def imports(source: str) -> tuple[str, ...]:
    """The import paths of a Go file ("C" included), comments ignored."""
    text = strip_comments(source)
    found = [m.group(1) for m in _IMPORT_LINE.finditer(text)]
    for block in _IMPORT_BLOCK.finditer(text):
        found += [m.group(1) for m in _SPEC.finditer(block.group(1))]
    return tuple(dict.fromkeys(found))


@attrs.frozen
class GoFile:
    name: str  # file name (for _GOOS_GOARCH rules)
    path: str  # relative to the module root, for messages
    constraint: Expr | None = attrs.field(eq=False)
    imports: tuple[str, ...]


@attrs.frozen
class CgoAnswer:
    verdict: Verdict
    why: str  # the file that imports "C" (yes), or the import that could not be followed (unknown)


def strongest(answers: list[CgoAnswer]) -> CgoAnswer:
    """Several answers as one: the first yes, else the first unknown, else no."""
    for verdict in ("yes", "unknown"):
        for answer in answers:
            if answer.verdict == verdict:
                return answer
    return CgoAnswer("no", "")


def is_std(path: str) -> bool:
    """A standard library import: no dot in its first element ("net/http", not "github.com/...")."""
    return "." not in path.split("/", 1)[0]


def needs_cgo(main: str, packages: Mapping[str, tuple[GoFile, ...]] | ModuleCache, target: Target) -> CgoAnswer:
    """Whether package MAIN (an import path in PACKAGES) needs cgo for TARGET."""
    on = attrs.evolve(target, cgo=True)
    seen: set[str] = set()
    todo = [main]
    unknown: str | None = None
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        for f in packages.get(pkg, ()):
            if not included(f.name, f.constraint, on):
                continue
            if "C" in f.imports:
                return CgoAnswer("yes", f.path)
            for imp in f.imports:
                if imp in packages:
                    todo.append(imp)
                elif not is_std(imp) and unknown is None:
                    unknown = imp
    if unknown is not None:
        return CgoAnswer(
            "unknown", f"imports {unknown}, which is neither in the project, vendored nor in the module cache"
        )
    return CgoAnswer("no", "")


def escape_module(path: str) -> str:
    """The module cache's case encoding: an upper-case letter X becomes !x."""
    return "".join(f"!{c.lower()}" if c.isupper() else c for c in path)


class ModuleCache:
    """The packages of a project (KNOWN) plus, read on demand, those of the modules go.mod
    requires, from the module cache (GOMODCACHE) when they are there: the cgo import graph
    beyond the project without network or go."""

    def __init__(
        self,
        known: Mapping[str, tuple[GoFile, ...]],
        versions: tuple[tuple[str, str], ...],
        root: Path | None,
        read: Callable[[Path], tuple[GoFile, ...] | None],
    ) -> None:
        self.known = dict(known)
        self.versions = sorted(versions, key=lambda mv: -len(mv[0]))  # longest module path first
        self.root = root
        self.read = read

    def _load(self, pkg: str) -> tuple[GoFile, ...] | None:
        if pkg in self.known:
            return self.known[pkg]
        found: tuple[GoFile, ...] | None = None
        if self.root is not None:
            for module, version in self.versions:
                if pkg == module or pkg.startswith(module + "/"):
                    rest = pkg[len(module) :].lstrip("/")
                    folder = self.root / f"{escape_module(module)}@{escape_module(version)}" / rest
                    found = self.read(folder)
                    break
        if found is not None:
            self.known[pkg] = found
        return found

    def __contains__(self, pkg: object) -> bool:
        return isinstance(pkg, str) and self._load(pkg) is not None

    def get(self, pkg: str, default: tuple[GoFile, ...] = ()) -> tuple[GoFile, ...]:
        return self._load(pkg) or default
