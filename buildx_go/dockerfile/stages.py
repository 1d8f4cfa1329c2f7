"""Which stages of a Dockerfile compile Go, how, and on which platform (pure).

A Go stage runs ``go build``/``go install`` (or ``xx-go``), or ``make``/a build script in a
stage whose chain of ``FROM <stage>`` ends in a Go image (or in a stage that compiles Go).
BuildKit takes the platform of a chain from its root's ``FROM``: a ``--platform`` on a
``FROM <stage>`` is ignored. Each Go stage is then:

  cross     on $BUILDPLATFORM (or a fixed platform) with GOARCH fed from the target
  unwired   on $BUILDPLATFORM, nothing feeding GOARCH from the target: every image would
            hold a binary for the build platform
  emulated  on the target platform: compiles under QEMU for foreign platforms (GOARCH comes
            from the platform, so the binary is right, only ~12x slower)
  tool      on $BUILDPLATFORM, building a tool that only other Go stages use (stringer,
            protoc plugins): it must stay a build-platform binary
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Literal

import attrs

from buildx_go.dockerfile.parse import Dockerfile, Instruction, Stage

Kind = Literal["cross", "unwired", "emulated", "tool"]
# a command word: at the start, after a separator (&& || ; | ( newline, a quote of sh -c),
# after `then`/`do`/`time`/`exec`/`env`, and after VAR=value assignments
_AT_COMMAND = r"(?:^|&&|\|\||[;|(\n\"'`]|\b(?:then|do|time|exec|env)\s)\s*(?:[A-Za-z_]\w*=\S*\s+)*"
GO_COMPILE = re.compile(_AT_COMMAND + r"((?:xx-)?go\s+(?:build|install)|go\s+run\s+\S*mage\S*)\b")
INDIRECT = re.compile(
    _AT_COMMAND + r"(make|mage|task|just|goreleaser\s+build|(?:bash\s+|sh\s+)?\.?/?[\w./-]*\.sh|\./[\w./-]*build\w*)"
    r"(?=\s|$|;|&|\||\)|\"|')"
)
# ARGs buildx sets itself: never "an ARG with another name that carries the architecture"
AUTOMATIC_ARGS = frozenset(f"{w}{x}" for w in ("TARGET", "BUILD") for x in ("PLATFORM", "OS", "ARCH", "VARIANT"))
XX = re.compile(r"\bxx-(go|info|apt|apk|clang)\b")
TARGET_ARCH = re.compile(r"\$\{?(TARGETARCH|TARGETPLATFORM)\b")
ARCHES = ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
LITERAL = re.compile(r"\bGOARCH\s*=\s*[\"']?(amd64|arm64|arm|386|ppc64le|s390x|riscv64)\b")


@attrs.frozen
class GoStage:
    stage: Stage
    root: Stage  # the chain's first stage: its FROM decides the platform
    kind: Kind
    how: str  # "go build", "make", "script ./build.sh", ...
    where: str  # "$BUILDPLATFORM", "the target platform", or the fixed platform
    arch_args: tuple[str, ...]  # ARGs that carry the architecture (GOARCH, ARCH, TARGET_GOARCH, ...)
    literal: str | None  # GOARCH written as a value in a RUN or ENV (GOARCH=amd64): cannot be adapted
    shared: str | None  # a non-Go stage built on the same root (the root cannot move)
    wired: bool = False  # something feeds GOARCH from the target (TARGETARCH, xx-go)
    fixed_default: str | None = None  # an arch ARG with a value as default (ARG GOARCH=amd64)
    tool: bool = False  # only other Go stages use what it builds
    ignored_platform: str | None = None  # `FROM --platform=P stage`: BuildKit ignores P there
    final: bool = False  # it is the final stage: what it runs on is what every image holds

    @property
    def name(self) -> str:
        return self.stage.name or str(self.stage.index)

    def describe(self) -> str:
        feed = {
            "cross": "GOARCH from the target",
            "unwired": "nothing sets GOARCH from the target",
            "emulated": "compiling under emulation for foreign platforms",
            "tool": "a tool for other Go stages, built for the build platform",
        }[self.kind]
        return f"stage {self.name} ({self.how}, on {self.where}{self.ignored_note()}): {feed}"

    def ignored_note(self) -> str:
        if not self.ignored_platform:
            return ""
        return f"; `{self.ignored_platform}` is ignored, a stage built FROM a stage runs on that stage's platform"


def chain(df: Dockerfile, stage: Stage) -> list[Stage]:
    """STAGE and the stages it is built FROM, root first."""
    out = [stage]
    while True:
        parent = df.stage_named(out[0].base)
        if parent is None or parent.index >= out[0].index or parent in out:
            return out
        out.insert(0, parent)


def base_image(df: Dockerfile, stage: Stage) -> str:
    """The root's image with global ARG defaults substituted (FROM golang:${GO_VERSION})."""
    return _expand(stage.base, _arg_defaults(df.global_args))


