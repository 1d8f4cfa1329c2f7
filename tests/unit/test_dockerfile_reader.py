"""The Dockerfile reader against BuildKit's parser: heredocs, continuations, escape, JSON."""

from __future__ import annotations

from buildx_go.dockerfile import Dockerfile, heredocs, split_instructions


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
    assert got[1] == ("RUN", "apt-get update && apt-get install -y make")
    assert got[2] == ("USER", "1")


def test_the_escape_directive() -> None:
    text = "# escape=`\nFROM x\nRUN go build `\n    -o C:\\out\\app.exe .\nUSER 1\n"
    instructions, directives = split_instructions(text)
    assert directives == {"escape": "`"}
    assert [(i.keyword, i.args) for i in instructions][1] == ("RUN", "go build -o C:\\out\\app.exe .")


def test_json_forms_are_read_as_their_words() -> None:
    text = 'FROM --platform=$BUILDPLATFORM golang AS b\nRUN ["go", "build", "-o", "/app", "."]\nFROM scratch\n'
    df = Dockerfile.parse(text)
    assert df.stages[0].runs(r"\bgo\s+build\b")
    run = df.stages[0].instructions[0]
    assert run.command == "go build -o /app ."
    flagged = split_instructions('FROM x\nRUN --mount=type=cache,target=/c ["make", "all"]\n')[0][1]
    assert flagged.command == "--mount=type=cache,target=/c make all"
    assert split_instructions("FROM x\nRUN [not json\n")[0][1].command == "[not json"
