"""Derive a cross-compiling Dockerfile from the recipe's ``ARG GOARCH`` recipe, and lint
what would go wrong in one multi-platform buildx run (pure: text in, text out).

The derived file is what BuildKit gets; the user's file is never modified.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

import attrs

from buildx_go.dockerfile.generate import (
    CC_WRAPPER,
    CXX_WRAPPER,
    GOCACHE,
    GOMODCACHE,
    PKG_CONFIG_WRAPPER,
    cgo_toolchain,
)
from buildx_go.dockerfile.parse import Dockerfile, Instruction, Stage
from buildx_go.dockerfile.stages import (
    AUTOMATIC_ARGS,
    GoStage,
    base_image,
    chain,
    compile_how,
    go_stages,
    is_go_image,
    prebuilt_copies,
    tool_install,
)
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


def adapt(
    df: Dockerfile,
    filename: str,
    cgo_files: tuple[str, ...] = (),
    cgo_packages: tuple[str, ...] = (),
    build_files: Mapping[str, str] | None = None,
) -> Adaptation:
    """Each Go stage that does not cross-compile made to: its chain's root moved to
    $BUILDPLATFORM, GOOS/GOARCH fed from TARGETOS/TARGETARCH (an ARG GOARCH or an ARG with
    another name that carries the architecture re-declared from them, else exported as ENV so
    that make and scripts see them), GOARM/GOAMD64 from TARGETVARIANT; Go's build and module
    caches kept in cache mounts across builds; every other line kept as it is. What cannot
    be adapted is left as it is (lint() says why: not-adapted). BUILD_FILES: the Makefiles and
    scripts the Go stages run (path -> text), read for CGO_ENABLED."""
    cgo = _Cgo(cgo_files, build_files or {})
    edits = _Edits(raw_lines(df.text), filename)
    found = go_stages(df)
    # Modules may live in a cache mount only if every RUN that could need them gets the mount.
    go_stage_runs = [ins for g in found for st in chain(df, g.stage) for ins in st.instructions if ins.keyword == "RUN"]
    modules_cached = all(
        _mounted(r) or not re.search(MAY_USE_GO, r.args) or re.match(GO_HARMLESS, r.args) for r in go_stage_runs
    )
    for g in found:
        if g.kind not in ("cross", "tool") and _cannot_adapt(df, g, cgo):
            continue  # lint() says why
        if g.kind == "emulated":
            edits.build_platform(g.root)
        outputs = split_outputs(g)[0] if g.final else None
        if outputs is not None:  # else, cross-compiling, it is left as it is: lint() says what it ships
            edits.split_final(g, outputs)
        for st in chain(df, g.stage):
            edits.cache_mounts(st, modules_cached)
        if not g.wired and not g.tool:
            edits.target_arch(g)
        if g.kind == "emulated" or not g.wired:
            edits.install_dirs(g)
        why = cgo.evidence(df, g) if g.kind != "cross" else None
        if why:
            edits.cgo_toolchain(g, tuple(dict.fromkeys([*cgo_packages, *_dev_packages(df, g)])), why)
    if any(g.kind not in ("cross", "tool") and not _cannot_adapt(df, g, cgo) for g in found):
        edits.unshadow_platform_args(df)
    header = [
        f"# Derived by buildx-go from {filename} for one multi-platform buildx run: the Go stage",
        "# runs on $BUILDPLATFORM and cross-compiles for TARGETOS/TARGETARCH/TARGETVARIANT.",
    ]
    out = edits.applied()
    n_directives = len(df.directives)
    text = "\n".join(out[:n_directives] + header + out[n_directives:]) + "\n"
    return Adaptation(text, tuple(edits.changes))


def raw_lines(text: str) -> list[str]:
    """TEXT's lines as BuildKit counts them (split at "\n" only), each kept as it is (a \r,
    a form feed or U+2028 inside stays inside): the derived file changes only the lines it
    edits, so no character ever turns part of a comment or a command into a line of its own."""
    lines = text.removeprefix("\ufeff").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _mounted(ins: Instruction) -> bool:
    """A RUN that gets Go's cache mounts: it runs go, or make, mage, task, just or a build
    script that compile Go (in a Go stage)."""
    return ins.keyword == "RUN" and bool(re.search(GO_CACHED, ins.args) or compile_how(ins, go_base=True))


def needs_adapting(found: tuple[GoStage, ...]) -> bool:
    """Whether some Go stage does not cross-compile (or an arch ARG has a fixed default), or
    cross-compiles in a final stage that can be split (it holds the build platform's programs)."""
    return any(
        g.kind not in ("cross", "tool") or g.fixed_default or (g.final and split_outputs(g)[0] is not None)
        for g in found
    )


SPLIT_NAME = "buildx-go-build"
# commands a compile-only stage may run besides go: they leave nothing the final image needs
# (mkdir only for the directories the outputs go to; a redirection writes a file: never)
_HARMLESS_WORDS = frozenset({"go", "cd", "mkdir", "echo", "true", "set", "export", "ls", "pwd", ":"})
_GO_OUTPUT = re.compile(r"\bgo\s+build\b(?:[^;&|]*?)\s-o(?:=|\s+)([\"']?)([^\s\"';&|]+)\1")
_REDIRECT = re.compile(r"""(?<![<>&\d])\d?>>?(?![&])|&>|\btee\b""")


def split_outputs(g: GoStage) -> tuple[tuple[tuple[int, str], ...] | None, str | None]:
    """A Go stage that is also the final image can be split in two (compiled on the build
    platform, shipped on the target's image) when it is one stage whose RUNs only run go (and
    cd, mkdir for the outputs' directories, echo without a redirection) and every `go build`
    names its output (-o): ((RUN index, absolute output) ..., None), else (None, why not).
    A `cd` is followed to the end of its RUN, as the shell does."""
    if g.root is not g.stage:
        return None, f"it is built FROM stage {g.root.name or g.root.index}"
    workdir = "/"
    outputs: list[tuple[int, str]] = []
    made_dirs: list[str] = []
    for n, ins in enumerate(g.stage.instructions):
        if ins.keyword == "WORKDIR":
            workdir = posixpath.join(workdir, ins.command.strip().strip("\"'"))
            continue
        if ins.keyword != "RUN":
            continue
        text = re.sub(r"^(--\S+\s+)+", "", ins.command)
        if _REDIRECT.search(re.sub(r"'[^']*'|\"[^\"]*\"", "", text)):
            return None, f"its RUN `{ins.command[:60]}` writes a file the final image would not have"
        here = workdir
        for part in re.split(r"&&|\|\||;|\||\n", text):
            words = [w for w in part.split() if not re.fullmatch(r"[A-Za-z_]\w*=\S*", w)]
            why = _not_compile_only(words, ins.command)
            if why:
                return None, why
            if words[:1] == ["cd"]:
                if len(words) != 2 or "$" in words[1]:
                    return None, f"its RUN `{ins.command[:60]}` changes to a directory that depends on a variable"
                here = posixpath.join(here, words[1])
            elif words[:1] == ["mkdir"]:
                made_dirs += [posixpath.join(here, w) for w in words[1:] if not w.startswith("-")]
            elif words[:2] == ["go", "build"]:
                m = _GO_OUTPUT.search(part)
                if m is None:
                    return None, "a `go build` without -o"
                out = m.group(2)
                if "$" in out or "$" in here:
                    return None, f"the output {out} depends on a variable"
                outputs.append((n, posixpath.normpath(posixpath.join(here, out))))
    if not outputs:
        return None, "no `go build -o` names what it builds"
    kept = [d for d in made_dirs if not any(o.startswith(posixpath.normpath(d).rstrip("/") + "/") for _, o in outputs)]
    if kept:
        return None, f"it makes {kept[0]}, which the final image would not have"
    return tuple(outputs), None


def _not_compile_only(words: list[str], command: str) -> str | None:
    """Why a simple command of a single stage's RUN is more than compiling Go, or None."""
    if words and words[0] not in _HARMLESS_WORDS:
        return f"its RUN `{command[:60]}` does more than compile Go"
    if words[:2] == ["go", "install"]:
        return "`go install` puts a cross-compiled binary under $GOPATH/bin/<os>_<arch>"
    if words[:2] == ["go", "build"] and "-C" in words:
        return "`go build -C DIR` writes its output relative to DIR"
    return None


def toolchain_stages(
    df: Dockerfile, cgo_files: tuple[str, ...], build_files: Mapping[str, str] | None = None
) -> tuple[GoStage, ...]:
    """The Go stages adapt() gives Debian's C cross toolchain (installed with apt-get)."""
    cgo = _Cgo(cgo_files, build_files or {})
    return tuple(
        g
        for g in go_stages(df)
        if g.kind not in ("cross", "tool") and not _cannot_adapt(df, g, cgo) and cgo.evidence(df, g)
    )


def unbuildable(
    df: Dockerfile, cgo_files: tuple[str, ...], build_files: Mapping[str, str] | None = None
) -> tuple[GoStage, str] | None:
    """A Go stage that adaptation cannot make right and that would give every image a
    build-platform binary if built as it is (cgo on $BUILDPLATFORM without a Debian cross
    toolchain to add): (stage, why), refused before building."""
    cgo = _Cgo(cgo_files, build_files or {})
    for g in go_stages(df):
        why = cgo.evidence(df, g)
        if g.kind == "unwired" and why and not _debian_go(df, g):
            return g, why
    return None


def _split_by_adapting(df: Dockerfile, g: GoStage, cgo: _Cgo) -> bool:
    """Adapting splits G, a final Go stage, into a build stage and a final stage."""
    movable = g.kind in ("cross", "tool") or not _cannot_adapt(df, g, cgo)
    return movable and split_outputs(g)[0] is not None


def _cannot_adapt(df: Dockerfile, g: GoStage, cgo: _Cgo) -> str | None:
    if g.literal:
        return f"it sets {g.literal}, which cannot follow the target platform"
    if g.final:
        outputs, why = split_outputs(g)
        if outputs is None:
            return (
                "it is also the final image, so on $BUILDPLATFORM every image would hold the build platform's "
                f"programs, and it cannot be split into a build stage and a final stage ({why}): it stays on "
                "the target platform"
            )
    if g.kind == "emulated" and g.shared:
        return (
            f"its base stage {g.root.name or g.root.index} is also the base of stage {g.shared}, "
            "which must stay on the target platform"
        )
    if g.kind == "emulated":
        why = _probes_machine(df, g, cgo) or _takes_system_files(df, g)
        if why:
            return f"{why}: it stays on the target platform"
    why = cgo.evidence(df, g)
    if g.kind == "emulated" and why and not _debian_go(df, g):
        return (
            f"it compiles cgo ({why}) on {base_image(df, g.root)}, which is not a Debian-based Go image "
            "(no Debian cross toolchain to add), so it stays on the target platform (under QEMU); set "
            "CGO_ENABLED=0 if cgo is not needed"
        )
    if g.kind == "unwired" and why and not _debian_go(df, g):
        return (
            f"it compiles cgo ({why}) on $BUILDPLATFORM with {base_image(df, g.root)}, which is not a "
            "Debian-based Go image: there is no Debian cross toolchain to add, and without one every image "
            "would get a build-platform binary"
        )
    return None


MACHINE_PROBE = re.compile(r"\buname\s+-[a-z]*m|\bdpkg\s+--print-architecture|\bGOHOSTARCH\b|\barch\s*\)|\$\(arch\)")
SYSTEM_DIRS = ("bin/", "sbin/", "usr/bin/", "usr/sbin/", "lib/", "lib64/", "usr/lib/", "usr/lib64/", "usr/libexec/")


def _probes_machine(df: Dockerfile, g: GoStage, cgo: _Cgo) -> str | None:
    """A RUN or a build file that derives GOARCH from the machine it runs on (uname -m,
    dpkg --print-architecture): on $BUILDPLATFORM that would be the build platform's."""
    texts = [(f"its RUN `{i.command[:50]}`", i.command) for st in chain(df, g.stage) for i in st.instructions]
    texts += [(name, body) for name, body in cgo.used_by(g)]
    for where, text in texts:
        probe = MACHINE_PROBE.search(text)
        if probe and re.search(r"\bGOARCH\b", text):
            return f"{where} derives GOARCH from the machine it runs on ({probe.group(0)})"
    return None


def _takes_system_files(df: Dockerfile, g: GoStage) -> str | None:
    """Another stage copies from G a program or library of its base image (/bin/busybox,
    /usr/lib/...): moved to $BUILDPLATFORM, those would be the build platform's."""
    outputs = {o for o in _GO_OUTPUT_ANY.findall(" ".join(i.command for i in g.stage.instructions))}
    for st in df.stages:
        for ins in st.instructions:
            if ins.keyword != "COPY" or not re.search(
                rf"--from={re.escape(g.stage.name or str(g.stage.index))}\b", ins.args
            ):
                continue
            words = [w for w in ins.command.split() if not w.startswith("--")]
            for src in words[:-1]:
                path = src.lstrip("/")
                if path.startswith(SYSTEM_DIRS) and src not in outputs and not path.startswith("usr/local/"):
                    return f"stage {st.name or st.index} copies {src} from it, a file of its base image"
    return None


_GO_OUTPUT_ANY = re.compile(r"\s-o(?:=|\s+)[\"']?([^\s\"';&|]+)")


EXTERNAL_LINK = re.compile(r"-linkmode[= ]+[\"']?external")
CGO_SETTING = re.compile(r"\bCGO_ENABLED\s*(?::=|\?=|=)\s*[\"']?([01])\b")


@attrs.frozen
class _Cgo:
    """What says whether a Go stage compiles cgo: the project's import graph (FILES that
    import "C") and the build files its RUNs run (BUILD: "TOOL:path" -> text, TOOL being
    make, task, just or script: stages.build_files)."""

    files: tuple[str, ...]
    build: Mapping[str, str]

    def evidence(self, df: Dockerfile, g: GoStage) -> str | None:
        """Why G compiles cgo, or None: the stage's own lines decide first (CGO_ENABLED=0 or
        =1 in a RUN, ENV or ARG), then a Makefile or script it runs, then the import graph."""
        text = " ".join(i.command for st in chain(df, g.stage) for i in st.instructions)
        own = {m.group(1) for m in CGO_SETTING.finditer(text)}
        if "1" in own:
            return "the Dockerfile sets CGO_ENABLED=1"
        if "0" in own:
            return None
        if EXTERNAL_LINK.search(text):
            return "it links with -linkmode external, which needs cgo"
        said = {name: {m.group(1) for m in CGO_SETTING.finditer(body)} for name, body in self.used_by(g)}
        on = [name for name, values in said.items() if values == {"1"}]
        if on:
            return f"{on[0]} sets CGO_ENABLED=1"
        if any(values for values in said.values()):
            return None  # off, or on only on one branch (CGO_ENABLED=1 for -race, =0 otherwise)
        if any(EXTERNAL_LINK.search(body) for _, body in self.used_by(g)):
            return "its build file links with -linkmode external, which needs cgo"
        return f'{self.files[0]} imports "C"' if self.files else None

    def used_by(self, g: GoStage) -> list[tuple[str, str]]:
        """The build files G's compile runs: the tool's own files (Makefiles and what they
        include, a Taskfile, a justfile) or its script."""
        if g.how.startswith("script "):
            wanted = "script:" + g.how.removeprefix("script ").removeprefix("./")
            return [(key.partition(":")[2], text) for key, text in self.build.items() if key == wanted]
        return [(key.partition(":")[2], text) for key, text in self.build.items() if key.startswith(f"{g.how}:")]


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
        self.tail: list[str] = []  # lines added after the last one (a split final stage)
        self.before: dict[int, list[str]] = {}  # lines added before a line
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
        go_runs = [ins for ins in st.instructions if _mounted(ins) and "type=cache" not in ins.args]
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
        # right before the stage's first compile: the RUNs before it (tools, generators run
        # with `go run`) still build for the build platform, where they run
        at = next((i for i in st.instructions if i.keyword == "RUN" and compile_how(i, go_base=True)), None)
        if at is None:
            first, last, head_lines = self._head(st)
            self.edits[first] = (last, head_lines + inject)
        else:
            self.before.setdefault(at.line - 1, []).extend(inject)
        line = at.line if at is not None else st.head.line
        self.changes.append(f"{self.filename}:{line}: GOARCH=$TARGETARCH added to stage {st.name or st.index}")

    def split_final(self, g: GoStage, outputs: tuple[tuple[int, str], ...]) -> None:
        """The final Go stage as two: itself, named, compiling on $BUILDPLATFORM, and after it
        a final stage FROM the same image on the target platform with every instruction but
        its RUNs, and what each `go build -o` made copied in where that RUN was."""
        st = g.stage
        name = st.name or SPLIT_NAME
        if not st.name:
            first, last, head_lines = self._head(st)
            self.edits[first] = (last, [*head_lines[:-1], f"{head_lines[-1]} AS {SPLIT_NAME}"])
        made = dict[int, list[str]]()
        for n, out in outputs:
            made.setdefault(n, []).append(out)
        tail = [
            "",
            f"# buildx-go: the final image, per target platform: stage {name} without its RUNs",
            f"FROM {st.base}",
        ]
        for n, ins in enumerate(st.instructions):
            if ins.keyword != "RUN":
                tail += self.lines[ins.line - 1 : ins.end_line]
            tail += [f"COPY --from={name} {out} {out}" for out in made.get(n, ())]
        self.tail = tail
        self.changes.append(
            f"{self.filename}:{st.head.line}: stage {g.name} split: it compiles on $BUILDPLATFORM, the final stage "
            f"runs on the target platform with {', '.join(o for _, o in outputs)} copied from it"
        )

    def cgo_toolchain(self, g: GoStage, packages: tuple[str, ...], why: str) -> None:
        """Debian's cross toolchain for the target, and CC/PKG_CONFIG pointing at it (the
        stage's own RUNs then cross-compile C as well as Go); WHY: what says it compiles cgo."""
        st = g.stage
        first, last, head_lines = self._head(st)
        env = f"ENV CGO_ENABLED=1 CC={CC_WRAPPER} CXX={CXX_WRAPPER} PKG_CONFIG={PKG_CONFIG_WRAPPER}"
        self.edits[first] = (last, [*head_lines, "ARG TARGETARCH", *cgo_toolchain(packages, wrappers=True), env])
        libs = f" and {', '.join(packages)} for the target" if packages else " (C libraries for it: --cgo-package)"
        self.changes.append(
            f"{self.filename}:{st.head.line}: cgo ({why}): Debian's cross toolchain for the target{libs} in "
            f"stage {g.name}"
        )

    def unshadow_platform_args(self, df: Dockerfile) -> None:
        """A global `ARG TARGETARCH` (or another platform ARG) without a value: the Docker
        engine's own BuildKit then gives a stage's `ARG TARGETARCH` that empty value, not the
        target's (newer BuildKit gives the target's), so the GOARCH adaptation feeds would be
        empty. BuildKit sets the platform ARGs before the first FROM anyway: left out."""
        for ins in df.global_args:
            parts = ins.args.split()
            dropped = [a for a in parts if a in AUTOMATIC_ARGS]  # no `=`: declared without a value
            if not dropped:
                continue
            keep = [a for a in parts if a not in dropped]
            self.edits[ins.line - 1] = (ins.end_line - 1, [f"ARG {' '.join(keep)}"] if keep else [])
            self.changes.append(
                f"{self.filename}:{ins.line}: global ARG {' '.join(dropped)} without a value left out (the Docker "
                "engine's BuildKit would give the stages an empty value; BuildKit sets it before the first FROM)"
            )

    def install_dirs(self, g: GoStage) -> None:
        """After each RUN of G that runs `go install` (the project's own packages, not a
        tool at a version): cross-compiled, go puts the binary in $GOPATH/bin/GOOS_GOARCH;
        it is moved to $GOPATH/bin, where a native build leaves it (and COPY --from looks)."""
        runs = [
            i
            for i in g.stage.instructions
            if i.keyword == "RUN"
            and any(not tool_install(i.command[m.end() :]) for m in GO_INSTALL.finditer(i.command))
        ]
        for ins in runs:
            self.before.setdefault(ins.end_line, []).append(INSTALL_DIR_RUN)
        if runs:
            self.changes.append(
                f"{self.filename}:{runs[0].line}: `go install` output moved from $GOPATH/bin/<os>_<arch> to "
                "$GOPATH/bin, where a native build puts it"
            )

    def applied(self) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(self.lines):
            out.extend(self.before.get(i, ()))
            if i in self.edits:
                last, repl = self.edits[i]
                out.extend(repl)
                i = last + 1
            else:
                out.append(self.lines[i])
                i += 1
        return out + list(self.before.get(len(self.lines), ())) + self.tail


GO_INSTALL = re.compile(r"\bgo\s+install\b")
INSTALL_DIR_RUN = (
    'RUN bin="$(go env GOPATH)/bin"; d="$bin/$(go env GOOS)_$(go env GOARCH)"; '
    'if [ -d "$d" ]; then mv "$d"/* "$bin"/ && rmdir "$d"; fi'
)
_APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\b([^;&|\n]*)")


def _dev_packages(df: Dockerfile, g: GoStage) -> list[str]:
    """The C libraries (Debian -dev packages) G's chain installs with apt-get: for the build
    platform as written; the cross toolchain needs them for the target too."""
    found = []
    for st in chain(df, g.stage):
        for ins in st.instructions:
            for m in _APT_INSTALL.finditer(ins.command if ins.keyword == "RUN" else ""):
                words = m.group(1).replace("\\", " ").split()
                found += [w.split("=")[0] for w in words if re.fullmatch(r"[a-z0-9][a-z0-9.+-]*-dev(=\S+)?", w)]
    return found


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
    build_files: Mapping[str, str] | None = None,
) -> tuple[Lint, ...]:
    """What would go wrong (or slowly) building DF for PLATFORMS on a NATIVE builder."""
    cgo = _Cgo(cgo_files, build_files or {})
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
            if g.kind not in ("cross", "tool") and (reason := _cannot_adapt(df, g, cgo))
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
    out += _final_stage(df, found, foreign, split=adapted and not generated and _splits(df, found, cgo))
    if generated:
        out += _cgo_generated(cgo_files)
    elif foreign:
        out += _cgo(df, found, cgo, adapted)
    return tuple(out)


