"""What a Dockerfile does: instructions, stages, and its style (pure, text in)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from buildx_go.errors import InputError

if TYPE_CHECKING:
    from buildx_go.effects import Files

CANDIDATES = ("Dockerfile", "docker/Dockerfile")
GO_BUILD = r"\bgo\s+(build|install)\b"
_DIRECTIVE = re.compile(r"^#\s*(\w+)\s*=\s*(.*?)\s*$")


INSTRUCTIONS = frozenset(
    "FROM RUN CMD LABEL MAINTAINER EXPOSE ENV ADD COPY ENTRYPOINT VOLUME USER WORKDIR ARG ONBUILD "  # noqa: SIM905
    "STOPSIGNAL HEALTHCHECK SHELL".split()
)


@attrs.frozen
class Instruction:
    keyword: str  # upper case
    args: str  # the rest, continuations joined
    line: int  # first line, 1-based
    end_line: int  # last line

    @property
    def command(self) -> str:
        """ARGS with a JSON (exec) form read as the words it holds: ``["go", "build"]`` is
        ``go build``; flags such as ``--mount=...`` stay in front."""
        flags: list[str] = []
        rest = self.args
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.lstrip()
        if rest.startswith("["):
            try:
                words = json.loads(rest)
            except ValueError:
                words = None
            if isinstance(words, list) and all(isinstance(w, str) for w in words):
                rest = " ".join(words)
        return " ".join([*flags, rest]) if flags else rest


@attrs.frozen
class Stage:
    index: int
    base: str
    name: str | None
    platform: str | None  # the --platform= value of FROM
    instructions: tuple[Instruction, ...]
    head: Instruction  # the FROM instruction itself

    def args_declared(self) -> set[str]:
        names = set()
        for ins in self.instructions:
            if ins.keyword == "ARG":
                for part in ins.args.split():
                    names.add(part.split("=", 1)[0])
        return names

    def runs(self, pattern: str) -> bool:
        rx = re.compile(pattern)
        return any(ins.keyword == "RUN" and rx.search(ins.command) for ins in self.instructions)


@attrs.frozen
class Dockerfile:
    text: str
    directives: dict[str, str]
    global_args: tuple[Instruction, ...]
    stages: tuple[Stage, ...]

    @classmethod
    def parse(cls, text: str, filename: str = "Dockerfile") -> Dockerfile:
        instructions, directives = split_instructions(text)
        global_args: list[Instruction] = []
        stages: list[Stage] = []
        current: list[Instruction] = []
        head: Instruction | None = None

        def close() -> None:
            if head is not None:
                stages.append(_stage(len(stages), head, tuple(current), filename))

        for ins in instructions:
            if ins.keyword == "FROM":
                close()
                head, current = ins, []
            elif head is None:
                if ins.keyword not in INSTRUCTIONS:  # not a Dockerfile: say nothing of its content
                    raise InputError(f"{filename}:{ins.line}: not a Dockerfile instruction", "is --file a Dockerfile?")
                if ins.keyword != "ARG":
                    raise InputError(
                        f"{filename}:{ins.line}: {ins.keyword} before the first FROM", "only ARG may come before FROM"
                    )
                global_args.append(ins)
            else:
                current.append(ins)
        close()
        if not stages:
            raise InputError(f"{filename}: no FROM instruction", "a Dockerfile starts with FROM image")
        return cls(text, directives, tuple(global_args), tuple(stages))

    def args_declared(self) -> set[str]:
        """Every ARG name, global or in any stage."""
        names = {part.split("=", 1)[0] for ins in self.global_args for part in ins.args.split()}
        for stage in self.stages:
            names |= stage.args_declared()
        return names

    def stage_named(self, ref: str) -> Stage | None:
        for st in self.stages:
            if st.name == ref.lower():
                return st
        return None

    @property
    def style(self) -> str:
        """buildx (every Go stage cross-compiles from $BUILDPLATFORM with TARGETARCH),
        goarch-recipe (the article's ``ARG GOARCH`` + ``go build``), or other (stages.py)."""
        from buildx_go.stages import go_stages, style

        return style(self, go_stages(self))


def _stage(index: int, head: Instruction, body: tuple[Instruction, ...], filename: str) -> Stage:
    words = head.args.split()
    platform = None
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        if flag.startswith("--platform="):
            platform = flag.split("=", 1)[1]
    if not words:
        raise InputError(f"{filename}:{head.line}: FROM without an image", "FROM image [AS name]")
    name = None
    if len(words) >= 3 and words[1].lower() == "as":
        name = words[2].lower()
    elif len(words) != 1:
        raise InputError(f"{filename}:{head.line}: malformed FROM {head.args!r}", "FROM [--platform=P] image [AS name]")
    return Stage(index, words[0], name, platform, body, head)


def split_instructions(text: str) -> tuple[list[Instruction], dict[str, str]]:
    """Instructions with line continuations joined and comments dropped; parser directives."""
    directives: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):  # parser directives: only at the very top
        m = _DIRECTIVE.match(lines[i])
        if not m:
            break
        directives[m.group(1).lower()] = m.group(2)
        i += 1
    escape = directives.get("escape", "\\")
    out: list[Instruction] = []
    buf: list[str] = []  # the instruction's lines, continuations joined
    body: list[str] = []  # heredoc lines, as they are
    start = 0
    pending: list[str] = []  # heredoc delimiters still to read, in order
    for n in range(i, len(lines)):
        raw = lines[n]
        if pending:
            body.append(raw)
            if (raw.lstrip("\t") if pending[0].startswith("-") else raw) == pending[0].lstrip("-"):
                pending.pop(0)
                if not pending:
                    out.append(_instruction(buf, body, start + 1, n + 1))
                    buf, body = [], []
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank and comment lines, also inside a continuation (BuildKit skips them too)
        if not buf:
            start = n
        if stripped.endswith(escape):
            buf.append(stripped[: -len(escape)])
            continue
        buf.append(stripped)
        if buf[0].split(None, 1)[0].upper() in ("RUN", "COPY", "ADD"):
            pending = heredocs(" ".join(buf))
            if pending:
                continue
        out.append(_instruction(buf, [], start + 1, n + 1))
        buf = []
    if buf:
        out.append(_instruction(buf, body, start + 1, len(lines)))
    return out, directives


