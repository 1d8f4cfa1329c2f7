"""Shell completion as bash runs it: the generated script sourced, its function called with
the words a user has typed, what it offers read back."""

from __future__ import annotations

import sys

import pytest

from tests.integration.conftest import run

pytestmark = pytest.mark.integration


def offered(*words: str) -> list[str]:
    """What bash completes after WORDS (the last one being what is typed so far)."""
    typed = " ".join(f'"{w}"' for w in words)
    script = (
        f'source <("{sys.executable}" -m buildx_go completion bash)\n'
        f"COMP_WORDS=(buildx-go {typed}); COMP_CWORD={len(words)}; _buildx_go\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    return run(["bash", "-c", script]).stdout.split()


def test_bash_completes_choice_values_commands_and_options() -> None:
    assert offered("build", ".", "--strategy", "") == ["auto", "buildx", "manifest", "host"]
    assert offered("build", ".", "--compression", "g") == ["gzip"]
    assert offered("plan", ".", "--format", "") == ["text", "json", "bake"]
    assert offered("b") == ["build"]
    assert "--push" in offered("build", ".", "--pu")
    assert offered("completion", "") == ["bash", "zsh", "fish"]
