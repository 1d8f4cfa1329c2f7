"""Derive a cross-compiling Dockerfile from the article's ``ARG GOARCH`` recipe, and lint
what would go wrong in one multi-platform buildx run (pure: text in, text out).

The derived file is what BuildKit gets; the user's file is never modified.
"""

from __future__ import annotations

import re

import attrs

from buildx_go.dockerfile import GO_BUILD, Dockerfile, Stage
from buildx_go.generate import GOCACHE, GOMODCACHE
from buildx_go.platforms import Platform

GO_ENV_VARS = {"GOOS", "GOARCH", "GOARM", "GOAMD64"}
GO_CACHED = r"\bgo\s+(build|install|mod|get|run|generate|test|vet)\b"  # RUNs that fill Go's caches
MAY_USE_GO = r"\b(go|make|mage|task|just|bazel)\b"  # RUNs that might run go indirectly
GO_HARMLESS = r"\s*go\s+(env|version)\b[^;&|]*$"  # go commands that need no modules
VARIANT_RUN = (
    'RUN case "$TARGETARCH" in '
    'arm) go env -w GOARM="${TARGETVARIANT#v}" ;; '
    'amd64) go env -w GOAMD64="${TARGETVARIANT:-v1}" ;; '
    "esac"
)


@attrs.frozen
class Lint:
    code: str
    message: str
    line: int | None = None


@attrs.frozen
class Adaptation:
    text: str
    changes: tuple[str, ...]


def adapt(df: Dockerfile, filename: str) -> Adaptation:
    """The recipe's Go stages moved to $BUILDPLATFORM, GOOS/GOARCH fed from TARGETOS/TARGETARCH
    and GOARM/GOAMD64 from TARGETVARIANT, Go's build and module caches kept in cache mounts
    across builds; every other line kept as it is."""
    edits = _Edits(df.text.splitlines(), filename)
    # Modules may live in a cache mount only if every RUN that could need them gets the mount.
    go_stage_runs = [ins for st in df.go_stages() for ins in st.instructions if ins.keyword == "RUN"]
    modules_cached = all(
        re.search(GO_CACHED, r.args) or not re.search(MAY_USE_GO, r.args) or re.match(GO_HARMLESS, r.args)
        for r in go_stage_runs
    )
    for st in df.go_stages():
        if st.platform is None and df.stage_named(st.base) is None:
            edits.build_platform(st)
        edits.cache_mounts(st, modules_cached)
        if st.runs(GO_BUILD):
            edits.target_arch(st)
    header = [
        f"# Derived by buildx-go from {filename} for one multi-platform buildx run: the Go stage",
        "# runs on $BUILDPLATFORM and cross-compiles for TARGETOS/TARGETARCH/TARGETVARIANT.",
    ]
    out = edits.applied()
    n_directives = len(df.directives)
    text = "\n".join(out[:n_directives] + header + out[n_directives:]) + "\n"
    return Adaptation(text, tuple(edits.changes))


class _Edits:
    """Line replacements of a Dockerfile: first line index -> (last line index, new lines)."""

    def __init__(self, lines: list[str], filename: str) -> None:
        self.lines, self.filename = lines, filename
        self.edits: dict[int, tuple[int, list[str]]] = {}
        self.changes: list[str] = []

    def _head(self, st: Stage) -> tuple[int, int, list[str]]:
        """(first, last, lines) of ST's FROM as edited so far."""
        first = st.head.line - 1
        last, lines = self.edits.get(first, (st.head.end_line - 1, self.lines[first : st.head.end_line]))
        return first, last, lines

    def build_platform(self, st: Stage) -> None:
        first = st.head.line - 1
        line = re.sub(r"^(\s*FROM\s+)", r"\1--platform=$BUILDPLATFORM ", self.lines[first], count=1, flags=re.I)
        self.edits[first] = (first, [line])
        self.changes.append(f"{self.filename}:{st.head.line}: stage {st.name or st.index} runs on $BUILDPLATFORM")

    def cache_mounts(self, st: Stage, modules_cached: bool) -> None:
        go_runs = [
            ins
            for ins in st.instructions
            if ins.keyword == "RUN" and re.search(GO_CACHED, ins.args) and "type=cache" not in ins.args
        ]
        if not go_runs or any(ins.keyword == "USER" for ins in st.instructions):
            return
        cache_env = f"ENV GOCACHE={GOCACHE}" + (f" GOMODCACHE={GOMODCACHE}" if modules_cached else "")
        mounts = f"--mount=type=cache,target={GOCACHE}"
        mounts += f" --mount=type=cache,target={GOMODCACHE}" if modules_cached else ""
        first, last, head_lines = self._head(st)
        self.edits[first] = (last, [*head_lines, cache_env])
        for ins in go_runs:
            at = ins.line - 1
            line = re.sub(r"^(\s*RUN\s+)", r"\1" + mounts + " ", self.lines[at], count=1, flags=re.I)
            self.edits[at] = (at, [line])
        which = "build and module caches" if modules_cached else "build cache (modules stay in the image)"
        runs = f"{len(go_runs)} RUN{'s' if len(go_runs) > 1 else ''}"
        self.changes.append(f"{self.filename}:{go_runs[0].line}: Go {which} in cache mounts ({runs})")

    def target_arch(self, st: Stage) -> None:
        inject = ["ARG TARGETOS TARGETARCH TARGETVARIANT", "ENV GOOS=$TARGETOS GOARCH=$TARGETARCH", VARIANT_RUN]
        goarch_arg = _goarch_arg(st)
        if goarch_arg is not None:
            keep = [a for a in goarch_arg.args.split() if a.split("=", 1)[0] not in GO_ENV_VARS]
            repl = ([f"ARG {' '.join(keep)}"] if keep else []) + inject
            self.edits[goarch_arg.line - 1] = (goarch_arg.end_line - 1, repl)
            self.changes.append(f"{self.filename}:{goarch_arg.line}: ARG GOARCH replaced by GOARCH=$TARGETARCH")
            return
        first, last, head_lines = self._head(st)
        self.edits[first] = (last, head_lines + inject)
        self.changes.append(f"{self.filename}:{st.head.line}: GOARCH=$TARGETARCH added to stage {st.name or st.index}")

    def applied(self) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(self.lines):
            if i in self.edits:
                last, repl = self.edits[i]
                out.extend(repl)
                i = last + 1
            else:
                out.append(self.lines[i])
                i += 1
        return out


