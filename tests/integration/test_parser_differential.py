"""Buildx-go's Dockerfile reader against the engine's own parser, on every corpus file and on
files built around each character Python would end a line at but BuildKit does not.

The oracle is dockerd's legacy builder (DOCKER_BUILDKIT=0): it parses with the same parser
package as BuildKit (moby vendors frontend/dockerfile/parser) and prints `Step i/N : TEXT`
for each instruction it runs, N being how many instructions it parsed. A file whose first
FROM cannot be pulled (the corpus names Docker Hub images: offline here) still shows N.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from buildx_go.dockerfile.adapt import adapt
from buildx_go.dockerfile.parse import Dockerfile, split_instructions
from buildx_go.errors import InputError
from tests.integration.conftest import GO_IMAGE, ROOT

pytestmark = pytest.mark.integration
CORPUS = sorted((ROOT / "tests" / "corpus").glob("*/*.Dockerfile"))
BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u2028", "\u2029", "\r", "\r\r"]
STEP = re.compile(r"Step (\d+)/(\d+) : (.*)")


def legacy(text: str, tmp_path: Path) -> tuple[int | None, list[str], str]:
    """(instructions the engine parsed, the text of each it ran, its output) for TEXT."""
    path = tmp_path / f"probe-{abs(hash(text))}.Dockerfile"
    path.write_bytes(text.encode())
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    argv = ["docker", "build", "--network", "host", "-q=false", "-f", str(path), str(context)]
    proc = subprocess.run(argv, capture_output=True, env=env, timeout=300, check=False)
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    steps = [m.groups() for m in STEP.finditer(out)]
    total = int(steps[0][1]) if steps else None
    return total, [text for _, _, text in steps], out


def ours(text: str) -> int:
    df = Dockerfile.parse(text)
    return len(df.global_args) + sum(1 + len(s.instructions) for s in df.stages)


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.stem}" for p in CORPUS])
def test_every_corpus_file_has_the_instructions_the_engine_parses(path: Path, tmp_path: Path) -> None:
    text = path.read_text()
    total, _, out = legacy(text, tmp_path)
    assert total == ours(text), out[-1500:]


def probes(char: str) -> dict[str, str]:
    """Files with CHAR where a line break would change what runs."""
    return {
        "in-comment": f"FROM {GO_IMAGE}\n# note{char}RUN echo HIDDEN\nRUN echo shown\n",
        "in-run": f"FROM {GO_IMAGE}\nRUN echo one{char}RUN echo HIDDEN\nRUN echo two\n",
        "in-continuation": f"FROM {GO_IMAGE}\nRUN echo one \\\n  # c{char}RUN echo HIDDEN\n  two\nRUN echo three\n",
        "after-escape": f"FROM {GO_IMAGE}\nRUN echo one \\{char}\nRUN echo two\n",
        "line-start": f"FROM {GO_IMAGE}\n{char}RUN echo shown\n",
    }


@pytest.mark.parametrize("char", BREAKS, ids=[repr(c) for c in BREAKS])
def test_no_character_but_newline_ends_a_line(char: str, tmp_path: Path) -> None:
    for name, text in probes(char).items():
        total, ran, out = legacy(text, tmp_path)
        try:
            instructions = split_instructions(text)[0]
            ours(text)
        except InputError:
            assert total is None or "unknown instruction" in out, (name, out[-800:])  # refused by both
            continue
        assert total == len(instructions), (name, out[-800:])
        assert len(ran) == total, (name, out[-800:])  # every step ran: compare them one by one
        for step, ins in zip(ran, instructions, strict=True):
            assert step.split(" ", 1)[0].upper() == ins.keyword, (name, step, ins)
        assert "HIDDEN" not in out.replace("RUN echo HIDDEN", ""), (name, out[-800:])  # never echoed


@pytest.mark.parametrize("char", BREAKS, ids=[repr(c) for c in BREAKS])
def test_the_derived_dockerfile_has_no_instruction_the_original_hid(char: str, tmp_path: Path) -> None:
    """The comment holding CHAR then `RUN touch /pwned` stays a comment once buildx-go adapts
    the file: the engine parses as many instructions as buildx-go put there, none of them it."""
    text = (
        f"FROM golang:1.22 AS build\n# note{char}RUN touch /pwned\nRUN go build -o /app .\n"
        "FROM scratch\nCOPY --from=build /app /app\n"
    )
    derived = adapt(Dockerfile.parse(text), "Dockerfile").text
    total, _, out = legacy(derived, tmp_path)
    assert total == ours(derived), out[-1500:]
    assert not any("pwned" in i.args for i in split_instructions(derived)[0])
