"""Builders with several BuildKit nodes. docker-container nodes on two engines (two
docker contexts), remote buildkitd nodes on loopback (one with TLS), --create-builder for
real, which node built which platform (read from each node's own BuildKit history), a node
lost mid-build."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, GO_IMAGE, ROOT, buildx_go, events, head_digest, run
from tests.integration.lab import CACHE, Buildkitd

pytestmark = pytest.mark.integration
HELLO = ROOT / "examples" / "hello"
GENERATED = ("--go-image", GO_IMAGE, "--base-image", BASE_IMAGE)
BUILDKIT_IMAGE = "localhost:5000/buildkit:v0.32.2"  # scripts/setup --lab makes it
CLASSIC = "unix:///var/run/buildx-go-classic.sock"


def built_platforms(node: str, docker_host: str | None = None) -> set[str]:
    """The platforms NODE's own BuildKit built (its build history: each request's platform)."""
    env = {"DOCKER_HOST": docker_host} if docker_host else {}
    argv = ["docker", "exec", f"buildx_buildkit_{node}", "buildctl", "debug", "histories", "--format", "{{json .}}"]
    out = run(argv, env=env).stdout
    found = set()
    for line in out.splitlines():
        attrs = json.loads(line).get("record", {}).get("FrontendAttrs", {})
        found |= set(filter(None, attrs.get("platform", "").split(",")))
    return found


@pytest.fixture(scope="module")
def classic_context() -> str:
    name = "bxg-it-classic"
    if run(["docker", "context", "inspect", name], check=False).returncode != 0:
        run(["docker", "context", "create", name, "--docker", f"host={CLASSIC}"])
    return name


def test_a_two_node_docker_container_builder_puts_each_platform_on_its_node(classic_context: str, repo: str) -> None:
    name = "bxg-it-two-engines"
    run(["docker", "buildx", "rm", "--keep-state", name], check=False)  # created below, its cache kept
    create = ("--create-builder", "--builder", name, "--builder-image", BUILDKIT_IMAGE)
    nodes = ("--node", "default=linux/amd64", "--node", f"{classic_context}=linux/arm64")
    args = ("--image", repo, "--push", *GENERATED, *create, *nodes, "--progress", "plain")
    try:
        plan = json.loads(buildx_go("plan", str(HELLO), *args, "--tag", "1.0.0", "--format", "json").stdout)
        assert [c["phase"] for c in plan["commands"][:3]] == ["setup", "setup", "setup"]
        assert {p["platform"]: p["node"] for p in plan["placement"]} == {
            "linux/amd64": f"{name}0",
            "linux/arm64": f"{name}1",
        }
        proc = buildx_go("build", str(HELLO), *args, "--tag", "1.0.0")
        assert any(e["event"] == "builder.created" for e in events(proc.stderr))
        # verified after the build: buildx merges the nodes' indexes into the one it records
        assert "overlapped" not in next(e for e in events(proc.stderr) if e["event"] == "verify.ok")
        assert built_platforms(f"{name}0") == {"linux/amd64"}  # the main engine's node
        assert built_platforms(f"{name}1", CLASSIC) == {"linux/arm64"}  # the classic engine's node
        for platform in ("linux/amd64", "linux/arm64"):
            ref = f"{repo}:1.0.0"
            out = run(["docker", "run", "--rm", "--pull", "always", "--network", "none", "--platform", platform, ref])
            assert out.stdout.startswith(f"hello from {platform}")
        # a rerun reuses the builder; other nodes asked for under its name are an error
        again = buildx_go("build", str(HELLO), *args, "--tag", "1.0.1")
        assert any(e["event"] == "builder.exists" for e in events(again.stderr))
        other = buildx_go("plan", str(HELLO), *args[:-4], "--node", "default=linux/amd64", "--tag", "1", check=False)
        assert other.returncode == 2
        assert f"ERROR --create-builder: builder '{name}' exists as docker-container with nodes" in other.stderr
    finally:
        run(["docker", "buildx", "rm", "--keep-state", name], check=False)


def test_create_builder_with_one_local_node_then_build(repo: str) -> None:
    name = "bxg-it-created"
    run(["docker", "buildx", "rm", "--keep-state", name], check=False)
    try:
        args = ("--image", repo, "--tag", "1.0.0", "--push", *GENERATED, "--create-builder", "--builder", name)
        proc = buildx_go("build", str(HELLO), *args, "--builder-image", BUILDKIT_IMAGE)
        starts = [e["argv"][:4] for e in events(proc.stderr) if e["event"] == "command.start"]
        assert starts[0] == ["docker", "buildx", "create", "--name"] and starts[1][:3] == ["docker", "buildx", "build"]
        assert json.loads(buildx_go("verify", f"{repo}:1.0.0", "--format", "json").stdout)["ok"]
        doctor = json.loads(buildx_go("doctor", "--builder", name, "--format", "json").stdout)
        (node,) = next(b for b in doctor["builders"] if b["name"] == name)["nodes"]
        assert node["status"] == "running" and node["buildkit"] == "v0.32.2"
    finally:
        run(["docker", "buildx", "rm", "--keep-state", name], check=False)


@pytest.fixture
def two_daemons(tmp_path: Path) -> Buildkitd:
    """Node A: plain tcp, its state kept between runs; node B is made by each test."""
    a = Buildkitd(tmp_path / "a", ["localhost:5000"])
    yield a
    a.stop()


def test_a_two_node_remote_builder_with_tls_builds_and_verifies(
    two_daemons: Buildkitd, tmp_path: Path, repo: str
) -> None:
    b = Buildkitd(tmp_path / "b", ["localhost:5000"], state=CACHE / "buildkitd-test-state-tls", tls=True)
    name = "bxg-it-remote-tls"
    run(["docker", "buildx", "rm", name], check=False)
    try:
        nodes = ("--node", two_daemons.node("linux/amd64"), "--node", b.node("linux/arm64"))
        args = ("--image", repo, "--tag", "2.0.0", "--push", *GENERATED, "--create-builder", "--builder", name, *nodes)
        buildx_go("build", str(HELLO), *args)
        doctor = json.loads(buildx_go("doctor", "--builder", name, "--format", "json").stdout)
        nodes_seen = {n["name"]: n for n in next(x for x in doctor["builders"] if x["name"] == name)["nodes"]}
        assert nodes_seen[f"{name}1"]["declared"] == ["linux/arm64"] and nodes_seen[f"{name}1"]["status"] == "running"
        assert {p["platform"]: p["node"] for p in doctor["placement"]} == {
            "linux/amd64": f"{name}0",
            "linux/arm64": f"{name}1",
        }
        assert json.loads(buildx_go("verify", f"{repo}:2.0.0", "--format", "json").stdout)["ok"]
        assert b.built_platforms() == {"linux/arm64"}  # from the TLS node's own history
        assert "linux/amd64" in two_daemons.built_platforms()
    finally:
        run(["docker", "buildx", "rm", name], check=False)
        b.stop()


def interrupted_build(
    argv: list[str], seen: Callable[[str], bool], wait: float, act: Callable[[], None]
) -> tuple[int, str]:
    """Run the build ARGV (plain progress, JSON events); once a line of its output is SEEN
    (or after WAIT seconds), ACT (take something away from it); its exit code and stderr."""
    env = {**os.environ, "BUILDX_GO_LOG_FORMAT": "json", "BUILDX_GO_PROGRESS": "plain"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + wait
    while not any(seen(ln) for ln in lines) and time.monotonic() < deadline:
        time.sleep(0.2)
    act()
    proc.wait(timeout=300)
    reader.join(timeout=10)
    return proc.returncode, "".join(lines)


def test_a_node_lost_mid_build_is_exit_4_naming_it_and_nothing_is_tagged(
    two_daemons: Buildkitd, tmp_path: Path, repo: str
) -> None:
    b = Buildkitd(tmp_path / "b", ["localhost:5000"], state=tmp_path / "fresh-state")  # cold: compiles for long
    name = "bxg-it-remote-lost"
    run(["docker", "buildx", "rm", name], check=False)
    try:
        nodes = ("--node", two_daemons.node("linux/amd64"), "--node", b.node("linux/arm64"))
        args = ["--image", repo, "--tag", "3.0.0", "--push", "--latest", *GENERATED, "--create-builder"]
        argv = [sys.executable, "-m", "buildx_go", "build", str(HELLO), *args, "--builder", name, *nodes]
        # once node B compiles the arm64 binary (cold: for a while), it is killed
        code, err = interrupted_build(
            argv, lambda ln: "->arm64 build 6/6] RUN" in ln, 120, lambda: (time.sleep(2), b.kill())
        )
        assert code == 4, err[-3000:]
        assert f"ERROR builder node '{name}1' ({b.endpoint}, now inactive) was lost during the build" in err
        assert head_digest(f"{repo}:3.0.0") is None and head_digest(f"{repo}:latest") is None
    finally:
        run(["docker", "buildx", "rm", name], check=False)
        b.stop()


def test_a_builder_container_removed_mid_build_is_exit_4_naming_its_node(tmp_path: Path, repo: str) -> None:
    """A one-node docker-container builder whose container is removed during the build (as
    `docker rm -f` or a cleanup job does): buildx says only `EOF`; buildx-go names the node."""
    name = "bxg-it-removed"
    run(["docker", "buildx", "rm", name], check=False)
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    (project / "main.go").write_text((project / "main.go").read_text() + "\n// removed mid-build\n")
    try:
        args = ["--image", repo, "--tag", "4.0.0", "--push", *GENERATED, "--create-builder", "--builder", name]
        args += ["--builder-image", BUILDKIT_IMAGE]
        argv = [sys.executable, "-m", "buildx_go", "build", str(project), *args]
        # once the Go stage compiles, the builder's container is removed
        code, err = interrupted_build(
            argv,
            lambda ln: "go build" in ln and "RUN" in ln,
            180,
            lambda: run(["docker", "rm", "-f", f"buildx_buildkit_{name}0"]),
        )
        assert code == 4, err[-3000:]
        assert re.search(rf"ERROR builder node '{name}0' \(\S+, now \w+\) was lost during the build", err), err[-3000:]
        assert head_digest(f"{repo}:4.0.0") is None
    finally:
        run(["docker", "buildx", "rm", name], check=False)


def test_a_node_down_before_the_build_is_exit_3_naming_it_and_nothing_runs(
    two_daemons: Buildkitd, tmp_path: Path, repo: str
) -> None:
    b = Buildkitd(tmp_path / "b", ["localhost:5000"], state=tmp_path / "state")
    name = "bxg-it-remote-down"
    run(["docker", "buildx", "rm", name], check=False)
    try:
        create = ["docker", "buildx", "create", "--name", name, "--driver", "remote"]
        run([*create, "--platform", "linux/amd64", two_daemons.endpoint])
        run([*create, "--append", "--platform", "linux/arm64", b.endpoint])
        b.stop()  # the arm64 machine is off
        args = ("--image", repo, "--tag", "4.0.0", "--push", *GENERATED, "--builder", name)
        proc = buildx_go("build", str(HELLO), *args, check=False)
        assert proc.returncode == 3, proc.stderr[-2000:]
        assert f"builder: '{name}': node '{name}1' ({b.endpoint}) is inactive" in proc.stderr
        assert not [e for e in events(proc.stderr) if e["event"] == "command.start" and "build" in e["argv"][:3]]
        assert head_digest(f"{repo}:4.0.0") is None
    finally:
        run(["docker", "buildx", "rm", name], check=False)
        b.stop()
