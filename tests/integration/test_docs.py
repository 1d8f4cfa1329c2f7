"""Every command the README and docs/ give in an `sh` block, run exactly as written on the
machine scripts/setup prepared: `buildx-go` on PATH from .venv (as `. .venv/bin/activate`
does), no BUILDX_GO_* settings (the classic engine has no bridge network: buildx-go must see that
itself). A `# stdout: TEXT` line after a command is what its stdout must say (`...` stands
for a digest's hex). Blocks marked `text` are not run: they name registries, clusters or
machines the lab does not have (registry.example.com, Kubernetes), or are the suite itself
(scripts/test, which .ci/run runs)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def commands(page: Path) -> list[tuple[str, list[str], list[str]]]:
    """(the line as written, its words, the stdout it must show) of each command in PAGE's sh blocks."""
    out: list[tuple[str, list[str], list[str]]] = []
    for block in re.findall(r"^```sh\n(.*?)^```", page.read_text(), re.S | re.M):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            said = re.match(r"#\s*stdout:\s*(.*)", line)
            if said and out:
                out[-1][2].append(said.group(1).strip())
            elif line.strip() and not line.lstrip().startswith("#"):
                out.append((line, shlex.split(line, comments=True), []))
    return out


CASES = [(page, line, words, said) for page in PAGES for line, words, said in commands(page)]


def test_the_pages_have_commands_and_none_names_a_place_the_lab_lacks() -> None:
    assert len(CASES) >= 10
    for page, line, _, _ in CASES:
        assert "example.com" not in line, (page.name, line)  # such examples belong in `text` blocks


@pytest.mark.parametrize(
    ("page", "line", "words", "said"),
    CASES,
    ids=[f"{page.name}:{' '.join(words)[:60]}" for page, _, words, _ in CASES],
)
def test_every_command_works_as_written(page: Path, line: str, words: list[str], said: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDX_GO_")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):  # VAR=value command ...
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    proc = subprocess.run(words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{page.name}: {line}\n{proc.stderr[-3000:]}"
    for expect in said:
        pattern = re.escape(expect).replace(r"\.\.\.", "[0-9a-f]{64}")
        assert re.search(pattern, proc.stdout), (expect, proc.stdout)
