"""Facts about a Go project: go.mod, main packages, cgo, vendor/, go.work (pure parsing
plus one small finder that reads the tree through the Files seam)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from packaging.version import InvalidVersion, Version

from buildx_go.errors import InputError
from buildx_go.project.cgograph import CgoAnswer, GoFile, ModuleCache, imports, needs_cgo, strip_comments, strongest
from buildx_go.project.constraints import Expr, Target, file_constraint, included, mentioned_tags, tags_needed

if TYPE_CHECKING:
    from buildx_go.seams import Files

_GO_VERSION = re.compile(r"^1(\.\d+){1,2}((rc|beta)\d+)?$")
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_]\w*)", re.M)
SKIP_DIRS = {"vendor", "testdata", "node_modules"}


def go_version(text: str) -> Version:
    """A Go version ("1.22", "1.22.3", "go1.22rc1") as a comparable packaging Version."""
    v = text.removeprefix("go")
    if not _GO_VERSION.match(v):
        raise InvalidVersion(text)
    return Version(v)


@attrs.frozen
class GoModule:
    """What go.mod says."""

    path: str
    go: Version | None
    toolchain: Version | None
    requires: tuple[str, ...] = ()
    versions: tuple[tuple[str, str], ...] = ()  # (module, version) of each require

    @classmethod
    def from_text(cls, text: str, filename: str = "go.mod") -> GoModule:
        """Parse go.mod text; raise InputError naming FILENAME:LINE for what is malformed."""
        module = go = toolchain = None
        requires: list[str] = []
        versions: list[tuple[str, str]] = []
        block: str | None = None
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("//", 1)[0].strip()
            if not line:
                continue

            def bad(why: str, line: str = line, lineno: int = lineno) -> InputError:
                return InputError(f"{filename}:{lineno}: {why}: {line!r}", "fix go.mod (`go mod tidy` helps)")

            if block is not None:
                if line == ")":
                    block = None
                elif block == "require":
                    requires.append(line.split()[0])
                    if len(line.split()) > 1:
                        versions.append((line.split()[0], line.split()[1]))
                continue
            words = line.split()
            verb = words[0]
            if len(words) == 2 and words[1] == "(":
                block = verb
                continue
            if verb == "module":
                if len(words) != 2:
                    raise bad("module directive needs exactly one path")
                module = words[1].strip('"')
            elif verb == "go":
                if len(words) != 2:
                    raise bad("go directive needs exactly one version")
                try:
                    go = go_version(words[1])
                except InvalidVersion:
                    raise bad(f"invalid go version {words[1]!r}") from None
            elif verb == "toolchain":
                try:
                    ok = len(words) == 2 and words[1].startswith("go")
                    toolchain = go_version(words[1]) if ok else None
                except InvalidVersion:
                    toolchain = None
                if toolchain is None:
                    raise bad("toolchain directive needs one version like go1.22.3")
            elif verb == "require":
                if len(words) < 3:
                    raise bad("require needs a module path and a version")
                requires.append(words[1])
                versions.append((words[1], words[2]))
            elif verb in ("replace", "exclude", "retract", "godebug", "tool", "ignore"):
                continue
            else:
                raise bad(f"unknown directive {verb!r}")
        if block is not None:
            raise InputError(f"{filename}: unterminated {block} ( block", "close it with )")
        if not module:
            raise InputError(f"{filename}: no module directive", "the first line should be `module example.com/app`")
        return cls(path=module, go=go, toolchain=toolchain, requires=tuple(requires), versions=tuple(versions))

    @property
    def go_minor(self) -> str | None:
        """ "1.22" for go 1.22.3: the tag of the official golang image that fits."""
        return f"{self.go.major}.{self.go.minor}" if self.go else None


def package_name(source: str) -> str | None:
    """The package clause of a Go source file, comments ignored."""
    stripped = strip_comments(source)
    m = _PACKAGE.search(stripped)
    return m.group(1) if m else None


def uses_cgo(source: str) -> bool:
    """The file imports "C" (read by the same import parser as the cgo graph)."""
    return "C" in imports(source)


@attrs.frozen
class MainPackage:
    """A ``package main`` directory, relative to the module root ("." or "./cmd/x")."""

    path: str
    binary: str


@attrs.frozen
class GoProject:
    root: Path
    module: GoModule
    mains: tuple[MainPackage, ...]
    cgo_files: tuple[str, ...]
    vendored: bool
    workspace: bool
    # package main directories left out by build constraints, and why ("needs -tags journald")
    constrained: tuple[tuple[str, str], ...] = ()
    # each main: does it need cgo (its import graph, on any target platform)
    cgo_needs: tuple[tuple[str, CgoAnswer], ...] = ()

    def cgo_for(self, mains: tuple[MainPackage, ...]) -> CgoAnswer:
        """Whether building MAINS needs cgo: yes if one does, unknown if one cannot be told."""
        return strongest([a for path, a in self.cgo_needs if path in {m.path for m in mains}])

    @property
    def uses_cgo(self) -> bool:
        return bool(self.cgo_files)

    @classmethod
    def detect(
        cls,
        root: Path,
        files: Files | None = None,
        targets: tuple[Target, ...] = (),
        tags: frozenset[str] = frozenset(),
        modcache: Path | None = None,
    ) -> GoProject:
        """Read go.mod and walk the sources under ROOT (skipping vendor/, testdata/, dot dirs).
        Build constraints are evaluated for each of TARGETS (default linux/amd64 and
        linux/arm64) with TAGS: a main must build for every target; a cgo file is one that
        imports "C" and would be compiled, with cgo on, for some target."""
        from buildx_go.seams import LocalFiles

        fs = files or LocalFiles()
        gomod = root / "go.mod"
        if not fs.is_dir(root):
            raise InputError(f"PATH: {root} is not a directory", "give the directory holding go.mod")
        if not fs.exists(gomod):
            raise InputError(f"PATH: no go.mod in {root}", "run buildx-go on the module root (or `go mod init`)")
        module = GoModule.from_text(fs.read_text(gomod), str(gomod))
        minor = max((v.minor for v in (module.go, module.toolchain) if v is not None), default=99)
        plain = [
            attrs.evolve(t, tags=t.tags | tags, go_minor=minor)
            for t in targets or (Target("linux", "amd64"), Target("linux", "arm64"))
        ]
        with_cgo = [attrs.evolve(t, cgo=True) for t in plain]
        main_files: dict[str, list[tuple[Path, Expr | None]]] = {}
        hints: dict[str, set[str]] = {}
        cgo: list[str] = []
        graph: dict[str, list[GoFile]] = {}
        for src in sorted(_go_files(root, fs)):
            go_file, text = _read_go_file(src, root, fs)
            rel, constraint = go_file.path, go_file.constraint
            rel_dir = src.parent.relative_to(root).as_posix()
            path = module.path if rel_dir == "." else f"{module.path}/{rel_dir}"
            graph.setdefault(path, []).append(go_file)
            if package_name(text) == "main":
                main_files.setdefault(rel_dir, []).append((src, constraint))
                if not any(included(src.name, constraint, t) for t in with_cgo):
                    hints.setdefault(rel_dir, set()).update(tags_needed(constraint, plain, mentioned_tags(text)))
            if "C" in go_file.imports and any(included(src.name, constraint, t) for t in with_cgo):
                cgo.append(rel)
        mains, constrained = _classify_mains(module, main_files, hints, plain)
        known = {k: tuple(v) for k, v in {**graph, **_vendored(root, fs)}.items()}
        packages = ModuleCache(known, module.versions, modcache, lambda d: _cached_package(d, fs, modcache))
        cgo_needs = tuple((m.path, _needs(module.path, m.path, packages, plain)) for m in mains)
        return cls(
            root=root,
            module=module,
            mains=mains,
            cgo_files=tuple(cgo),
            vendored=fs.is_file(root / "vendor" / "modules.txt"),
            workspace=fs.is_file(root / "go.work"),
            constrained=constrained,
            cgo_needs=cgo_needs,
        )

    def main_for(self, wanted: str | None) -> MainPackage:
        """The main package to build: WANTED (--main), or the only one there is."""
        if wanted:
            norm = "./" + wanted.removeprefix("./").strip("/") if wanted not in (".", "./") else "."
            for m in self.mains:
                if m.path == norm:
                    return m
            for path, why in self.constrained:
                if path == norm:
                    raise InputError(f"--main: {wanted!r} {why} (build constraints)", "see its //go:build lines")
            known = ", ".join(m.path for m in self.mains) or "none"
            raise InputError(f"--main: {wanted!r} is not a main package of {self.root}", f"main packages: {known}")
        if not self.mains:
            left = "; ".join(f"{path} {why}" for path, why in self.constrained)
            raise InputError(
                f"PATH: no main package (package main) in {self.root}" + (f": {left}" if left else ""),
                "buildx-go builds commands",
            )
        if len(self.mains) > 1:
            raise InputError(
                f"--main: {self.root} has several main packages: {', '.join(m.path for m in self.mains)}",
                "choose one with --main ./cmd/NAME, or ship several in one image: repeat --main (or --main all), "
                "the first (or --entrypoint NAME) is what the image starts",
            )
        return self.mains[0]


def exec_name(import_path: str) -> str:
    """The binary `go build` names for a main package (cmd/go's DefaultExecName): the last
    element of its import path, or the one before a major-version suffix (example.com/app/v2)."""
    elems = import_path.rstrip("/").split("/")
    if len(elems) > 1 and re.fullmatch(r"v[2-9]|v[1-9][0-9]+", elems[-1]):
        return elems[-2]
    return elems[-1]


def _classify_mains(
    module: GoModule,
    main_files: dict[str, list[tuple[Path, Expr | None]]],
    hints: dict[str, set[str]],
    targets: list[Target],
) -> tuple[tuple[MainPackage, ...], tuple[tuple[str, str], ...]]:
    """Directories with package main files: mains (they build for every target), and the
    ones left out, with why (a tag-only main, one for some targets only; an `ignore`
    generator is left out silently)."""
    mains: list[MainPackage] = []
    constrained: list[tuple[str, str]] = []
    for rel_dir, found in main_files.items():
        pkg = "." if rel_dir == "." else f"./{rel_dir}"
        missing = [t for t in targets if not any(_builds(f.name, c, t) for f, c in found)]
        needed = sorted((hints.get(rel_dir) or set()) - {"ignore"})
        if not missing:
            mains.append(MainPackage(pkg, exec_name(module.path if rel_dir == "." else f"{module.path}/{rel_dir}")))
        elif len(missing) < len(targets):
            constrained.append((pkg, "has no main files for " + ", ".join(f"{t.goos}/{t.goarch}" for t in missing)))
        elif needed:
            constrained.append((pkg, f"builds only with --tags {' or '.join(needed)}"))
        elif "ignore" not in (hints.get(rel_dir) or set()):
            constrained.append((pkg, "excluded by build constraints for every target"))
    return tuple(sorted(mains, key=lambda m: m.path)), tuple(sorted(constrained))


def _vendored(root: Path, fs: Files) -> dict[str, list[GoFile]]:
    """vendor/'s packages by import path, for the cgo import graph."""
    graph: dict[str, list[GoFile]] = {}
    if not fs.is_dir(root / "vendor"):
        return graph
    for src in sorted(_go_files(root / "vendor", fs, vendored=True)):
        path = src.parent.relative_to(root / "vendor").as_posix()
        graph.setdefault(path, []).append(_read_go_file(src, root, fs)[0])
    return graph


def _read_go_file(src: Path, base: Path, fs: Files) -> tuple[GoFile, str]:
    """SRC's head as a GoFile (named relative to BASE: its constraint and imports), and its text."""
    text = fs.read_text(src, head=True)
    rel = src.relative_to(base).as_posix()
    return GoFile(src.name, rel, file_constraint(text, f"{rel}: //go:build"), imports(text)), text


def _cached_package(folder: Path, fs: Files, modcache: Path | None) -> tuple[GoFile, ...] | None:
    """A package directory of the module cache, or None when it is not there."""
    if modcache is None or not fs.is_dir(folder):
        return None
    return tuple(_read_go_file(src, modcache, fs)[0] for src in fs.iterdir(folder) if _is_go_source(src, fs))


def _needs(module: str, main: str, packages: ModuleCache, targets: list[Target]) -> CgoAnswer:
    """MAIN's cgo answer over TARGETS: yes on any, else unknown on any, else no."""
    path = module if main == "." else f"{module}/{main.removeprefix('./')}"
    return strongest([needs_cgo(path, packages, t) for t in targets])


def _builds(name: str, constraint: Expr | None, target: Target) -> bool:
    """Whether the file is compiled for TARGET with cgo off or on (either can be chosen)."""
    return included(name, constraint, target) or included(name, constraint, attrs.evolve(target, cgo=True))


def _go_files(root: Path, fs: Files, vendored: bool = False) -> Iterator[Path]:
    """The Go sources go would build: regular files (symlinks to them followed), in
    directories that are not symlinks (as go's ./... does not follow them: no loops), outside
    vendor/, testdata/, dot and underscore directories and nested modules."""
    for path in fs.iterdir(root):
        if fs.is_dir(path):
            if path.name in SKIP_DIRS or path.name.startswith((".", "_")) or fs.is_link(path):
                continue
            if fs.is_file(path / "go.mod") and not vendored:
                continue  # a nested module is not part of this one
            yield from _go_files(path, fs, vendored)
        elif _is_go_source(path, fs):
            yield path


def _is_go_source(path: Path, fs: Files) -> bool:
    """A file go would compile: a regular .go file, not a test, not hidden (. or _ first)."""
    return (
        path.suffix == ".go"
        and not path.name.endswith("_test.go")
        and not path.name.startswith((".", "_"))
        and fs.is_file(path)
    )
