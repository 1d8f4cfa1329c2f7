"""Facts about a Go project: go.mod, main packages, cgo, vendor/, go.work (pure parsing
plus one small finder that reads the tree through the Files seam)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
# go's modfile.GoVersionRE and a canonical module version (semver, +incompatible allowed)
GO_DIRECTIVE = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?")
MODULE_VERSION = re.compile(
    r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+incompatible)?"
)
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|=>|[()\[\],]|[^\s"`()\[\],]+')
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_]\w*)", re.M)
SKIP_DIRS = {"vendor", "testdata", "node_modules"}


def go_version(text: str) -> Version:
    """A Go version ("1.22", "1.22.3", "go1.22rc1") as a comparable packaging Version."""
    v = text.removeprefix("go")
    if not _GO_VERSION.match(v):
        raise InvalidVersion(text)
    return Version(v)


def _comparable(text: str) -> Version | None:
    """A go or toolchain version as a comparable Version, or None when it is none of Go's
    releases (go1.22.3-custom: the leading release counts)."""
    m = re.match(r"(?:go)?(1(?:\.\d+){1,2}(?:(?:rc|beta)\d+)?)", text)
    return Version(m.group(1)) if m else None


def _tokens(line: str, lineno: int, filename: str) -> list[str]:
    if "`" in line:  # go reads only "double quotes"
        raise InputError(f"{filename}:{lineno}: unquoted string cannot contain quote: {line!r}", "fix go.mod")
    words = _TOKEN.findall(line)
    if "".join(words) != re.sub(r"\s+", "", line) and not re.search(r'["`]', "".join(words)):
        raise InputError(f"{filename}:{lineno}: syntax error: {line!r}", "fix go.mod")
    for w in words:
        if w[:1] in ('"', "`") and (len(w) < 2 or w[-1] != w[0]):
            raise InputError(f"{filename}:{lineno}: unterminated quoted string: {line!r}", "fix go.mod")
    if line.count('"') % 2 and not any(w.startswith("`") for w in words):
        raise InputError(f"{filename}:{lineno}: unterminated quoted string: {line!r}", "fix go.mod")
    return [w[1:-1] if w[:1] in ('"', "`") else w for w in words]


BLOCKS = ("require", "exclude", "replace", "retract", "godebug", "tool", "ignore", "module", "go", "toolchain")


def _directives(
    text: str, filename: str, blocks: tuple[str, ...] = BLOCKS
) -> Iterator[tuple[int, str, list[str], str]]:
    """(line number, verb, arguments, the line) of each directive, blocks opened; comments,
    quotes and go's block rules as modfile reads them."""
    block: str | None = None
    start = 0
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = re.sub(r"//.*", "", raw.rstrip("\r")).strip() if '"' not in raw else _strip_comment(raw).strip()
        if not line:
            continue
        words = _tokens(line, lineno, filename)
        if block is not None:
            if words == [")"]:
                block = None
                continue
            yield lineno, block, words, line
            continue
        if words[-1:] == ["("] and len(words) == 2:
            if words[0] not in blocks:
                raise InputError(f"{filename}:{lineno}: unknown block type: {words[0]}", "fix go.mod")
            block, start = words[0], lineno
            continue
        if ")" in words or "(" in words:
            raise InputError(f"{filename}:{lineno}: syntax error: {line!r}", "fix go.mod")
        yield lineno, words[0], words[1:], line
    if block is not None:
        raise InputError(f"{filename}:{start}: unterminated {block} ( block", "close it with )")


def _strip_comment(raw: str) -> str:
    """RAW without its // comment, a // inside a quoted string kept."""
    quoted = False
    for i, ch in enumerate(raw):
        if ch == '"' and (i == 0 or raw[i - 1] != "\\"):
            quoted = not quoted
        if not quoted and raw.startswith("//", i):
            return raw[:i]
    return raw


