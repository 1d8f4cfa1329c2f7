"""Integration tests: the real engines, registry and QEMU that scripts/setup starts.

They fail (never skip) when the main engine or the registry is missing: CI runs them after
scripts/setup, so a missing piece is a real defect.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from buildx_go.registry.client import INDEX_TYPES

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REGISTRY = "localhost:5000"
GO_IMAGE = f"{REGISTRY}/golang:1.27"
BASE_IMAGE = f"{REGISTRY}/static:latest"
INDEX_ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
ANY_MANIFEST = INDEX_ACCEPT + (
    ", application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
)
CLASSIC_HOST = os.environ.get("BUILDX_GO_CLASSIC_HOST", "unix:///var/run/buildx-go-classic.sock")


def run(
    argv: Sequence[str], env: dict[str, str] | None = None, check: bool = True, **kw: object
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, env={**os.environ, **(env or {})}, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}")
    return proc  # type: ignore[no-any-return]


def push_build(argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A raw `docker build/buildx build` that pushes, as a user types it. buildx 0.13's docker
    driver pushes twice and distribution 2.x sometimes answers the second push with 500: retry
    that (and only that), as buildx-go itself does."""
    for _ in range(3):
        proc = run(argv, env=env, check=False)
        if proc.returncode == 0 or "500 Internal Server Error" not in proc.stderr:
            break
    if proc.returncode != 0:
        raise AssertionError(f"{argv} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def buildx_go(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: a subprocess, JSON logs on stderr."""
    base = {"BUILDX_GO_LOG_FORMAT": "json"}
    return run([sys.executable, "-m", "buildx_go", *args], env={**base, **(env or {})}, check=check)


def engine_and_verify(
    context: Path, target: str, ref: str
) -> tuple[subprocess.CompletedProcess[str], bool, dict[str, Any]]:
    """TARGET of the Dockerfile in CONTEXT built for linux/amd64 and pushed as REF; then
    (`docker run` of it, whether `buildx-go verify --allow-non-go` passes it, its JSON report):
    the engine's verdict and ours on one image."""
    push_build(
        ["docker", "buildx", "build", "--platform", "linux/amd64", "--target", target, "--push", "-t", ref,
         str(context)]
    )  # fmt: skip
    ran = run(["docker", "run", "--rm", "--pull", "always", "--network", "none", ref], check=False)
    checked = buildx_go("verify", ref, "--platform", "linux/amd64", "--allow-non-go", "--format", "json", check=False)
    assert checked.returncode in (0, 6), checked.stderr
    report = json.loads(checked.stdout)
    return ran, checked.returncode == 0 and bool(report["ok"]), report


def events(stderr: str) -> list[dict[str, object]]:
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def registry_index(ref: str) -> dict[str, object]:
    _, _, rest = ref.partition("/")
    repo, _, tag = rest.partition(":")
    req = urllib.request.Request(
        f"http://127.0.0.1:5000/v2/{repo}/manifests/{tag}",
        headers={"Accept": ", ".join(INDEX_TYPES)},
    )
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)  # type: ignore[no-any-return]


def head_digest(ref: str) -> str | None:
    """The digest REF's tag holds in the registry now, or None (no such tag)."""
    _, _, rest = ref.partition("/")
    repo, _, tag = rest.partition(":")
    req = urllib.request.Request(
        f"http://127.0.0.1:5000/v2/{repo}/manifests/{tag}", method="HEAD", headers={"Accept": ANY_MANIFEST}
    )
    try:
        with urllib.request.urlopen(req) as resp:
            return str(resp.headers["Docker-Content-Digest"])
    except urllib.error.HTTPError:
        return None


@pytest.fixture(scope="session", autouse=True)
def environment() -> None:
    for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"):  # the tests set the CI they mean (log formats follow it)
        os.environ.pop(name, None)
    info = run(["docker", "info", "--format", "{{json .}}"], check=False)
    if info.returncode != 0:
        pytest.fail(f"no Docker engine ({info.stderr.strip()[:200]}): run scripts/setup first")
    try:
        urllib.request.urlopen("http://127.0.0.1:5000/v2/", timeout=5)
    except OSError as exc:
        pytest.fail(f"no registry on 127.0.0.1:5000 ({exc}): run scripts/setup first")


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A fresh repository name in the local registry for this test."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    return f"{REGISTRY}/it-{name}-{uuid.uuid4().hex[:8]}"