def is_go_image(image: str) -> bool:
    """golang, library/golang, registry/.../golang:1.22-bookworm, .../go:..."""
    repo = re.split(r"[:@]", image.rsplit("/", 1)[-1], maxsplit=1)[0].lower()
    return repo.startswith("golang") or repo == "go"


def compile_how(ins: Instruction, go_base: bool) -> str | None:
    """How a RUN compiles Go: `go build`, `make`, `script ./build.sh`, ... or None."""
    text = re.sub(r"^(--\S+\s+)+", "", ins.command)  # RUN --mount=... flags
    for m in GO_COMPILE.finditer(text):
        if not tool_install(text[m.end() :]):
            return " ".join(m.group(1).split())
    indirect = INDIRECT.search(text) if go_base else None
    if indirect:
        word = indirect.group(1).split()[-1]
        return word if word in ("make", "mage", "task", "just") else f"script {word}"
    return None


def tool_install(rest: str) -> bool:
    """`go install PKG@VERSION ...`: a tool fetched at a version, for the build platform, not
    the project's own code (REST: what follows `go install`)."""
    words = re.split(r"&&|\|\||;|\||\n", rest, maxsplit=1)[0].split()
    packages = [w for w in words if not w.startswith("-")]
    return bool(packages) and all("@" in w for w in packages)


def needed(df: Dockerfile) -> frozenset[int]:
    """The stages BuildKit builds for the final stage: those it is built FROM and takes files
    from (COPY --from, RUN --mount from=), and theirs in turn. Others are never run."""
    todo, seen = [len(df.stages) - 1], set()
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        st = df.stages[index]
        todo += [s.index for s in chain(df, st)[:-1]]
        for ins in st.instructions:
            todo += _references(df, ins)
    return frozenset(seen)


def go_stages(df: Dockerfile) -> tuple[GoStage, ...]:
    """Every stage that compiles Go and that the final stage needs, classified."""
    compiling: dict[int, str] = {}
    for st in df.stages:
        links = chain(df, st)
        go_base = is_go_image(base_image(df, links[0])) or any(s.index in compiling for s in links[:-1])
        for ins in st.instructions:
            how = compile_how(ins, go_base) if ins.keyword == "RUN" else None
            if how:
                compiling.setdefault(st.index, how)
    related = {s.index for i in compiling for s in chain(df, df.stages[i])}
    used = needed(df)
    unused = set(range(len(df.stages))) - used  # never built: they share nothing that matters
    out = []
    for index, how in sorted(compiling.items()):
        if index not in used:
            continue
        st = df.stages[index]
        links = chain(df, st)
        out.append(_classify(df, st, links, how, related | unused, _is_tool(df, st, set(compiling))))
    return tuple(out)


def _references(df: Dockerfile, ins: Instruction) -> set[int]:
    """Stages an instruction takes files from: COPY --from=S, RUN --mount=...,from=S."""
    names = re.findall(r"--from=([^\s,]+)", ins.args) + re.findall(r"--mount=\S*\bfrom=([^\s,]+)", ins.args)
    out = set()
    for name in names:
        st = df.stage_named(name) or (df.stages[int(name)] if name.isdigit() and int(name) < len(df.stages) else None)
        if st is not None:
            out.add(st.index)
    return out


def _is_tool(df: Dockerfile, st: Stage, compiling: set[int]) -> bool:
    """Only other Go stages take files from ST, and no stage is built FROM it."""
    if any(st in chain(df, other) for other in df.stages if other is not st):
        return False
    users = [other for other in df.stages for ins in other.instructions if st.index in _references(df, ins)]
    return bool(users) and all(u.index in compiling and u is not st for u in users)


