"""The README's first example, run exactly as written on the machine scripts/setup prepared:
`buildx-go` on PATH from .venv (as `. .venv/bin/activate` does), no BUILDX_GO_* settings
(the engines have no bridge network: buildx-go must see that itself)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration


def first_example() -> list[tuple[list[str], list[str]]]:
    """(argv, the comment lines after it) of each command in the first example's block."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"^## First example\n.*?```sh\n(.*?)```", text, re.S | re.M)
    assert block, "README.md has no first example"
    joined = re.sub(r"\\\n\s*", " ", block.group(1))
    out: list[tuple[list[str], list[str]]] = []
    for line in joined.splitlines():
        if line.startswith("#"):
            out[-1][1].append(line.lstrip("# ").strip())
        elif line.strip():
            out.append((shlex.split(line), []))
    return out


def test_the_first_example_works_as_written() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDX_GO_")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    commands = first_example()
    assert [argv[0] for argv, _ in commands] == ["buildx-go", "docker"]
    for argv, said in commands:
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{argv}: {proc.stderr[-3000:]}"
        for expect in said:
            pattern = re.escape(expect.removeprefix("stdout: ")).replace(r"\.\.\.", "[0-9a-f]{64}")
            assert re.search(pattern, proc.stdout), (expect, proc.stdout)