def _splits(df: Dockerfile, found: tuple[GoStage, ...], cgo: _Cgo) -> bool:
    return any(g.final and _split_by_adapting(df, g, cgo) for g in found)


def _final_stage(df: Dockerfile, found: tuple[GoStage, ...], foreign: list[Platform], split: bool) -> list[Lint]:
    """The final stage's own lints: built on $BUILDPLATFORM (every image the build platform's),
    or RUNs under emulation (none left once SPLIT moved its compile out)."""
    out = []
    runs = [] if split else [ins for ins in df.stages[-1].instructions if ins.keyword == "RUN"]
    final_root = chain(df, df.stages[-1])[0]
    on_build = "BUILDPLATFORM" in (final_root.platform or "") and not split
    if on_build and foreign:
        why = (
            f"the final stage is built on $BUILDPLATFORM (its chain starts at line {final_root.head.line}): every "
            "image would be the build platform's image, its programs and config, whatever the target"
        )
        out.append(Lint("final-on-build-platform", why, df.stages[-1].head.line))
    if runs and foreign and not on_build:
        why = (
            f"RUN in the final stage runs under emulation for {', '.join(map(str, foreign))}: "
            "the builder needs QEMU/binfmt for them"
        )
        out.append(Lint("run-needs-emulation", why, runs[0].line))
    return out


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