def _classify(df: Dockerfile, st: Stage, links: list[Stage], how: str, aside: set[int], tool: bool) -> GoStage:
    """ST classified; ASIDE: stages whose sharing its root does not matter (Go stages' chains, unused ones)."""
    root = links[0]
    platform = root.platform or ""
    if "BUILDPLATFORM" in platform:
        where = "$BUILDPLATFORM"
    elif not platform or "TARGETPLATFORM" in platform:
        where = "the target platform"
    else:
        where = platform
    texts = [i.command for s in links for i in s.instructions if i.keyword in ("RUN", "ENV")]
    literal = next((m.group(0) for t in texts if (m := LITERAL.search(t))), None)
    defaults = {k: v for s in links for k, v in _arg_defaults(s.instructions).items()}
    texts += [f"{k}={v}" for k, v in defaults.items()]  # ARG ARCH=$TARGETARCH
    declared = {a for s in links for a in s.args_declared()}
    wired = _wired(texts, declared)
    arch_args = tuple(
        sorted(
            a
            for a in declared
            if a in ("GOARCH", "GOOS")
            or (a not in AUTOMATIC_ARGS and any(re.search(rf"GO(ARCH|OS)=[\"']?\$\{{?{a}\b", t) for t in texts))
        )
    )
    shared = next(
        (s.name or str(s.index) for s in df.stages if s.index not in aside and root in chain(df, s) and s is not root),
        None,
    )
    kind: Kind = "emulated" if where == "the target platform" else ("cross" if wired else "unwired")
    if tool and kind != "emulated":
        kind = "tool"
    fixed = next((f"{a}={defaults[a]}" for a in arch_args if defaults.get(a) in ARCHES), None)
    ignored = next((f"FROM --platform={s.platform} {s.base}" for s in links[1:] if s.platform), None)
    final = st.index == len(df.stages) - 1
    return GoStage(st, root, kind, how, where, arch_args, literal, shared, wired, fixed, tool, ignored, final)


def _wired(texts: list[str], declared: set[str]) -> bool:
    """Whether the target's architecture reaches GOARCH: xx-go (and its kin), or TARGETARCH
    or TARGETPLATFORM, declared in the stage's chain (a RUN sees only the ARGs its stage
    declares: a global ARG alone is empty there), in a command that sets GOARCH or runs a
    build tool (make GOARCH=..., ./build.sh $TARGETARCH), or in an ARG that one of those uses."""
    if any(XX.search(t) for t in texts):
        return True
    if not declared & {"TARGETARCH", "TARGETPLATFORM"}:
        return False
    carriers = {"TARGETARCH", "TARGETPLATFORM"}
    carriers |= {k for t in texts for k, _, v in [t.partition("=")] if k.isidentifier() and TARGET_ARCH.search(v)}
    for text in texts:
        for part in re.split(r"&&|\|\||;|\||\n", text):
            uses = any(re.search(rf"\$\{{?{name}\b", part) for name in carriers)
            if uses and (re.search(r"\bGOARCH\b", part) or INDIRECT.search(part)):
                return True
    return False


def _arg_defaults(instructions: tuple[Instruction, ...]) -> dict[str, str]:
    """NAME -> default of the ARG instructions that give one."""
    out = {}
    for ins in instructions:
        if ins.keyword == "ARG":
            for part in ins.args.split():
                key, eq, value = part.partition("=")
                if eq:
                    out[key] = value.strip("\"'")
    return out


TOOL_FILES = {
    "make": ("GNUmakefile", "makefile", "Makefile"),
    "task": ("Taskfile.yml", "Taskfile.yaml"),
    "just": ("justfile", "Justfile", ".justfile"),
}


def build_files(df: Dockerfile) -> tuple[str, ...]:
    """The project files the Go stages' compile RUNs run, as "TOOL:path" (relative to the
    build context): make's Makefiles, a Taskfile or justfile, or the script itself. They
    say what the Dockerfile does not, such as CGO_ENABLED=1."""
    out: list[str] = []
    for g in go_stages(df):
        if g.how.startswith("script "):
            path = g.how.removeprefix("script ").removeprefix("./")
            out += [f"script:{path}"] if "$" not in path and not path.startswith("/") else []
        else:
            out += [f"{g.how}:{name}" for name in TOOL_FILES.get(g.how, ())]
    return tuple(dict.fromkeys(out))


