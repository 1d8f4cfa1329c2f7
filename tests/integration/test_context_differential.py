"""Which files of a build context count (project/context.py), against BuildKit's own verdict.

A context digest that leaves out a file BuildKit sends would let a change to that file go
unseen (and a stale image be kept as "nothing changed"), so the ignore rules are read as
docker reads them and checked here against what BuildKit actually copies: each shape is a
context and a .dockerignore; `COPY . /ctx/` into a local output lists what was sent.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from buildx_go.project.context import bad_pattern_line, left_out, read_rules
from tests.integration.conftest import run

pytestmark = pytest.mark.integration

FILES = [
    "main.go",
    "go.mod",
    "README.md",
    "docs/guide.md",
    "docs/img/logo.png",
    "docs/keep.md",
    "cmd/app/main.go",
    "cmd/app/main_test.go",
    "bin/app",
    "cmd/bin/tool",
    "build/out.txt",
    "vendor/x/y.go",
    ".env",
    ".github/workflows/ci.yml",
    "a.go",
    "ab.go",
    "dir with space/file.txt",
    "deep/a/b/c/d.txt",
    "deep/a/b/keep.txt",
    "node_modules/pkg/index.js",
    "tmp.log",
    "logs/today.log",
    "[x].txt",
]
RULES = [
    "*.md",
    "**/*.md",
    "docs\n!docs/keep.md",
    "docs/\n!docs/img",
    "/bin",
    "./bin\n",
    "bin/",
    "**/bin",
    "*.log\n!logs/*.log",
    "**\n!main.go\n!go.mod",
    "?.go",
    "*_test.go\n**/*_test.go",
    "deep/**/d.txt",
    "deep\n!deep/a/b/keep.txt",
    ".*\n!.env",
    "dir with space",
    "# comment\nvendor",
    "  node_modules  \n",
    "\\[x\\].txt",
    "cmd/*/main*.go\n!cmd/app/main.go",
    "build\n/build/out.txt",
    "**/*.go\n!cmd/**",
]


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ctx")
    for name in FILES:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name + "\n")
    (root / "Dockerfile.probe").write_text("FROM scratch\nCOPY . /ctx/\n")
    return root


def sent(context: Path, rules: str, out: Path) -> set[str]:
    """The files BuildKit copies from CONTEXT with RULES as its .dockerignore."""
    (context / ".dockerignore").write_text(rules + "\n")
    run(["docker", "buildx", "build", "--file", str(context / "Dockerfile.probe"), "--output", f"type=local,dest={out}",
         "--progress", "quiet", str(context)])  # fmt: skip
    found = set()
    for folder, _, files in os.walk(out / "ctx"):
        for f in files:
            found.add(os.path.relpath(os.path.join(folder, f), out / "ctx"))
    return found


@pytest.mark.parametrize("rules", RULES, ids=[r.replace("\n", " | ") for r in RULES])
def test_the_files_we_count_are_the_files_buildkit_sends(context: Path, rules: str, tmp_path: Path) -> None:
    theirs = sent(context, rules, tmp_path / "out")
    parsed = read_rules(rules + "\n")
    ours = {f for f in [*FILES, "Dockerfile.probe", ".dockerignore"] if not left_out(f, parsed)}
    assert ours == theirs, (sorted(ours - theirs), sorted(theirs - ours))


SYNTAX = ["[", "foo\\", "[a-", "[]", "[]a]", "[a-]", "x[^", "[a]", "[^a]", "[!a]", "\\[x", "[\\]]", "a?[0-9]*", "!["]


@pytest.mark.parametrize("pattern", SYNTAX)
def test_a_pattern_we_call_bad_is_one_buildkit_refuses(context: Path, pattern: str, tmp_path: Path) -> None:
    """BuildKit refuses the whole build over a pattern go's filepath.Match calls bad; buildx-go
    refuses it first (exit 2 naming the line), and only such patterns."""
    (context / ".dockerignore").write_text(f"{pattern}\n")
    argv = ["docker", "buildx", "build", "--file", str(context / "Dockerfile.probe"), "--output",
            f"type=local,dest={tmp_path / 'out'}", "--progress", "quiet", str(context)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if "Canceled: context canceled" in proc.stderr:  # BuildKit dropped the session (seen 1 in ~40): no verdict
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    refused = "syntax error in pattern" in proc.stderr
    assert refused == (proc.returncode != 0), proc.stderr[-500:]
    assert (bad_pattern_line(f"{pattern}\n") is not None) == refused, pattern
