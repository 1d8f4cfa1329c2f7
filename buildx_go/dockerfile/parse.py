"""What a Dockerfile does: instructions, stages, and its style (pure, text in)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from buildx_go.errors import InputError

if TYPE_CHECKING:
    from buildx_go.seams import Files

CANDIDATES = ("Dockerfile", "docker/Dockerfile")
GO_BUILD = r"\bgo\s+(build|install)\b"


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
            if ins.keyword not in INSTRUCTIONS:  # BuildKit refuses it; say nothing of its content
                raise InputError(f"{filename}:{ins.line}: not a Dockerfile instruction", "is --file a Dockerfile?")
            if ins.keyword == "FROM":
                close()
                head, current = ins, []
            elif head is None:
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
        goarch-recipe (the recipe's ``ARG GOARCH`` + ``go build``), or other (stages.py)."""
        from buildx_go.dockerfile.stages import go_stages, style

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


# What Go's unicode.IsSpace calls a space: BuildKit trims these from the left of a line.
# (Python's str.isspace also counts \x1c-\x1f: BuildKit does not.)
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_KEYWORD_SPLIT = re.compile(r"[\t\v\f\r ]+")  # BuildKit's tokenWhitespace
_GO_DIRECTIVE = re.compile(r"^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z", re.S)


def dockerfile_lines(text: str) -> list[str]:
    """TEXT's lines as BuildKit's parser reads them: split at "\n" only (a form feed, a
    vertical tab, \x1c, \x85, U+2028 or a lone \r is part of its line), trailing \r and \n
    removed, a byte-order mark dropped from the first."""
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the text ends with a newline: no line after it
    return [line.rstrip("\r") for line in lines]


def _is_comment(line: str) -> bool:
    return line.lstrip(GO_SPACE).startswith("#")


def split_instructions(text: str) -> tuple[list[Instruction], dict[str, str]]:
    """Instructions with line continuations joined and comments dropped, and the parser
    directives, exactly as BuildKit's parser splits them (frontend/dockerfile/parser):
    lines at "\n" only; a line whose first non-space is # is a comment, also inside a
    continuation; a continuation line is added as it is, after the escape character and
    the spaces after it are removed; blank continuation lines are skipped; heredocs are the
    words `<<NAME` / `<<-NAME` of a RUN, COPY or ADD that is not in JSON form."""
    directives: dict[str, str] = {}
    lines = dockerfile_lines(text)
    i = 0
    while i < len(lines):  # parser directives: only at the very top, one after another
        m = _GO_DIRECTIVE.match(lines[i].lstrip(GO_SPACE))
        if not m or m.group(1).lower() not in ("escape", "syntax", "check"):
            break
        if m.group(1).lower() in directives:
            raise InputError(f"Dockerfile:{i + 1}: only one {m.group(1).lower()} parser directive can be used")
        if m.group(1).lower() == "escape" and m.group(2) not in ("\\", "`"):
            raise InputError(f"Dockerfile:{i + 1}: invalid escape token {m.group(2)!r} (only ` or \\)")
        directives[m.group(1).lower()] = m.group(2)
        i += 1
    escape = re.escape(directives.get("escape", "\\"))
    continuation = re.compile(rf"([^{escape}]){escape}[ \t]*\Z|^{escape}[ \t]*\Z")
    out: list[Instruction] = []
    while i < len(lines):
        start = i
        line = lines[i].lstrip(GO_SPACE)
        i += 1
        if line.startswith("#"):
            continue
        line, more = continuation.subn(r"\1", line)
        if not more and line == "":
            continue
        while more and i < len(lines):
            raw = lines[i]
            i += 1
            if _is_comment(raw) or not raw.lstrip(GO_SPACE):
                continue
            part, more = continuation.subn(r"\1", raw)
            line += part
        keyword, rest = _split_keyword(line)
        body: list[str] = []
        if keyword.upper() in ("RUN", "COPY", "ADD") and not _json_form(rest):
            for name, chomp in heredoc_words(line):
                while i < len(lines):
                    raw = lines[i]
                    i += 1
                    body.append(raw)
                    if (raw.lstrip("\t") if chomp else raw) == name:
                        break
                else:
                    raise InputError(f"Dockerfile:{start + 1}: unterminated heredoc {name!r}", "end it with its name")
        args = "\n".join([rest, *body]) if body else rest
        out.append(Instruction(keyword.upper(), args, start + 1, i))
    return out, directives


