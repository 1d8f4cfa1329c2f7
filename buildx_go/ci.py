"""CI systems buildx-go meets users in: GitHub Actions and GitLab CI, told from their
environment. BuildKit's output goes into collapsible log groups, lints and errors become
annotations (GitHub: `::warning file=...,line=...::`), and a build leaves a job summary
(what it published, or what failed) and step outputs (GitHub's $GITHUB_STEP_SUMMARY and
$GITHUB_OUTPUT).

Everything here is written to stderr or to the files the CI names: stdout stays results only
(the Actions runner reads workflow commands from both streams).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Literal, TextIO

import attrs

Kind = Literal["github", "gitlab"]


@attrs.frozen
class CI:
    kind: Kind
    summary_file: str | None = None  # GitHub: $GITHUB_STEP_SUMMARY
    output_file: str | None = None  # GitHub: $GITHUB_OUTPUT
    workspace: str | None = None  # where annotation paths are relative to

    def group_start(self, title: str, key: str) -> str:
        if self.kind == "github":
            return f"::group::{_one_line(title)}\n"
        return f"\x1b[0Ksection_start:{int(time.time())}:{key}[collapsed=true]\r\x1b[0K{_one_line(title)}\n"

    def group_end(self, key: str) -> str:
        if self.kind == "github":
            return "::endgroup::\n"
        return f"\x1b[0Ksection_end:{int(time.time())}:{key}\r\x1b[0K\n"

    def annotation(self, level: Literal["error", "warning"], message: str, file: str | None, line: int | None) -> str:
        """A line that marks MESSAGE in the CI's view (GitHub: on FILE:LINE when known)."""
        if self.kind != "github":
            return ""  # GitLab has no log annotations: the ERROR line itself stands out
        where = []
        if file:
            where.append(f"file={_relative(file, self.workspace)}")
            if line:
                where.append(f"line={line}")
        props = (" " + ",".join(where)) if where else ""
        return f"::{level}{props}::{_escape(message)}\n"

    def report_failure(self, message: str, exit_code: int, location: tuple[str, int] | None, stream: TextIO) -> None:
        """A failed run: an error annotation (on the Dockerfile line when known), and in
        GitHub's job summary what failed, as a finished build writes what it published."""
        file, line = location or (None, None)
        stream.write(self.annotation("error", message, file, line))
        if self.summary_file:
            with contextlib.suppress(OSError), open(self.summary_file, "a") as f:
                f.write(f"### buildx-go\n\nFailed (exit code {exit_code}): {_one_line(message)}\n\n")


def detect(env: Mapping[str, str]) -> CI | None:
    if env.get("GITHUB_ACTIONS") == "true":
        return CI(
            "github",
            env.get("GITHUB_STEP_SUMMARY") or None,
            env.get("GITHUB_OUTPUT") or None,
            env.get("GITHUB_WORKSPACE") or None,
        )
    if env.get("GITLAB_CI") == "true":
        return CI("gitlab", workspace=env.get("CI_PROJECT_DIR") or None)
    return None


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _escape(message: str) -> str:
    """Workflow command data: %, CR and LF escaped (GitHub's rules)."""
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _relative(path: str, workspace: str | None) -> str:
    import os

    base = workspace or os.getcwd()
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
