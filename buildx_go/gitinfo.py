"""Facts from git about the project (version, revision, source) via argument lists."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from buildx_go.errors import InputError

Runner = Callable[[Sequence[str]], str | None]


def _run(argv: Sequence[str]) -> str | None:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def strip_credentials(url: str) -> str:
    """https://user:token@host/x -> https://host/x (never put secrets in labels or logs)."""
    return re.sub(r"^(\w+://)[^/@]+@", r"\1", url)


def version_from_describe(describe: str) -> str:
    """v1.2.3 -> 1.2.3 (other shapes kept as they are, minus a leading v)."""
    return describe[1:] if re.match(r"^v\d", describe) else describe


def git_facts(root: Path, run: Runner = _run) -> dict[str, str]:
    facts: dict[str, str] = {}
    base = ["git", "-C", str(root)]
    if run([*base, "rev-parse", "--is-inside-work-tree"]) != "true":
        return facts
    asked = {
        "revision": ["rev-parse", "HEAD"],
        "created": ["log", "-1", "--format=%cI"],
        "describe": ["describe", "--tags"],
        "source": ["remote", "get-url", "origin"],
    }
    with ThreadPoolExecutor(len(asked)) as pool:  # independent questions: asked at once
        answers = dict(zip(asked, pool.map(lambda args: run([*base, *args]), asked.values()), strict=True))
    for key, out in answers.items():
        if out:
            facts[key] = strip_credentials(out) if key == "source" else out
    if "describe" in facts:
        facts["version"] = version_from_describe(facts["describe"])
    return facts


def version_from(command: str | None, root: Path) -> str | None:
    """The version printed by COMMAND (split like a shell would, run without one) in ROOT."""
    if not command:
        return None
    argv = shlex.split(command)
    try:
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=300, check=False)
    except OSError as exc:
        raise InputError(f"--version-from: cannot run {argv[0]!r}: {exc.strerror}") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise InputError(
            f"--version-from: {command!r} exited {proc.returncode} without a version",
            (proc.stderr.strip().splitlines() or ["it should print the version"])[-1],
        )
    return lines[-1].strip().removeprefix("v")
