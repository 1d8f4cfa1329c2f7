"""Interrupts: a signal sent to buildx-go's pid alone (as CI cancelling a job does)
stops every child, nothing is published after it, the message lists what was published
before it; a killed run's credentials copy is removed by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.integration.conftest import CLASSIC_HOST, GO_IMAGE, REGISTRY, ROOT, head_digest

pytestmark = pytest.mark.integration

# arm64 sleeps long in the Go stage (which runs natively: BUILDPLATFORM), amd64 goes through
DOCKERFILE = f"""\
FROM --platform=$BUILDPLATFORM {GO_IMAGE} AS build
WORKDIR /src
COPY . .
ARG TARGETOS TARGETARCH
RUN if [ "$TARGETARCH" = arm64 ]; then sleep 60; fi
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/hello .
FROM {REGISTRY}/static:latest
COPY --from=build /out/hello /hello
ENTRYPOINT ["/hello"]
"""


def slow_project(tmp_path: Path) -> Path:
    root = tmp_path / "slow"
    root.mkdir()
    for name in ("go.mod", "main.go"):
        (root / name).write_text((ROOT / "examples" / "hello" / name).read_text())
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "nonce").write_text(f"{time.time_ns()}\n")  # a new context: nothing cached past COPY
    return root


class Run:
    """buildx-go build in the background, its stderr collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        base = {"BUILDX_GO_LOG_FORMAT": "json", "BUILDX_GO_PROGRESS": "plain"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "buildx_go", "build", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **base, **env},
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stderr or ()), daemon=True)
        self.reader.start()

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "".join(self.lines)[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "".join(self.lines)[-3000:]
            time.sleep(0.2)

    def stop(self, sig: int) -> tuple[int, str]:
        os.kill(self.proc.pid, sig)  # the pid alone, not its process group
        code = self.proc.wait(timeout=60)
        self.reader.join(timeout=10)
        return code, "".join(self.lines)


def children_of_run(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


def test_sigint_to_the_pid_stops_the_build_and_nothing_is_published(tmp_path: Path, repo: str) -> None:
    # a run killed earlier left its credentials copy behind: this run removes it
    stale = Path(os.environ.get("TMPDIR", "/tmp")) / "buildx-go-999999-1" / "docker-config"
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "config.json").write_text('{"auths": {}}')
    run = Run([str(slow_project(tmp_path)), "--image", repo, "--tag", "1.0.0", "--push", "--latest"], {})
    run.wait_for("sleep 60")  # the arm64 Go stage is running
    code, err = run.stop(signal.SIGINT)
    assert code == 130, err[-3000:]
    assert "ERROR interrupted by SIGINT: nothing was published" in err
    assert '"event": "credentials.removed"' in err and not stale.exists()
    assert children_of_run(f"{repo}:1.0.0") == []  # the docker buildx build is gone too
    time.sleep(5)  # a build left running would push within seconds
    assert head_digest(f"{repo}:1.0.0") is None and head_digest(f"{repo}:latest") is None


def test_sigterm_in_the_fallback_lists_what_was_pushed_and_makes_no_list(tmp_path: Path, repo: str) -> None:
    run = Run(
        [str(slow_project(tmp_path)), "--image", repo, "--tag", "2.0.0", "--push", "--latest"],
        {"DOCKER_HOST": CLASSIC_HOST},  # the classic engine: per-platform builds, then lists
    )
    deadline = time.monotonic() + 120
    while head_digest(f"{repo}:2.0.0-amd64") is None:  # amd64 pushed, arm64 still sleeping
        assert run.proc.poll() is None and time.monotonic() < deadline, "".join(run.lines)[-3000:]
        time.sleep(0.3)
    time.sleep(1)  # buildx writes its metadata file once the push is done
    code, err = run.stop(signal.SIGTERM)
    assert code == 130, err[-3000:]
    assert f"ERROR interrupted by SIGTERM: published before it: {repo}:2.0.0-amd64" in err
    assert children_of_run(f"{repo}:2.0.0-arm64") == []
    time.sleep(3)
    assert head_digest(f"{repo}:2.0.0-arm64") is None
    assert head_digest(f"{repo}:2.0.0") is None and head_digest(f"{repo}:latest") is None


def test_releases_racing_leave_latest_on_the_newest(repo: str) -> None:
    """N+1 then N, 0.3 s apart, three times: `latest` ends on N+1 each time (moving tags are
    decided again, under a lock, just before they move)."""
    hello = str(ROOT / "examples" / "hello")
    common = [
        "--image",
        repo,
        "--push",
        "--latest",
        "--go-image",
        GO_IMAGE,
        "--base-image",
        f"{REGISTRY}/static:latest",
    ]
    for newer, older in (("1.0.1", "1.0.0"), ("1.0.3", "1.0.2"), ("1.0.5", "1.0.4")):
        first = Run([hello, *common, "--tag", newer], {})
        time.sleep(0.3)
        second = Run([hello, *common, "--tag", older], {})
        for run in (first, second):
            assert run.proc.wait(timeout=300) == 0, "".join(run.lines)[-3000:]
            run.reader.join(timeout=10)
        assert head_digest(f"{repo}:latest") == head_digest(f"{repo}:{newer}") is not None
        assert head_digest(f"{repo}:{older}") is not None