def summary(df: Dockerfile) -> str:
    """What the Go stages do, for the plan's reason: never more than was found."""
    found = go_stages(df)
    if not found:
        return "no stage compiles Go (binaries come from the build context)"
    return "; ".join(g.describe() for g in found)


def style(df: Dockerfile, stages: tuple[GoStage, ...]) -> str:
    """buildx (every Go stage cross-compiles), goarch-recipe (an ARG GOARCH feeds go build),
    or other (including no Go stage)."""
    if stages and all(g.kind in ("cross", "tool") for g in stages):
        return "buildx"
    global_goarch = any(a.args.split("=", 1)[0].strip() == "GOARCH" for a in df.global_args)
    if global_goarch or any("GOARCH" in g.arch_args for g in stages):
        return "goarch-recipe"
    return "other"


BINARY_PATH = re.compile(r"(^|/)(bin|dist|build|out|_output|target)/|\$\{?TARGET(ARCH|OS|PLATFORM|VARIANT)")


def prebuilt_copies(df: Dockerfile) -> tuple[Instruction, ...]:
    """COPY/ADD instructions of the final stage that take a file from the build context
    (not --from) and look like a binary: bin/, dist/, build/, out/ paths, or per-platform
    paths ($TARGETARCH). Only meaningful when no stage compiles Go."""
    final = df.stages[-1]
    out = []
    args = _final_args(df)
    entry = _entrypoint(final)
    for ins in final.instructions:
        if ins.keyword not in ("COPY", "ADD") or "--from" in ins.args:
            continue
        sources, dest = _copy_words(ins)
        expanded = [_expand(s, args) for s in sources]
        targets = {dest} | {dest.rstrip("/") + "/" + s.rsplit("/", 1)[-1] for s in expanded if dest.endswith("/")}
        if any(BINARY_PATH.search(s) for s in [*sources, *expanded]) or (entry and entry in targets):
            out.append(ins)
    return tuple(out)


# $NAME, ${NAME}, and BuildKit's ${NAME:-word} ${NAME-word} ${NAME:+word} ${NAME+word}
_ARG_REF = re.compile(r"\$(?:\{(\w+)(?:(:?[-+])([^}]*))?\}|(\w+))")


def _names(text: str) -> set[str]:
    """The variables TEXT refers to."""
    return {m.group(1) or m.group(4) for m in _ARG_REF.finditer(text)}


