"""Derive a cross-compiling Dockerfile from the article's ``ARG GOARCH`` recipe, and lint
what would go wrong in one multi-platform buildx run (pure: text in, text out).

The derived file is what BuildKit gets; the user's file is never modified.
"""

from __future__ import annotations

import re

import attrs

from buildx_go.dockerfile import Dockerfile, Instruction, Stage
from buildx_go.generate import CC_WRAPPER, CXX_WRAPPER, GOCACHE, GOMODCACHE, PKG_CONFIG_WRAPPER, cgo_toolchain
from buildx_go.platforms import Platform
from buildx_go.stages import GoStage, base_image, chain, go_stages, is_go_image, prebuilt_copies

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


def adapt(
    df: Dockerfile, filename: str, cgo_files: tuple[str, ...] = (), cgo_packages: tuple[str, ...] = ()
) -> Adaptation:
    """Each Go stage that does not cross-compile made to: its chain's root moved to
    $BUILDPLATFORM, GOOS/GOARCH fed from TARGETOS/TARGETARCH (an ARG GOARCH or an ARG with
    another name that carries the architecture re-declared from them, else exported as ENV so
    that make and scripts see them), GOARM/GOAMD64 from TARGETVARIANT; Go's build and module
    caches kept in cache mounts across builds; every other line kept as it is. What cannot
    be adapted is left as it is (lint() says why: not-adapted)."""
    edits = _Edits(df.text.splitlines(), filename)
    found = go_stages(df)
    # Modules may live in a cache mount only if every RUN that could need them gets the mount.
    go_stage_runs = [ins for g in found for st in chain(df, g.stage) for ins in st.instructions if ins.keyword == "RUN"]
    modules_cached = all(
        re.search(GO_CACHED, r.args) or not re.search(MAY_USE_GO, r.args) or re.match(GO_HARMLESS, r.args)
        for r in go_stage_runs
    )
    for g in found:
        if g.kind not in ("cross", "tool") and _cannot_adapt(df, g, cgo_files):
            continue  # lint() says why
        if g.kind == "emulated":
            edits.build_platform(g.root)
        for st in chain(df, g.stage):
            edits.cache_mounts(st, modules_cached)
        if not g.wired and not g.tool:
            edits.target_arch(g)
        if g.kind != "cross" and _cgo_stage(df, g, cgo_files):
            edits.cgo_toolchain(g, cgo_packages)
    header = [
        f"# Derived by buildx-go from {filename} for one multi-platform buildx run: the Go stage",
        "# runs on $BUILDPLATFORM and cross-compiles for TARGETOS/TARGETARCH/TARGETVARIANT.",
    ]
    out = edits.applied()
    n_directives = len(df.directives)
    text = "\n".join(out[:n_directives] + header + out[n_directives:]) + "\n"
    return Adaptation(text, tuple(edits.changes))


def needs_adapting(found: tuple[GoStage, ...]) -> bool:
    """Whether some Go stage does not cross-compile (or an arch ARG has a fixed default)."""
    return any(g.kind not in ("cross", "tool") or g.fixed_default for g in found)


def _cannot_adapt(df: Dockerfile, g: GoStage, cgo_files: tuple[str, ...]) -> str | None:
    if g.literal:
        return f"it sets {g.literal}, which cannot follow the target platform"
    if g.kind == "emulated" and g.shared:
        return (
            f"its base stage {g.root.name or g.root.index} is also the base of stage {g.shared}, "
            "which must stay on the target platform"
        )
    if g.kind == "emulated" and _cgo_stage(df, g, cgo_files) and not _debian_go(df, g):
        return (
            f"it compiles cgo ({cgo_files[0]}) on {base_image(df, g.root)}, which is not a Debian-based Go image "
            "(no Debian cross toolchain to add), so it stays on the target platform (under QEMU); set "
            "CGO_ENABLED=0 if cgo is not needed"
        )
    return None


def _cgo_stage(df: Dockerfile, g: GoStage, cgo_files: tuple[str, ...]) -> bool:
    """The stage compiles cgo: the project uses it and the stage does not turn it off."""
    chain_text = " ".join(i.command for st in chain(df, g.stage) for i in st.instructions)
    return bool(cgo_files) and "CGO_ENABLED=0" not in chain_text


def _debian_go(df: Dockerfile, g: GoStage) -> bool:
    """The chain starts at a Debian-based Go image (golang:1.22, golang:1.22-bookworm; not alpine)."""
    image = base_image(df, g.root)
    return is_go_image(image) and "alpine" not in image


