"""One error table: registry faults (500s, resets, stalls) injected by a proxy on
loopback (tests/faultproxy.py) in front of the lab's registry, on BuildKit's pushes, the
docker CLI's and buildx-go's own reads, in both strategies: each ends with its documented
exit code (5), one line naming what happened and what is published, and no tag moved."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faultproxy import FaultProxy
from tests.integration.conftest import BASE_IMAGE, CLASSIC_HOST, GO_IMAGE, ROOT, buildx_go, head_digest
from tests.integration.lab import RemoteBuilder

pytestmark = pytest.mark.integration
HELLO = str(ROOT / "examples" / "hello")
GENERATED = ("--go-image", GO_IMAGE, "--base-image", BASE_IMAGE)
CLASSIC = {"DOCKER_HOST": CLASSIC_HOST}
OURS = "Python-urllib"  # buildx-go's registry reads
ARCH_PUT, LIST_PUT = r"/manifests/1\.0\.0-arm64$", r"/manifests/1\.0\.0$"


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    with FaultProxy(stall=60) as p:
        yield p


def release(proxy: FaultProxy, cache: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[Any, str, float]:
    """buildx-go build --push --latest through PROXY, verification's cache empty (CACHE): it
    reads every blob, as on a fresh machine."""
    repo = f"{proxy.host}/faults-{uuid.uuid4().hex[:10]}"
    t0 = time.monotonic()
    args = (HELLO, "--image", repo, "--tag", "1.0.0", "--push", "--latest", *GENERATED, *extra)
    proc = buildx_go("build", *args, env={**(env or {}), "XDG_CACHE_HOME": str(cache)}, check=False)
    return proc, repo.split("/", 1)[1], time.monotonic() - t0


def published(name: str, *tags: str) -> list[str]:
    """Which of TAGS exist (read from the registry itself, not through the proxy)."""
    return [t for t in tags if head_digest(f"localhost:5000/{name}:{t}")]


CASES = [
    # (name, builder env, fault, expected message part, tags that must not exist)
    ("buildkit-push-500", {}, ("500", "PUT", "/manifests/", ""), "the registry localhost:", ("1.0.0", "latest")),
    ("verify-read-500", {}, ("500", "GET", "/blobs/", OURS), "no tag was written", ("1.0.0", "latest")),
    ("verify-read-reset", {}, ("reset", "GET", "/manifests/sha256", OURS), "no tag was written", ("1.0.0", "latest")),
    ("publish-tag-500", {}, ("500", "PUT", LIST_PUT, OURS), "HTTP 500 on PUT faults-", ("1.0.0", "latest")),
    (
        "fallback-arch-push-500",
        CLASSIC,
        ("500", "PUT", r"/manifests/1\.0\.0-arm64$", ""),
        "the registry localhost:",
        ("1.0.0",),
    ),
    ("fallback-list-push-500", CLASSIC, ("500", "PUT", r"/manifests/1\.0\.0$", ""), "the registry failed", ("1.0.0",)),
    ("fallback-verify-reset", CLASSIC, ("reset", "GET", "/blobs/", OURS), "no manifest list was created", ("1.0.0",)),
]


@pytest.mark.parametrize(("name", "env", "fault", "said", "absent"), CASES, ids=[c[0] for c in CASES])
def test_registry_faults_are_exit_5_and_move_nothing(
    proxy: FaultProxy,
    tmp_path: Path,
    name: str,
    env: dict[str, str],
    fault: tuple[str, str, str, str],
    said: str,
    absent: tuple[str],
) -> None:
    kind, method, path, agent = fault
    proxy.add(kind, method=method, path=path, agent=agent)  # type: ignore[arg-type]
    proc, repo, _ = release(proxy, tmp_path, env=env)
    assert proc.returncode == 5, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR ")]
    assert len(errors) == 1 and said in errors[0], errors
    assert "Traceback" not in proc.stderr
    assert any(entry[3] == kind for entry in proxy.log), "the fault never hit"
    assert published(repo, *absent, "latest") == []


def test_a_stalled_registry_read_ends_within_the_registry_timeout(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.add("stall", method="GET", path="/manifests/sha256", agent=OURS)
    proc, repo, seconds = release(proxy, tmp_path, "--registry-timeout", "1")
    assert proc.returncode == 5, proc.stderr[-3000:]
    assert "cannot reach the registry (TimeoutError" in proc.stderr or "timed out" in proc.stderr
    assert seconds < 30, seconds  # 4 tries of 1 s, backoff 3.5 s, plus the build
    assert published(repo, "latest") == []


def test_pushed_by_digest_a_failed_verification_read_leaves_no_tag(proxy: FaultProxy, tmp_path: Path) -> None:
    builder = RemoteBuilder(tmp_path / "bk", "bxg-it-faults", {}, ["localhost:5000", proxy.host])
    try:
        proxy.add("500", method="GET", path="/blobs/", agent=OURS)
        proc, repo, _ = release(proxy, tmp_path / "cache", "--builder", builder.name)
        assert proc.returncode == 5, proc.stderr[-3000:]
        assert "no tag was written" in proc.stderr
        assert published(repo, "1.0.0", "latest") == []
    finally:
        builder.stop()


def test_a_manifest_refused_beside_a_push_of_a_shared_layer_is_pushed_again(proxy: FaultProxy, tmp_path: Path) -> None:
    """The manifest strategy's builds push side by side into one repository, and the lab's base
    has one layer for every platform: the registry once refused a manifest PUT with 400 "blob
    unknown" while the other build pushed that layer (CI, containerd-store engine). Injected
    here on the arm64 manifest's first PUT: that push alone is run again, and the release
    completes, verified."""
    proxy.add("400", method="PUT", path=ARCH_PUT, times=1)
    proc, repo, _ = release(proxy, tmp_path, "--strategy", "manifest", env={"BUILDX_GO_LOG_FORMAT": "json"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    (retry,) = [e for e in events if e["event"] == "build.retry"]
    assert retry["purpose"] == "build linux/arm64" and "400 Bad Request" in retry["reason"], retry
    puts = [entry[3] for entry in proxy.log if entry[0] == "PUT" and re.search(ARCH_PUT, entry[1])]
    assert puts == ["400", "passed"]
    assert any(e["event"] == "images.verified" for e in events)
    assert published(repo, "1.0.0", "latest") == ["1.0.0", "latest"]