def _split_keyword(line: str) -> tuple[str, str]:
    """An instruction's keyword and the rest, as BuildKit's splitCommand splits them."""
    parts = _KEYWORD_SPLIT.split(line.strip(GO_SPACE), maxsplit=1)
    return parts[0], (parts[1].strip(GO_SPACE) if len(parts) == 2 else "")


def _json_form(rest: str) -> bool:
    """The instruction is in JSON (exec) form, its flags aside."""
    words = rest
    while words.startswith("--"):
        words = _KEYWORD_SPLIT.split(words, maxsplit=1)[1] if _KEYWORD_SPLIT.search(words) else ""
    if not words.startswith("["):
        return False
    try:
        parsed = json.loads(words)
    except ValueError:
        return False
    return isinstance(parsed, list) and all(isinstance(w, str) for w in parsed)


_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)\Z", re.S)


def heredoc_words(line: str) -> list[tuple[str, bool]]:
    """(name, tabs stripped) of each heredoc a line opens: the shell words of the whole line
    (quotes and escapes kept) that are `<<NAME`, `<<-NAME` or `2<<NAME`, NAME one word once
    its quotes are removed, as BuildKit's heredocsFromLine reads them."""
    out = []
    for word in _shell_words(line):
        m = _HEREDOC_WORD.match(word)
        if not m or not m.group(3):
            continue
        unquoted = _shell_words(m.group(3), keep_quotes=False)
        if len(unquoted) == 1:
            out.append((unquoted[0], m.group(2) == "-"))
    return out


def _shell_words(text: str, keep_quotes: bool = True) -> list[str]:
    """TEXT split into words at unquoted whitespace, as BuildKit's shell lexer does (quotes
    and backslash escapes kept when KEEP_QUOTES, else removed; nothing expanded)."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    started = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
                word.append(ch) if keep_quotes else None
            elif ch == "\\" and quote == '"' and i + 1 < len(text):
                word.append(text[i : i + 2] if keep_quotes else text[i + 1])
                i += 1
            else:
                word.append(ch)
        elif ch in " \t\n\r\v\f":
            if started:
                words.append("".join(word))
                word, started = [], False
        else:
            started = True
            if ch in "'\"":
                quote = ch
                word.append(ch) if keep_quotes else None
            elif ch == "\\" and i + 1 < len(text):
                word.append(text[i : i + 2] if keep_quotes else text[i + 1])
                i += 1
            else:
                word.append(ch)
        i += 1
    if started:
        words.append("".join(word))
    return words


def heredocs(line: str) -> list[str]:
    """The heredoc delimiters a RUN/COPY/ADD line opens, in order (``-`` first when tabs are
    stripped, as with ``<<-EOT``): ``RUN <<-'EOT' bash`` and ``COPY <<A /a <<B /b`` too."""
    keyword, rest = _split_keyword(line)
    if keyword.upper() not in ("RUN", "COPY", "ADD") or _json_form(rest):
        return []  # JSON form: no heredocs
    return [("-" if chomp else "") + name for name, chomp in heredoc_words(line)]


def find_dockerfile(root: Path, explicit: str | None, files: Files, where: str = "--file") -> Path | None:
    """--file (relative to ROOT unless absolute; WHERE names where it was given), else
    Dockerfile or docker/Dockerfile. A name that is there but is no regular file (a fifo, a
    folder, a dangling or looping link) is refused: BuildKit could not read it either."""
    if explicit:
        path = Path(explicit) if Path(explicit).is_absolute() else root / explicit
        if files.exists(path) and not files.is_file(path):
            raise InputError(f"{where}: {explicit} is not a regular file", "give the Dockerfile's path")
        if not files.is_file(path):
            raise InputError(f"{where}: {explicit} not found", f"give a Dockerfile path (relative to {root})")
        return path
    for name in CANDIDATES:
        if files.is_file(root / name):
            return root / name
        if files.exists(root / name) and not files.is_dir(root / name):
            raise InputError(f"{root / name}: not a regular file", "make it the project's Dockerfile, or remove it")
    return None