class _Edits:
    """Line replacements of a Dockerfile: first line index -> (last line index, new lines)."""

    def __init__(self, lines: list[str], filename: str) -> None:
        self.lines, self.filename = lines, filename
        self.edits: dict[int, tuple[int, list[str]]] = {}
        self.changes: list[str] = []
        self.mounted: set[int] = set()  # stages whose Go RUNs have cache mounts

    def _head(self, st: Stage) -> tuple[int, int, list[str]]:
        """(first, last, lines) of ST's FROM as edited so far."""
        first = st.head.line - 1
        last, lines = self.edits.get(first, (st.head.end_line - 1, self.lines[first : st.head.end_line]))
        return first, last, lines

    def build_platform(self, st: Stage) -> None:
        first = st.head.line - 1
        if first in self.edits:
            return  # a root shared by several Go stages: moved once
        line = self.lines[first]
        if re.search(r"--platform=\S+", line):
            line = re.sub(r"--platform=\S+", "--platform=$BUILDPLATFORM", line, count=1)
        else:
            line = re.sub(r"^(\s*FROM\s+)", r"\1--platform=$BUILDPLATFORM ", line, count=1, flags=re.I)
        self.edits[first] = (st.head.end_line - 1, [line, *self.lines[first + 1 : st.head.end_line]])
        self.changes.append(f"{self.filename}:{st.head.line}: stage {st.name or st.index} runs on $BUILDPLATFORM")

    def cache_mounts(self, st: Stage, modules_cached: bool) -> None:
        if st.index in self.mounted:
            return
        self.mounted.add(st.index)
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

    def target_arch(self, g: GoStage) -> None:
        """GOOS/GOARCH from the target: replace the ARG that carries the architecture
        (ARG GOARCH, or ARG ARCH used as GOARCH=$ARCH), else export them as ENV."""
        inject = ["ARG TARGETOS TARGETARCH TARGETVARIANT", "ENV GOOS=$TARGETOS GOARCH=$TARGETARCH", VARIANT_RUN]
        lines = _arch_arg_lines(g)
        exported = False
        for n, ins in enumerate(lines):
            declare = ["ARG TARGETOS TARGETARCH TARGETVARIANT"] if n == 0 else []
            parts = ins.args.split()
            names = [a.split("=", 1)[0] for a in parts]
            if "GOARCH" in names or "GOOS" in names:
                keep = [a for a in parts if a.split("=", 1)[0] not in GO_ENV_VARS]
                repl = ([f"ARG {' '.join(keep)}"] if keep else []) + declare + ([] if exported else inject[1:])
                exported = True
                self.edits[ins.line - 1] = (ins.end_line - 1, repl)
                what = "ARG GOARCH replaced by GOARCH=$TARGETARCH"
                if "GOARCH" not in names:
                    what = "ARG GOOS replaced by GOOS=$TARGETOS"
                self.changes.append(f"{self.filename}:{ins.line}: {what}")
            else:
                fed = [_fed(g, n) if n in g.arch_args else a for n, a in zip(names, parts, strict=True)]
                self.edits[ins.line - 1] = (ins.end_line - 1, [*declare, f"ARG {' '.join(fed)}"])
                which = ", ".join(n for n in names if n in g.arch_args)
                self.changes.append(f"{self.filename}:{ins.line}: ARG {which} fed from TARGETOS/TARGETARCH")
        if lines:
            return
        st = g.stage
        first, last, head_lines = self._head(st)
        self.edits[first] = (last, head_lines + inject)
        self.changes.append(f"{self.filename}:{st.head.line}: GOARCH=$TARGETARCH added to stage {st.name or st.index}")

    def cgo_toolchain(self, g: GoStage, packages: tuple[str, ...]) -> None:
        """Debian's cross toolchain for the target, and CC/PKG_CONFIG pointing at it (the
        stage's own RUNs then cross-compile C as well as Go)."""
        st = g.stage
        first, last, head_lines = self._head(st)
        env = f"ENV CGO_ENABLED=1 CC={CC_WRAPPER} CXX={CXX_WRAPPER} PKG_CONFIG={PKG_CONFIG_WRAPPER}"
        self.edits[first] = (last, [*head_lines, "ARG TARGETARCH", *cgo_toolchain(packages, wrappers=True), env])
        libs = f" and {', '.join(packages)} for the target" if packages else " (C libraries for it: --cgo-package)"
        self.changes.append(
            f"{self.filename}:{st.head.line}: cgo: Debian's cross toolchain for the target{libs} in stage {g.name}"
        )

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


def _arch_arg_lines(g: GoStage) -> list[Instruction]:
    """The ARG instructions of the Go stage that declare an architecture-carrying ARG."""
    return [
        ins
        for ins in g.stage.instructions
        if ins.keyword == "ARG" and any(a.split("=", 1)[0] in g.arch_args for a in ins.args.split())
    ]