def _expand(text: str, args: dict[str, str]) -> str:
    """TEXT with its variables expanded from ARGS; a variable ARGS does not hold (and has no
    default word) is left as it is."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        return _value(m, args) if name in args or m.group(2) else m.group(0)

    return _ARG_REF.sub(one, text)


def platform_args(os_: str, arch: str, variant: str | None, native: tuple[str, str]) -> dict[str, str]:
    """The ARGs buildx sets for a target platform (and the build platform, NATIVE os/arch)."""
    out: dict[str, str] = {}
    for prefix, (o, a, v) in (("TARGET", (os_, arch, variant)), ("BUILD", (*native, None))):
        out |= {
            f"{prefix}OS": o,
            f"{prefix}ARCH": a,
            f"{prefix}VARIANT": v or "",
            f"{prefix}PLATFORM": "/".join(x for x in (o, a, v) if x),
        }
    return out


def stage_values(
    df: Dockerfile, stage: Stage, upto: int, build_args: Mapping[str, str], automatic: Mapping[str, str]
) -> dict[str, str]:
    """The variables STAGE's instruction number UPTO sees, as BuildKit expands them: each ARG
    declared in the stage before it (its --build-arg, else a platform ARG's value, else its
    default, else the global ARG's default, else empty) and each ENV set before it."""
    globals_ = {}
    for ins in df.global_args:
        for part in ins.args.split():
            name, eq, default = part.partition("=")
            globals_[name] = build_args.get(name, default.strip("\"'") if eq else "")
    values: dict[str, str] = {}
    for ins in stage.instructions[:upto]:
        if ins.keyword == "ARG":
            for part in ins.args.split():
                name, eq, default = part.partition("=")
                if name in build_args:
                    values[name] = build_args[name]
                elif name in automatic:
                    values[name] = automatic[name]
                elif eq:
                    values[name] = _substitute(default.strip("\"'"), values)
                else:
                    values[name] = globals_.get(name, "")
        elif ins.keyword == "ENV":
            for key, value in _env_pairs(ins.args):
                values[key] = _substitute(value, values)
    return values


def _substitute(text: str, values: Mapping[str, str]) -> str:
    """TEXT with its variables expanded from VALUES as BuildKit's shell lexer does: an unset
    one is empty; ${NAME:-word} is word when NAME is unset or empty (${NAME-word}: unset),
    ${NAME:+word} word when it is set and not empty (${NAME+word}: set)."""
    return _ARG_REF.sub(lambda m: _value(m, values), text)


def _value(m: re.Match[str], values: Mapping[str, str]) -> str:
    name, op, word = m.group(1) or m.group(4), m.group(2), m.group(3) or ""
    value = values.get(name)
    if not op:
        return value or ""
    present = value is not None and (value != "" or not op.startswith(":"))
    if op.endswith("-"):
        return value if present and value is not None else _substitute(word, values)
    return _substitute(word, values) if present else ""


def _env_pairs(args: str) -> list[tuple[str, str]]:
    """ENV's KEY=VALUE pairs (or the old `ENV KEY VALUE` form)."""
    words = args.split()
    if words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    return [(k, v.strip("\"'")) for k, _, v in (w.partition("=") for w in words)]


@attrs.frozen
class PrebuiltSource:
    """A file the final stage copies from the build context, as one platform's build sees it."""

    copy: Instruction
    path: str  # expanded for the platform, relative to the context
    undeclared: tuple[str, ...] = ()  # platform ARGs it uses that the stage never declares (so empty)


def prebuilt_sources(
    df: Dockerfile, build_args: Mapping[str, str], automatic: Mapping[str, str]
) -> tuple[PrebuiltSource, ...]:
    """The sources of prebuilt-binary copies (prebuilt_copies) as BuildKit expands them for
    one platform (AUTOMATIC: platform_args): --build-arg values, TARGET* values, defaults.
    Sources whose variables are set by nothing in the Dockerfile (an ENV of the base image),
    or that hold wildcards, are left out: their file cannot be told here."""
    final = df.stages[-1]
    out = []
    copies = set(prebuilt_copies(df))
    for n, ins in enumerate(final.instructions):
        if ins not in copies:
            continue
        values = stage_values(df, final, n, build_args, automatic)
        for src in _copy_words(ins)[0]:
            if src.startswith("<<"):
                continue  # a heredoc: its content is in the Dockerfile, not the context
            unknown = {n for n in _names(src) if not _defaulted(src, n)} - set(values)
            undeclared = tuple(sorted(unknown & set(automatic)))  # BuildKit: empty unless declared
            if unknown - set(undeclared) or re.search(r"[*?\[]", src) or "://" in src:
                continue  # set by nothing here (the base image's ENV?), or a pattern
            path = posixpath.normpath(_substitute(src, values)).lstrip("/")
            out.append(PrebuiltSource(ins, path, undeclared))
    return tuple(out)


def _defaulted(text: str, name: str) -> bool:
    """Every reference to NAME in TEXT gives a word of its own when NAME is unset (${NAME:-w})."""
    refs = [m for m in _ARG_REF.finditer(text) if (m.group(1) or m.group(4)) == name]
    return bool(refs) and all(m.group(2) in (":-", "-") for m in refs)


def _final_args(df: Dockerfile) -> dict[str, str]:
    """The ARG defaults the final stage sees (global ones, then its own)."""
    return {**_arg_defaults(df.global_args), **_arg_defaults(df.stages[-1].instructions)}


def _copy_words(ins: Instruction) -> tuple[list[str], str]:
    """A COPY/ADD's sources and destination (flags left out; heredoc sources, `<<EOF`, and
    their bodies too: their content is the Dockerfile's, not the context's)."""
    line = ins.command
    if re.search(r"(^|\s)<<-?[\"']?\w", line):
        line = line.split("\n", 1)[0]
    words = [w for w in line.split() if not w.startswith("--")]
    sources = [w for w in words[:-1] if not w.startswith("<<")]
    return sources, words[-1] if words else ""


def _entrypoint(stage: Stage) -> str | None:
    """The program an ENTRYPOINT (else CMD) starts, as a path."""
    for keyword in ("ENTRYPOINT", "CMD"):
        found = [i for i in stage.instructions if i.keyword == keyword]
        if found:
            words = found[-1].command.split()
            return words[0] if words else None
    return None