def _cgo_generated(cgo_files: tuple[str, ...]) -> list[Lint]:
    if not cgo_files:
        return []
    why = (
        f"cgo is used ({', '.join(cgo_files[:3])}) but the generated Dockerfile builds with CGO_ENABLED=0 (--cgo "
        "off): those files are left out; --cgo on cross-compiles them with Debian's toolchains"
    )
    return [Lint("cgo-disabled", why)]


def _cgo(df: Dockerfile, found: tuple[GoStage, ...], cgo: _Cgo, adapted: bool) -> list[Lint]:
    """What each Go stage that compiles cgo will do with it: under QEMU per target (emulated,
    and staying so), or on the build platform without a C cross toolchain (cross, or not
    adapted). A stage adaptation gives Debian's cross toolchain has nothing to say."""
    out = []
    for g in found:
        why = cgo.evidence(df, g)
        if not why:
            continue
        stays = not adapted or bool(g.kind not in ("cross", "tool") and _cannot_adapt(df, g, cgo))
        if g.kind == "emulated" and stays:
            text = f"cgo is used ({why}): stage {g.name} compiles it per target platform under QEMU (slow, but with "
            out.append(Lint("cgo-emulated", text + "the target's own C compiler)", g.stage.head.line))
        elif g.kind == "cross" or (g.kind == "unwired" and stays):
            if re.search(r"\bxx-(go|clang|apt|apk)\b", " ".join(i.command for i in g.stage.instructions)):
                continue  # tonistiigi/xx brings the target's C toolchain
            text = (
                f"cgo is used ({why}) by stage {g.name}, which runs on {g.where}: cross-compiling C needs a C "
                "cross toolchain for each target (e.g. tonistiigi/xx), or CGO_ENABLED=0"
            )
            out.append(Lint("cgo-cross", text, g.stage.head.line))
    return out