def _goarch_arg(st: Stage):  # type: ignore[no-untyped-def]
    for ins in st.instructions:
        if ins.keyword == "ARG" and any(a.split("=", 1)[0] == "GOARCH" for a in ins.args.split()):
            return ins
    return None


def lint(
    df: Dockerfile,
    platforms: tuple[Platform, ...],
    native: Platform,
    *,
    adapted: bool,
    cgo_files: tuple[str, ...] = (),
    generated: bool = False,
) -> tuple[Lint, ...]:
    """What would go wrong (or slowly) building DF for PLATFORMS on a NATIVE builder."""
    out: list[Lint] = []
    if "syntax" in df.directives:
        why = (
            f"# syntax={df.directives['syntax']} makes BuildKit pull a frontend image from a registry: "
            "fails offline; the built-in frontend needs no such line"
        )
        out.append(Lint("syntax-directive", why, 1))
    foreign = [p for p in platforms if p.arch != native.arch]
    if not adapted:
        out += _emulated_go(df, foreign)
    runs = [ins for ins in df.stages[-1].instructions if ins.keyword == "RUN"]
    if runs and foreign:
        why = (
            f"RUN in the final stage runs under emulation for {', '.join(map(str, foreign))}: "
            "the builder needs QEMU/binfmt for them"
        )
        out.append(Lint("run-needs-emulation", why, runs[0].line))
    out += _cgo(df, cgo_files, generated, bool(foreign))
    return tuple(out)


def _emulated_go(df: Dockerfile, foreign: list[Platform]) -> list[Lint]:
    """A file used as is: Go stages on the target platform, and an ARG GOARCH nobody sets."""
    out = []
    for st in df.go_stages():
        if st.platform is None and df.stage_named(st.base) is None and foreign:
            why = (
                f"stage {st.name or st.index} compiles Go on the target platform: under QEMU for "
                f"{', '.join(map(str, foreign))} (about 12x slower); use FROM --platform=$BUILDPLATFORM and "
                "GOARCH=$TARGETARCH (or drop --no-adapt)"
            )
            out.append(Lint("go-stage-emulated", why, st.head.line))
    if df.style == "goarch-recipe":
        why = (
            "ARG GOARCH is never set by `buildx --platform`: every image would hold a binary for the build "
            "platform; drop --no-adapt to feed it from TARGETARCH"
        )
        out.append(Lint("goarch-unset", why))
    return out


def _cgo(df: Dockerfile, cgo_files: tuple[str, ...], generated: bool, foreign: bool) -> list[Lint]:
    if not cgo_files:
        return []
    used = ", ".join(cgo_files[:3])
    if generated:
        why = (
            f"cgo is used ({used}) but the generated Dockerfile builds with CGO_ENABLED=0: those files are "
            "left out; bring a Dockerfile with a C cross toolchain if they are needed"
        )
        return [Lint("cgo-disabled", why)]
    if foreign and not re.search(r"CGO_ENABLED=0", df.text):
        why = (
            f"cgo is used ({used}): cross-compiling it needs a C cross toolchain for each target "
            "(e.g. tonistiigi/xx), or CGO_ENABLED=0"
        )
        return [Lint("cgo-cross", why)]
    return []
