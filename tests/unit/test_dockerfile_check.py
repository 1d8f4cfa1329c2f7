"""dockerfile/check.py on the shapes the differential test holds against BuildKit (there:
the engine's verdict; here: ours, fast), and on the real-world corpus: no false refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildx_go.dockerfile.check import check_dockerfile, shell_words
from buildx_go.dockerfile.parse import Dockerfile
from buildx_go.errors import InputError
from tests.integration.test_dockerfile_differential import INVALID, VALID

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("text", VALID)
def test_what_buildkit_builds_passes(text: str) -> None:
    check_dockerfile(Dockerfile.parse(text), "Dockerfile")


@pytest.mark.parametrize("text", INVALID)
def test_what_buildkit_refuses_is_refused_naming_the_line(text: str) -> None:
    with pytest.raises(InputError) as err:
        check_dockerfile(Dockerfile.parse(text), "Dockerfile")
    assert err.value.message.startswith("Dockerfile:")


def test_no_corpus_dockerfile_is_refused() -> None:
    files = sorted((ROOT / "tests" / "corpus").glob("*/*.Dockerfile")) + sorted(
        ROOT.glob("tests/fixtures/**/Dockerfile")
    )
    assert len(files) > 50
    for path in files:
        text = path.read_text(errors="replace")
        try:
            parsed = Dockerfile.parse(text, str(path))
        except InputError:
            continue  # the corpus holds files the reader refuses on purpose (test_parser_differential)
        check_dockerfile(parsed, str(path))


def test_a_syntax_directive_hands_the_file_to_its_frontend() -> None:
    check_dockerfile(Dockerfile.parse("# syntax=docker/dockerfile:1-labs\nFROM a\nCOPY --newflag x y\n"), "D")
    check_dockerfile(Dockerfile.parse("# check=skip=all\n# syntax=docker/dockerfile:1\nFROM a\nRUN --x y\n"), "D")
    with pytest.raises(InputError, match="syntax="):
        check_dockerfile(Dockerfile.parse("# syntax=Docker/Dockerfile:1\nFROM a\n"), "D")


def test_shell_words_keep_quoted_and_escaped_spaces() -> None:
    assert shell_words("A=\"x =y\" B=1\\ =2 'c d'") == ['A="x =y"', "B=1\\ =2", "'c d'"]
