"""The Dockerfile reader against BuildKit's parser: heredocs, continuations, escape, JSON."""

from __future__ import annotations

import pytest

from buildx_go.dockerfile.adapt import adapt
from buildx_go.dockerfile.parse import Dockerfile, heredocs, split_instructions
from buildx_go.errors import InputError


def kinds(text: str) -> list[tuple[str, str]]:
    return [(i.keyword, i.args) for i in split_instructions(text)[0]]


def test_a_heredoc_followed_by_a_command() -> None:
    text = "FROM x\nRUN <<-'EOT' bash\n\tset -e\n\tgo build -o /out/app .\n\tEOT\nCMD [\"/out/app\"]\n"
    got = kinds(text)
    assert [k for k, _ in got] == ["FROM", "RUN", "CMD"]
    assert got[1][1] == "<<-'EOT' bash\n\tset -e\n\tgo build -o /out/app .\n\tEOT"
    assert Dockerfile.parse(text).stages[0].runs(r"\bgo\s+build\b")


def test_several_heredocs_on_one_line() -> None:
    text = 'FROM x\nCOPY <<A /a <<"B" /b\none\nA\ntwo\nB\nRUN <<EOF\nFROM y\nEOF\nUSER 1\n'
    got = kinds(text)
    assert [k for k, _ in got] == ["FROM", "COPY", "RUN", "USER"]  # `FROM y` is heredoc text
    assert got[1][1].endswith("one\nA\ntwo\nB")
    assert heredocs("COPY <<A /a <<-'B' /b") == ["A", "-B"]
    assert heredocs('RUN ["sh", "-c", "cat <<EOF"]') == []  # JSON form: no heredoc


def test_blank_lines_and_comments_inside_a_continuation() -> None:
    text = "FROM x\nRUN apt-get update && \\\n\n    # a comment\n    apt-get install -y make\nUSER 1\n"
    got = kinds(text)
    assert got[1] == ("RUN", "apt-get update &&     apt-get install -y make")  # BuildKit adds the line as it is
    assert got[2] == ("USER", "1")


def test_the_escape_directive() -> None:
    text = "# escape=`\nFROM x\nRUN go build `\n    -o C:\\out\\app.exe .\nUSER 1\n"
    instructions, directives = split_instructions(text)
    assert directives == {"escape": "`"}
    assert [(i.keyword, i.args) for i in instructions][1] == ("RUN", "go build     -o C:\\out\\app.exe .")


def test_json_forms_are_read_as_their_words() -> None:
    text = 'FROM --platform=$BUILDPLATFORM golang AS b\nRUN ["go", "build", "-o", "/app", "."]\nFROM scratch\n'
    df = Dockerfile.parse(text)
    assert df.stages[0].runs(r"\bgo\s+build\b")
    run = df.stages[0].instructions[0]
    assert run.command == "go build -o /app ."
    flagged = split_instructions('FROM x\nRUN --mount=type=cache,target=/c ["make", "all"]\n')[0][1]
    assert flagged.command == "--mount=type=cache,target=/c make all"
    assert split_instructions("FROM x\nRUN [not json\n")[0][1].command == "[not json"


# Characters Python's str.splitlines() splits at; BuildKit splits at "\n" only.
LINE_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]


@pytest.mark.parametrize("char", LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
def test_no_character_but_newline_ends_a_line_and_the_derived_file_hides_nothing(char: str) -> None:
    """A comment holding CHAR then `RUN evil` is one comment to BuildKit: the reader sees no
    RUN there, and the derived Dockerfile keeps it one comment line."""
    text = f"FROM golang:1.22 AS build\n# note{char}RUN touch /pwned\nRUN go build -o /app .\nFROM scratch\n"
    text += "COPY --from=build /app /app\n"
    df = Dockerfile.parse(text)
    assert [i.keyword for i in df.stages[0].instructions] == ["RUN"]
    derived = adapt(df, "Dockerfile").text
    assert f"# note{char}RUN touch /pwned" in derived.split("\n")
    rereads = Dockerfile.parse(derived)
    assert not any("pwned" in i.args for st in rereads.stages for i in st.instructions)
    # inside an instruction it stays part of it
    inside = Dockerfile.parse(f"FROM a\nRUN echo a{char}RUN touch /pwned\n")
    assert [(i.keyword, i.args) for i in inside.stages[0].instructions] == [("RUN", f"echo a{char}RUN touch /pwned")]


def test_a_line_that_does_not_start_with_an_instruction_is_refused() -> None:
    with pytest.raises(InputError, match="Dockerfile:2: not a Dockerfile instruction"):
        Dockerfile.parse("FROM a\n\x1cRUN touch /pwned\n")  # \x1c is no space to BuildKit


def test_crlf_files_and_a_byte_order_mark() -> None:
    text = "\ufeffFROM a AS b\r\nRUN go build \\\r\n  -o /x .\r\nFROM scratch\r\nCOPY --from=b /x /x\r\n"
    df = Dockerfile.parse(text)
    assert df.stages[0].base == "a" and df.stages[0].instructions[0].args == "go build   -o /x ."
    derived = adapt(df, "Dockerfile").text
    assert "\ufeff" not in derived and Dockerfile.parse(derived).stages[0].base == "a"


def test_heredocs_are_the_words_buildkit_reads() -> None:
    # `cat<<EOF` is one word: no heredoc, the next line is an instruction of its own
    assert [k for k, _ in kinds("FROM x\nRUN cat<<EOF\nUSER 1\n")] == ["FROM", "RUN", "USER"]
    assert [k for k, _ in kinds('FROM x\nRUN echo "<<EOF"\nUSER 1\n')] == ["FROM", "RUN", "USER"]
    assert [k for k, _ in kinds("FROM x\nRUN 3<<EOF cat <&3\nhi\nEOF\nUSER 1\n")] == ["FROM", "RUN", "USER"]
    with pytest.raises(InputError, match="unterminated heredoc"):
        split_instructions("FROM x\nRUN <<EOF\nnever ends\n")