_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][\w-]*)\2")


def heredocs(line: str) -> list[str]:
    """The heredoc delimiters a RUN/COPY/ADD line opens, in order (``-`` first when tabs are
    stripped, as with ``<<-EOT``): ``RUN <<-'EOT' bash`` and ``COPY <<A /a <<B /b`` too."""
    rest = line.strip().partition(" ")[2].lstrip()
    while rest.startswith("--"):
        rest = rest.partition(" ")[2].lstrip()
    if rest.startswith("["):
        return []  # JSON form: no heredocs
    return [("-" if m.group(1) else "") + m.group(3) for m in _HEREDOC.finditer(line)]


def _instruction(parts: list[str], body: list[str], first: int, last: int) -> Instruction:
    """An instruction from its continuation lines (joined by a space) and heredoc BODY (kept
    line by line after the first line)."""
    joined = " ".join(p.strip() for p in parts if p.strip())
    keyword, _, rest = joined.partition(" ")
    args = "\n".join([rest.strip(), *body]) if body else rest.strip()
    return Instruction(keyword.upper(), args, first, last)


def find_dockerfile(root: Path, explicit: str | None, files: Files) -> Path | None:
    """--file (relative to ROOT unless absolute), else Dockerfile or docker/Dockerfile."""
    if explicit:
        path = Path(explicit) if Path(explicit).is_absolute() else root / explicit
        if not files.is_file(path):
            raise InputError(f"--file: {explicit} not found", f"give a Dockerfile path (relative to {root})")
        return path
    for name in CANDIDATES:
        if files.is_file(root / name):
            return root / name
    return None