def _fed(g: GoStage, name: str) -> str:
    """NAME=$TARGETOS for an ARG used as GOOS, else NAME=$TARGETARCH."""
    text = " ".join(i.command for i in g.stage.instructions)
    goos = re.search(rf"GOOS=[\"']?\$\{{?{name}\b", text)
    return f"{name}=$TARGET{'OS' if goos else 'ARCH'}"


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
    found = go_stages(df)
    if adapted and not generated:
        out += [
            Lint("not-adapted", f"{g.describe()}; not adapted: {reason}", g.stage.head.line)
            for g in found
            if g.kind not in ("cross", "tool") and (reason := _cannot_adapt(df, g, cgo_files))
        ]
    elif not generated:
        out += _as_is(found, foreign)
    if not found and not generated:
        out += [
            Lint(
                "prebuilt-binary",
                f"no stage compiles Go: `{ins.keyword} {ins.args}` copies a binary from the build context, "
                "so each platform gets that file as it is (a per-platform path is checked before building, "
                "verify checks what was pushed)",
                ins.line,
            )
            for ins in prebuilt_copies(df)
        ]
    runs = [ins for ins in df.stages[-1].instructions if ins.keyword == "RUN"]
    on_build = "BUILDPLATFORM" in (chain(df, df.stages[-1])[0].platform or "")
    if runs and foreign and not on_build:
        why = (
            f"RUN in the final stage runs under emulation for {', '.join(map(str, foreign))}: "
            "the builder needs QEMU/binfmt for them"
        )
        out.append(Lint("run-needs-emulation", why, runs[0].line))
    if adapted and not generated:  # stages adaptation moves, with a cross toolchain, no longer compile C emulated
        found = tuple(g for g in found if not (g.kind == "emulated" and not _cannot_adapt(df, g, cgo_files)))
    out += _cgo(df, found, cgo_files, generated, bool(foreign))
    return tuple(out)


def _as_is(found: tuple[GoStage, ...], foreign: list[Platform]) -> list[Lint]:
    """A file used as is (--no-adapt, or nothing to adapt): what each Go stage will do."""
    out = []
    for g in found:
        fixed = g.literal or g.fixed_default
        if fixed:
            arch = fixed.split("=", 1)[1].strip("\"'")
            why = f"{g.describe()}; it sets {fixed}: every image would hold a binary for {arch}"
            out.append(Lint("goarch-fixed", why, g.stage.head.line))
        elif g.kind == "unwired":
            never = f" (ARG {', '.join(g.arch_args)} is never set by `buildx --platform`)" if g.arch_args else ""
            why = (
                f"stage {g.name} ({g.how}) runs on {g.where} and nothing feeds GOARCH from TARGETARCH{never}: "
                "every image would hold a binary for the build platform; drop --no-adapt to feed it"
            )
            out.append(Lint("goarch-unset", why, g.stage.head.line))
        if g.kind == "emulated" and foreign:
            why = (
                f"stage {g.name} ({g.how}{g.ignored_note()}) compiles Go on the target platform: under QEMU for "
                f"{', '.join(map(str, foreign))} (about 12x slower); use FROM --platform=$BUILDPLATFORM and "
                "GOARCH=$TARGETARCH (or drop --no-adapt)"
            )
            out.append(Lint("go-stage-emulated", why, g.stage.head.line))
    return out


def _cgo(
    df: Dockerfile, found: tuple[GoStage, ...], cgo_files: tuple[str, ...], generated: bool, foreign: bool
) -> list[Lint]:
    if not cgo_files:
        return []
    used = ", ".join(cgo_files[:3])
    if generated:
        why = (
            f"cgo is used ({used}) but the generated Dockerfile builds with CGO_ENABLED=0 (--cgo off): those "
            "files are left out; --cgo on cross-compiles them with Debian's toolchains"
        )
        return [Lint("cgo-disabled", why)]
    if not foreign or re.search(r"CGO_ENABLED=0", df.text):
        return []
    if not found:
        return []
    native = [g for g in found if g.kind != "emulated"]
    if not native:
        why = (
            f"cgo is used ({used}): the Go stage compiles it per target platform under QEMU (slow, but "
            "with the target's own C compiler)"
        )
        return [Lint("cgo-emulated", why)]
    why = (
        f"cgo is used ({used}) by stage {native[0].name}, which runs on {native[0].where}: cross-compiling "
        "C needs a C cross toolchain for each target (e.g. tonistiigi/xx), or CGO_ENABLED=0"
    )
    return [Lint("cgo-cross", why)]
