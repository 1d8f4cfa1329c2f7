"""Builder preflight, the per-platform + docker manifest fallback on the classic
engine, the automatic choice, verify-then-promote, and verify catching a planted lie."""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import (
    BASE_IMAGE,
    CLASSIC_HOST,
    FIXTURES,
    GO_IMAGE,
    ROOT,
    buildx_go,
    events,
    push_build,
    registry_index,
    run,
)

pytestmark = pytest.mark.integration
CLASSIC = {"DOCKER_HOST": CLASSIC_HOST}
HELLO = ROOT / "examples" / "hello"
GENERATED = ("--go-image", GO_IMAGE, "--base-image", BASE_IMAGE)


def tag_digest(ref: str) -> str | None:
    """The digest REF's tag points at now, None if the tag does not exist."""
    _, _, rest = ref.partition("/")
    repo, _, tag = rest.partition(":")
    req = urllib.request.Request(
        f"http://127.0.0.1:5000/v2/{repo}/manifests/{tag}",
        method="HEAD",
        headers={
            "Accept": "application/vnd.docker.distribution.manifest.list.v2+json, "
            "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json"
        },
    )
    try:
        with urllib.request.urlopen(req) as resp:
            return str(resp.headers["Docker-Content-Digest"])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def config_platform(repo: str, digest: str) -> str:
    name = repo.partition("/")[2]
    req = urllib.request.Request(
        f"http://127.0.0.1:5000/v2/{name}/manifests/{digest}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(req) as resp:
        manifest = json.load(resp)
    with urllib.request.urlopen(f"http://127.0.0.1:5000/v2/{name}/blobs/{manifest['config']['digest']}") as resp:
        config = json.load(resp)
    return f"{config['os']}/{config['architecture']}"


def test_classic_engine_auto_chooses_manifest_and_publishes_a_correct_list(repo: str, tmp_path: Path) -> None:
    proc = buildx_go(
        "build",
        str(FIXTURES / "recipe"),
        "--image",
        repo,
        "--tag",
        "1.0.0",
        "--push",
        "--latest",
        "--clean-arch-tags",
        env={**CLASSIC, "BUILDX_GO_WORKDIR": str(tmp_path)},
    )
    ev = events(proc.stderr)
    chosen = next(e for e in ev if e["event"] == "plan.chosen")
    assert chosen["strategy"] == "manifest"
    assert "classic image store" in str(chosen["reason"])
    assert "cannot build several platforms in one run" in str(chosen["reason"])
    builds = [e for e in ev if e["event"] == "command.start" and e["argv"][:3] == ["docker", "buildx", "build"]]  # type: ignore[index]
    assert len(builds) == 2
    for b in builds:
        argv = b["argv"]
        assert "--provenance=false" in argv and "--sbom=false" in argv  # type: ignore[operator]
        assert "--no-cache" not in argv  # type: ignore[operator]
        assert argv[argv.index("--file") + 1] == f"{tmp_path}/Dockerfile"  # type: ignore[union-attr,index]
    # Each per-platform build compiles natively: the Go stage runs on $BUILDPLATFORM.
    go_stage = "FROM --platform=$BUILDPLATFORM localhost:5000/golang:1.27 AS builder"
    assert go_stage in (tmp_path / "Dockerfile").read_text()

    index = registry_index(f"{repo}:1.0.0")
    assert index["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    entries = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in index["manifests"]}  # type: ignore[attr-defined]
    assert set(entries) == {"linux/amd64", "linux/arm64"}
    for platform, digest in entries.items():
        assert config_platform(repo, digest) == platform  # the image config agrees with the list
    assert tag_digest(f"{repo}:latest") == tag_digest(f"{repo}:1.0.0")

    # Moving tags came after verification; distribution 2.8 refuses tag deletion, and says so.
    order = [e["event"] for e in ev]
    assert order.index("verify.ok") < order.index("tags.moved")
    kept = [e for e in ev if e["event"] == "tag.kept"]
    assert {e["ref"] for e in kept} == {f"{repo}:1.0.0-amd64", f"{repo}:1.0.0-arm64"}
    assert all("refused (HTTP 400" in str(e["reason"]) for e in kept)

    docker_run = ["docker", "run", "--rm", "--pull", "always", "--network", "none", "--platform", "linux/arm64"]
    out = run([*docker_run, f"{repo}:1.0.0"], env=CLASSIC)
    assert out.stdout.strip() == "server on linux/arm64"


def test_containerd_engine_auto_chooses_one_buildx_run() -> None:
    proc = buildx_go(
        "plan", str(FIXTURES / "recipe"), "--image", "localhost:5000/x", "--tag", "1", "--push", "--format", "json"
    )
    plan = json.loads(proc.stdout)
    assert plan["strategy"] == "buildx"
    assert "containerd image store" in plan["reason"]
    # one build for both platforms, pushed under the staging tag and tagged once verified
    assert [c["purpose"] for c in plan["commands"]] == ["build", "publish localhost:5000/x:1"]
    assert plan["staging"] == "localhost:5000/x:buildx-go-staging"


def test_the_raw_per_architecture_recipe_fails_where_buildx_go_succeeds(repo: str, tmp_path: Path) -> None:
    project = FIXTURES / "recipe"
    # The recipe's commands, plus only what this machine needs: --insecure (a plain-http registry).
    for arch in ("amd64", "arm64"):
        push_build(
            [
                "docker",
                "build",
                "--build-arg",
                f"GOARCH={arch}",
                "-f",
                str(project / "docker" / "Dockerfile"),
                "-t",
                f"{repo}:1.0.0-{arch}",
                "--push",
                str(project),
            ]
        )
    raw = run(
        ["docker", "manifest", "create", "--insecure", f"{repo}:1.0.0", f"{repo}:1.0.0-amd64", f"{repo}:1.0.0-arm64"],
        env={"DOCKER_CONFIG": str(tmp_path)},
        check=False,
    )
    if raw.returncode != 0:
        assert "is a manifest list" in raw.stderr  # buildx's provenance made each push an index
    else:  # an engine without attestations: the list is made, but the arm64 config lies
        assert config_platform(repo, str(tag_digest(f"{repo}:1.0.0-arm64"))) == "linux/amd64"

    proc = buildx_go("build", str(project), "--image", repo, "--tag", "1.1.0", "--push")
    assert any(e["event"] == "verify.ok" for e in events(proc.stderr))
    verified = buildx_go("verify", f"{repo}:1.1.0")
    assert "linux/arm64: config linux/arm64" in verified.stdout


@pytest.mark.parametrize("engine", ["classic", "containerd"])
def test_one_platform_failing_leaves_version_and_latest_untouched(repo: str, engine: str, tmp_path: Path) -> None:
    env = (CLASSIC if engine == "classic" else {}) | {"TMPDIR": str(tmp_path)}
    buildx_go("build", str(HELLO), *GENERATED, "--image", repo, "--tag", "2.0.0", "--push", "--latest", env=env)
    assert not list(tmp_path.glob("buildx-go-*"))  # a successful run leaves no workdir behind
    before = {t: tag_digest(f"{repo}:{t}") for t in ("2.0.0", "latest", "2.1.0")}
    assert before["2.0.0"] and before["latest"] == before["2.0.0"] and before["2.1.0"] is None

    for tag in ("2.0.0", "2.1.0"):
        proc = buildx_go(
            "build",
            str(FIXTURES / "broken-arm64"),
            *GENERATED,
            "--image",
            repo,
            "--tag",
            tag,
            "--push",
            "--latest",
            env=env,
            check=False,
        )
        assert proc.returncode == 4, proc.stderr[-2000:]
        assert "undefinedOnArm64" in proc.stderr
        assert not any(e["event"] in ("tags.moved", "image.pushed") for e in events(proc.stderr))
    after = {t: tag_digest(f"{repo}:{t}") for t in ("2.0.0", "latest", "2.1.0")}
    assert after == before
    kept = list(tmp_path.glob("buildx-go-*/Dockerfile"))  # failed runs keep theirs, to look into
    assert len(kept) == 2
    if engine == "classic":  # what the failed run left behind is named
        assert f"left behind: {repo}:2.1.0-amd64@sha256:" in proc.stderr
        assert f"{repo}:2.1.0, {repo}:latest untouched" in proc.stderr


def test_verify_catches_an_amd64_binary_labelled_arm64(repo: str) -> None:
    push_build(
        [
            "docker",
            "buildx",
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "--network",
            "host",
            "--output",
            "type=registry",
            "-t",
            f"{repo}:lie",
            str(FIXTURES / "liar"),
        ]
    )
    proc = buildx_go("verify", f"{repo}:lie", check=False)
    assert proc.returncode == 6
    assert "linux/arm64: binary is ELF 64-bit LSB x86-64" in proc.stderr
    assert "expected aarch64 64-bit" in proc.stderr
    assert "linux/amd64: " not in proc.stderr.split("ERROR", 1)[1]  # only the lie is reported


def test_doctor_reports_both_engines() -> None:
    main = json.loads(buildx_go("doctor", "--format", "json", "--image", "localhost:5000/x").stdout)
    assert main["engine"]["containerd_store"] is True and main["multi_platform"] is True
    assert main["strategy"].startswith("buildx")
    assert main["registry"] == "localhost:5000: plain http (loopback)"
    classic = buildx_go("doctor", env=CLASSIC).stdout
    assert "classic image store (overlay2)" in classic
    assert re.search(r"^strategy +manifest -> builder 'default' uses the docker driver", classic, re.M)


def test_doctor_with_the_engine_stopped_exits_3(tmp_path: Path) -> None:
    sock = f"unix://{tmp_path}/stopped.sock"
    proc = buildx_go("doctor", env={"DOCKER_HOST": sock}, check=False)
    assert proc.returncode == 3
    assert f"MISSING: not reachable at {sock}" in proc.stdout
    assert "ERROR doctor: engine: not reachable" in proc.stderr
    build = buildx_go(
        "build", str(HELLO), "--image", "localhost:5000/x", "--tag", "1", env={"DOCKER_HOST": sock}, check=False
    )
    assert build.returncode == 3 and "engine: not reachable" in build.stderr


def test_doctor_without_buildx_exits_3() -> None:
    info = json.loads(run(["docker", "info", "--format", "{{json .ClientInfo.Plugins}}"]).stdout)
    plugin_dir = str(Path(next(p["Path"] for p in info if p["Name"] == "buildx")).parent)
    # In a private mount namespace, hide the plugin directory behind an empty tmpfs.
    hide_then_run = (
        "import os, subprocess, sys; "
        "subprocess.run(['mount', '-t', 'tmpfs', 'none', sys.argv[1]], check=True); "
        "os.execv(sys.executable, [sys.executable, '-m', 'buildx_go', 'doctor'])"
    )
    proc = run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", hide_then_run, plugin_dir],
        env={"BUILDX_GO_LOG_FORMAT": "json", "PYTHONPATH": str(ROOT)},
        check=False,
        cwd=str(ROOT),
    )
    assert proc.returncode == 3, proc.stderr
    assert re.search(r"^buildx +MISSING: the docker buildx plugin is missing", proc.stdout, re.M)
    assert os.path.exists(f"{plugin_dir}/docker-buildx")  # only hidden in that namespace


def test_create_builder_that_cannot_bootstrap_is_exit_3_and_leaves_nothing() -> None:
    name = "buildx-go-it-unbootable"
    proc = buildx_go(
        "doctor",
        "--create-builder",
        "--builder",
        name,
        "--builder-image",
        "localhost:5000/buildkit:absent",
        "--image",
        "localhost:5000/x",
        check=False,
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert f"could not bootstrap builder '{name}' from image localhost:5000/buildkit:absent" in proc.stderr
    assert name not in run(["docker", "buildx", "ls"]).stdout
