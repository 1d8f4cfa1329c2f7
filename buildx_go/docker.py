"""The only module that talks to docker (through python-on-whales).

``Executor`` is the seam: the runner hands it argv lists (never shell strings) and gets
text back or a BuildxGoError; tests replace it. python-on-whales is imported lazily so
that --help, plan and --dry-run never pay for it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Protocol, TextIO

from buildx_go.errors import BuildFailed, BuildxGoError, EngineError, PushFailed

ENGINE_DOWN = re.compile(r"Cannot connect to the Docker daemon|error during connect|docker daemon is not running", re.I)
NO_BUILDX = re.compile(r"'buildx' is not a docker command|unknown command: docker buildx", re.I)
PUSH_FAILED = re.compile(
    r"failed to push|push access denied|insufficient_scope|unauthorized|failed to do request|"
    r"failed commit on ref|unexpected status from (PUT|POST|HEAD)|server gave HTTP response to HTTPS client",
    re.I,
)
TAIL_LINES = 40


class Executor(Protocol):
    def run(self, argv: Sequence[str], *, stream: bool = False, purpose: str = "docker") -> str:
        """Run ARGV; return its stdout. STREAM: show its stderr to the user as it comes."""
        ...


def classify(argv: Sequence[str], code: int, stderr: str, purpose: str) -> BuildxGoError:
    """The BuildxGoError for a failed docker command (message names the command)."""
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-3:]
    detail = " | ".join(tail) if tail else f"exit code {code}"
    cmd = " ".join(argv[:3])
    if ENGINE_DOWN.search(stderr):
        return EngineError(
            f"{cmd}: no Docker engine reachable: {detail}", "start the engine (scripts/setup) or set DOCKER_HOST"
        )
    if NO_BUILDX.search(stderr):
        return EngineError(f"{cmd}: the buildx plugin is missing", "install docker-buildx (scripts/setup does)")
    if PUSH_FAILED.search(stderr):
        return PushFailed(f"{cmd} ({purpose}): push failed: {detail}", "check the registry address and `docker login`")
    return BuildFailed(f"{cmd} ({purpose}) failed: {detail}", "see the build output above")


class DockerExecutor:
    """Runs docker commands with python-on-whales' runner, with ENV added (DOCKER_HOST...)."""

    def __init__(self, env: Mapping[str, str] | None = None, echo: TextIO | None = None) -> None:
        self.env = dict(env or {})
        self.echo = echo or sys.stderr

    def run(self, argv: Sequence[str], *, stream: bool = False, purpose: str = "docker") -> str:
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run, stream_stdout_and_stderr

        try:
            if not stream:
                return str(run(list(argv), env=self.env))
            out: list[str] = []
            for source, line in stream_stdout_and_stderr(list(argv), env=self.env):
                text = line.decode(errors="replace")
                if source == "stdout":
                    out.append(text)
                else:
                    self.echo.write(text)
                    self.echo.flush()
            return "".join(out)
        except FileNotFoundError:
            raise EngineError("docker: command not found", "install the Docker CLI (scripts/setup does)") from None
        except DockerException as exc:
            raise classify(argv, exc.return_code, exc.stderr or "", purpose) from None


def builder_platforms(executor: Executor, builder: str | None) -> set[str]:
    """Platforms the selected builder's nodes say they can run (``buildx ls --format json``)."""
    import json

    out = executor.run(["docker", "buildx", "ls", "--format", "json"], purpose="builder inspect")
    platforms: set[str] = set()
    for line in out.splitlines():
        if not line.strip().startswith("{"):
            continue
        entry = json.loads(line)
        if (builder and entry.get("Name") != builder) or (not builder and not entry.get("Current", True)):
            continue
        for node in entry.get("Nodes") or []:
            platforms.update(node.get("Platforms") or [])
    return platforms


def host_emulators(binfmt_dir: str = "/proc/sys/fs/binfmt_misc") -> set[str]:
    """QEMU emulators registered with this host's binfmt_misc (qemu-aarch64, qemu-arm, ...)."""
    from pathlib import Path

    try:
        return {p.name for p in Path(binfmt_dir).glob("qemu-*") if "enabled" in p.read_text()}
    except OSError:
        return set()