def _check_replace(args: list[str], bad: Callable[[str], InputError]) -> None:
    """replace OLD [VERSION] => NEW [VERSION]: a local path NEW takes no version."""
    if "=>" not in args:
        raise bad("usage: replace module/path [v1.2.3] => other/module v1.4.5 or ../local/dir")
    i = args.index("=>")
    old, new = args[:i], args[i + 1 :]
    if len(old) not in (1, 2) or len(new) not in (1, 2) or (len(old) == 2 and not MODULE_VERSION.fullmatch(old[1])):
        raise bad("usage: replace module/path [v1.2.3] => other/module v1.4.5 or ../local/dir")
    local = new[0].startswith(("./", "../", "/")) or new[0] in (".", "..")
    if local and len(new) == 2:
        raise bad("a local replacement takes no version")
    if not local and (len(new) != 2 or not MODULE_VERSION.fullmatch(new[1])):
        raise bad("a module replacement needs a version (or a ./ or ../ path)")


def check_shared(verb: str, args: list[str], bad: Callable[[str], InputError]) -> bool:
    """Whether VERB is one of the directives go.mod and go.work share (go, toolchain,
    godebug, replace); if so its ARGS are checked as modfile does (BAD(why) when not)."""
    if verb == "go":
        if len(args) != 1 or not GO_DIRECTIVE.fullmatch(args[0]):
            raise bad(f"invalid go version {' '.join(args)!r} (must match 1.23 or 1.23.0)")
    elif verb == "toolchain":
        if len(args) != 1 or not re.fullmatch(r"default|go1($|\..*)", args[0]):
            raise bad("toolchain directive needs one name like go1.22.3 or default")
    elif verb == "godebug":
        if len(args) != 1 or not re.fullmatch(r"[^=\s]+=\S*", args[0]):
            raise bad("usage: godebug key=value")
    elif verb == "replace":
        _check_replace(args, bad)
    else:
        return False
    return True


def _is_interval(args: list[str]) -> bool:
    return (
        len(args) == 5
        and (args[0], args[2], args[4]) == ("[", ",", "]")
        and bool(MODULE_VERSION.fullmatch(args[1]) and MODULE_VERSION.fullmatch(args[3]))
    )


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
        """Parse go.mod text as go's modfile.Parse does (strictly, as for the main module);
        raise InputError naming FILENAME:LINE for what go would refuse."""
        module = go = toolchain = None
        seen: set[str] = set()
        requires: list[tuple[str, str]] = []
        for lineno, verb, args, line in _directives(text, filename):

            def bad(why: str, line: str = line, lineno: int = lineno) -> InputError:
                return InputError(f"{filename}:{lineno}: {why}: {line!r}", "fix go.mod (`go mod tidy` helps)")

            if verb in ("module", "go", "toolchain"):
                if verb in seen:
                    raise bad(f"repeated {verb} statement")
                seen.add(verb)
            if check_shared(verb, args, bad):
                if verb == "go":
                    go = _comparable(args[0])
                elif verb == "toolchain":
                    toolchain = _comparable(args[0]) if args[0] != "default" else None
            elif verb == "module":
                if len(args) != 1:
                    raise bad("module directive needs exactly one path")
                module = args[0]
            elif verb == "require":
                if len(args) != 2 or not MODULE_VERSION.fullmatch(args[1]):
                    raise bad("usage: require module/path v1.2.3")
                requires.append((args[0], args[1]))
            elif verb == "exclude":
                if len(args) != 2 or not MODULE_VERSION.fullmatch(args[1]):
                    raise bad("usage: exclude module/path v1.2.3")
            elif verb == "retract":
                if not (len(args) == 1 and MODULE_VERSION.fullmatch(args[0])) and not _is_interval(args):
                    raise bad("usage: retract v1.2.3 or retract [v1.0.0, v1.9.9]")
            elif verb in ("tool", "ignore"):
                if len(args) != 1:
                    raise bad(f"usage: {verb} path")
            else:
                raise bad(f"unknown directive {verb!r}")
        if not module:
            raise InputError(f"{filename}: no module directive", "the first line should be `module example.com/app`")
        return cls(
            path=module,
            go=go,
            toolchain=toolchain,
            requires=tuple(r for r, _ in requires),
            versions=tuple(requires),
        )

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
