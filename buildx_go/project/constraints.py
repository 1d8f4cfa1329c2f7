"""Go build constraints (pure): ``//go:build`` lines, legacy ``// +build`` lines and
``_GOOS_GOARCH`` file names, evaluated for one target the way go/build does."""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

from buildx_go.errors import InputError

KNOWN_OS = frozenset(
    "aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris "  # noqa: SIM905
    "wasip1 windows zos".split()
)
UNIX_OS = frozenset("aix android darwin dragonfly freebsd hurd illumos ios linux netbsd openbsd solaris".split())  # noqa: SIM905
KNOWN_ARCH = frozenset(
    "386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le "  # noqa: SIM905
    "ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm".split()
)
_TOKEN = re.compile(r"\s*(\|\||&&|!|\(|\)|[\w.]+)")

Expr = Callable[[Callable[[str], bool]], bool]


@attrs.frozen
class Target:
    """What a build is for: GOOS/GOARCH (+ the variant as GOAMD64/GOARM), cgo on or off,
    the -tags given, and the Go minor version (go1.N release tags up to it hold)."""

    goos: str
    goarch: str
    variant: str | None = None
    tags: frozenset[str] = frozenset()
    cgo: bool = False
    go_minor: int = 99

    def has(self, tag: str) -> bool:
        if tag in (self.goos, self.goarch) or tag in self.tags or tag == "gc":
            return True
        if tag == "unix":
            return self.goos in UNIX_OS
        if tag == "linux":
            return self.goos == "android"
        if tag == "cgo":
            return self.cgo
        m = re.fullmatch(r"go1\.(\d+)", tag)
        if m:
            return int(m.group(1)) <= self.go_minor
        return self._feature(tag)

    def _feature(self, tag: str) -> bool:
        """GOARCH feature tags: amd64.v2 holds for GOAMD64=v3, arm.6 for GOARM=7."""
        arch, _, level = tag.partition(".")
        if arch != self.goarch or not level:
            return False
        if arch == "amd64":
            mine = int((self.variant or "v1")[1:])
            return bool(re.fullmatch(r"v[1-4]", level)) and int(level[1:]) <= mine
        if arch == "arm":
            mine = int((self.variant or "v7")[1:])
            return level.isdigit() and int(level) <= mine
        return False


def parse_expr(text: str, where: str = "//go:build") -> Expr:
    """A ``//go:build`` expression as a predicate over "does the target have this tag"."""
    tokens = _tokens(text, where)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise InputError(f"{where}: unexpected end of {text!r}", "fix the build constraint")
        pos += 1
        return tokens[pos - 1]

    def or_expr() -> Expr:
        left = and_expr()
        while peek() == "||":
            take()
            right = and_expr()
            left = _or(left, right)
        return left

    def and_expr() -> Expr:
        left = not_expr()
        while peek() == "&&":
            take()
            right = not_expr()
            left = _and(left, right)
        return left

    def not_expr() -> Expr:
        tok = take()
        if tok == "!":
            inner = not_expr()
            return lambda has: not inner(has)
        if tok == "(":
            inner = or_expr()
            if take() != ")":
                raise InputError(f"{where}: missing ) in {text!r}", "fix the build constraint")
            return inner
        if tok in ("||", "&&", ")"):
            raise InputError(f"{where}: unexpected {tok!r} in {text!r}", "fix the build constraint")
        return lambda has: has(tok)

    expr = or_expr()
    if pos != len(tokens):
        raise InputError(f"{where}: unexpected {tokens[pos]!r} in {text!r}", "fix the build constraint")
    return expr


def _or(a: Expr, b: Expr) -> Expr:
    return lambda has: a(has) or b(has)


def _and(a: Expr, b: Expr) -> Expr:
    return lambda has: a(has) and b(has)


def _tokens(text: str, where: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise InputError(f"{where}: cannot read {text[pos:]!r}", "fix the build constraint")
        out.append(m.group(1))
        pos = m.end()
    return out


def _plus_build(lines: list[str]) -> Expr:
    """Legacy ``// +build a,b c`` lines: space is OR, comma is AND, lines are ANDed."""
    clauses = [
        [[(t[1:], False) if t.startswith("!") else (t, True) for t in opt.split(",")] for opt in line.split()]
        for line in lines
    ]
    return lambda has: all(any(all(has(t) == want for t, want in opt) for opt in line) for line in clauses)


def file_constraint(source: str, where: str = "//go:build") -> Expr | None:
    """The constraint in a Go file's header (the comments before the package clause):
    its ``//go:build`` line, else its ``// +build`` lines; None when there is none."""
    go_build: str | None = None
    plus: list[str] = []
    in_block = False
    for raw in source.splitlines():
        line = raw.strip()
        if in_block:
            in_block = "*/" not in line
            continue
        if not line:
            continue
        if line.startswith("/*"):
            in_block = "*/" not in line[2:]
            continue
        if not line.startswith("//"):
            break
        if line.startswith("//go:build") and line[10:11] in ("", " ", "\t"):
            go_build = go_build or line[10:].strip()
        elif re.match(r"//\s*\+build(\s|$)", line):
            plus.append(line.split("+build", 1)[1])
    if go_build is not None:
        return parse_expr(go_build, where)
    return _plus_build(plus) if plus else None


def name_matches(filename: str, target: Target) -> bool:
    """go/build's rule for ``name_GOOS_GOARCH.go``, ``name_GOOS.go``, ``name_GOARCH.go``."""
    name = filename.split(".", 1)[0]
    if "_" not in name:
        return True
    parts = name[name.index("_") :].split("_")
    if parts and parts[-1] == "test":
        parts = parts[:-1]
    if len(parts) >= 2 and parts[-2] in KNOWN_OS and parts[-1] in KNOWN_ARCH:
        return target.has(parts[-2]) and target.has(parts[-1])
    if parts and (parts[-1] in KNOWN_OS or parts[-1] in KNOWN_ARCH):
        return target.has(parts[-1])
    return True


def included(filename: str, constraint: Expr | None, target: Target) -> bool:
    """Whether go would compile this file for TARGET."""
    return name_matches(filename, target) and (constraint is None or constraint(target.has))


def tags_needed(constraint: Expr | None, targets: list[Target], candidates: set[str]) -> list[str]:
    """Which one of CANDIDATES (tags the constraint mentions) would include the file: a hint
    for mains that only build with -tags."""
    if constraint is None:
        return []
    return sorted(
        tag for tag in candidates if any(constraint(attrs.evolve(t, tags=t.tags | {tag}).has) for t in targets)
    )


def mentioned_tags(source: str) -> set[str]:
    """The identifiers of a file's //go:build line (for hints)."""
    m = re.search(r"^//go:build\s+(.*)$", source, re.M)
    return set(re.findall(r"[\w.]+", m.group(1))) if m else set()
