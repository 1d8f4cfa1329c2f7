"""Every Dockerfile style in ONE buildx run, Go compiled natively, tags and lints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, FIXTURES, GO_IMAGE, ROOT, buildx_go, events, registry_index, run

pytestmark = pytest.mark.integration
HELLO = ROOT / "examples" / "hello"


def started(proc_stderr: str) -> list[dict[str, object]]:
    """Every command a run started."""
    return [e for e in events(proc_stderr) if e["event"] == "command.start"]


def built(proc_stderr: str) -> list[dict[str, object]]:
    """The build commands a run started (buildx-go writes the tags itself: no command)."""
    return [e for e in started(proc_stderr) if e["argv"][:3] == ["docker", "buildx", "build"]]  # type: ignore[index]


@pytest.mark.parametrize(
    ("fixture", "stage", "source"), [("recipe", "builder", "adapted"), ("buildx-style", "build", "user")]
)
def test_user_dockerfiles_cross_compile_in_one_run(repo: str, fixture: str, stage: str, source: str) -> None:
    proc = buildx_go(
        "build", str(FIXTURES / fixture), "--image", repo, "--tag", "1.0.0", "--push", "--progress", "plain"
    )
    starts = built(proc.stderr)
    # ONE buildx invocation (repeated only if the registry answered 500, see run.py's build.retry)
    assert starts[0]["argv"][:3] == ["docker", "buildx", "build"]  # type: ignore[index]
    assert all(s["argv"] == starts[0]["argv"] for s in starts)
    chosen = next(e for e in events(proc.stderr) if e["event"] == "dockerfile.chosen")
    assert chosen["source"] == source
    # The arm64 go build ran on the amd64 build platform (BuildKit labels it amd64->arm64),
    # never as an emulated linux/arm64 step.
    assert f"[linux/amd64->arm64 {stage} " in proc.stderr
    assert f"[linux/arm64 {stage} " not in proc.stderr
    # BuildKit pushed the index once; buildx did not push it all again through the engine
    # (under the staging tag: the docker driver cannot push by digest; the version tag is
    # written once the index is verified)
    assert f"pushing manifest for {repo}:buildx-go-staging@" in proc.stderr
    assert "with docker" not in proc.stderr
    # verification began on that line, while buildx was still finishing (run/early.py)
    (ok,) = [e for e in events(proc.stderr) if e["event"] == "verify.ok"]
    assert ok["overlapped"] is True
    # and did not unpack it into the engine's image store too (store=false): it is pulled below
    assert run(["docker", "image", "inspect", f"{repo}:1.0.0"], check=False).returncode != 0
    out = run(
        ["docker", "run", "--rm", "--pull", "always", "--network", "none", "--platform", "linux/arm64", f"{repo}:1.0.0"]
    )
    assert out.stdout.strip() == "server on linux/arm64"


def test_recipe_without_adaptation_is_flagged() -> None:
    proc = buildx_go(
        "plan", str(FIXTURES / "recipe"), "--image", "localhost:5000/x", "--tag", "1", "--no-adapt", "--format", "json"
    )
    plan = json.loads(proc.stdout)
    assert plan["dockerfile"]["source"] == "user"
    # the Go stage runs on the target platform: under QEMU, but GOARCH (unset) comes from the
    # platform, so the binaries are right and goarch-unset stays quiet
    assert any(n.startswith("go-stage-emulated:") for n in plan["notes"])
    assert not any(n.startswith("goarch-unset:") for n in plan["notes"])
    lints = [e["code"] for e in events(proc.stderr) if e["event"] == "dockerfile.lint"]
    assert "go-stage-emulated" in lints


def test_four_platforms_each_binary_right(repo: str) -> None:
    platforms = "linux/amd64,linux/arm64,linux/arm/v7,linux/386"
    built_quietly = buildx_go(
        "build",
        str(HELLO),
        "--image",
        repo,
        "--tag",
        "2.0.0",
        "--platform",
        platforms,
        "--go-image",
        GO_IMAGE,
        "--base-image",
        BASE_IMAGE,
        "--push",
        "--progress",
        "quiet",
    )
    # buildx's output, kept rather than shown, still starts verification as the index is pushed
    assert next(e for e in events(built_quietly.stderr) if e["event"] == "verify.ok")["overlapped"] is True
    report = json.loads(buildx_go("verify", f"{repo}:2.0.0", "--platform", platforms, "--format", "json").stdout)
    assert report["ok"] is True
    facts = {img["platform"]: img["facts"] for img in report["images"]}
    assert set(facts) == set(platforms.split(","))
    assert facts["linux/amd64"].startswith("ELF 64-bit LSB x86-64")
    assert facts["linux/arm64"].startswith("ELF 64-bit LSB aarch64")
    assert facts["linux/arm/v7"].startswith("ELF 32-bit LSB arm EABI5 hard-float")
    assert "GOARM=7" in facts["linux/arm/v7"]
    assert facts["linux/386"].startswith("ELF 32-bit LSB i386")


def test_latest_and_floating_move_only_forward(repo: str) -> None:
    args = [
        "--go-image",
        GO_IMAGE,
        "--base-image",
        BASE_IMAGE,
        "--push",
        "--progress",
        "quiet",
        "--latest",
        "--floating",
    ]
    first = buildx_go("build", str(HELLO), "--image", repo, "--tag", "1.2.0", *args, "--output-format", "json")
    summary = json.loads(first.stdout)
    assert summary["moved_tags"] == ["1", "1.2", "latest"]
    digest = summary["digest"]
    written = [e for e in events(first.stderr) if e["event"] == "tags.written"]
    assert [e["purpose"] for e in written if str(e["purpose"]).startswith("promote")] == [
        "promote 1",
        "promote 1.2",
        "promote latest",
    ]
    for tag in ("1", "1.2", "latest"):
        assert registry_index(f"{repo}:{tag}")["manifests"] == registry_index(f"{repo}:1.2.0")["manifests"]

    older = buildx_go(
        "build",
        str(HELLO),
        "--image",
        repo,
        "--tag",
        "1.1.5",
        *args,
        "--output-format",
        "json",
        "--version-var",
        "main.version",
    )
    # 1.1.5 is the newest 1.1.x, so `1.1` appears; `1`, `1.2` and `latest` stay on 1.2.0.
    assert json.loads(older.stdout)["moved_tags"] == ["1.1"]
    for tag in ("1", "1.2", "latest"):
        assert registry_index(f"{repo}:{tag}") == registry_index(f"{repo}:1.2.0")
    assert digest != json.loads(older.stdout)["digest"]


def test_without_a_tag_a_git_that_gives_no_answer_is_named(tmp_path: Path) -> None:
    """No --tag: the version comes from `git describe`; a git that cannot run (or does not
    finish within 10 s) is named as the reason, not "tag the git commit"."""
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_bytes(b"\x00not a program\n")
    fake.chmod(0o755)
    # the only git on PATH cannot run (the refusal comes before any docker call: none is needed)
    proc = buildx_go("plan", str(HELLO), "--image", "localhost:5000/x", env={"PATH": str(fake.parent)}, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = next(line for line in proc.stderr.splitlines() if line.startswith("ERROR "))
    assert error == (
        "ERROR --tag: no tag given and none could be derived (git could not run, or did not finish within 10 s)"
    )


def test_version_from_command_names_the_tag() -> None:
    proc = buildx_go(
        "plan", str(HELLO), "--image", "localhost:5000/x", "--version-from", "echo v3.4.5", "--format", "json"
    )
    assert json.loads(proc.stdout)["refs"] == ["localhost:5000/x:3.4.5"]
    bad = buildx_go("plan", str(HELLO), "--image", "localhost:5000/x", "--version-from", "false", check=False)
    assert bad.returncode == 2 and "ERROR --version-from: 'false' exited 1" in bad.stderr
